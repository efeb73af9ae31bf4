"""Every command that changes the ledger, killed (SIGKILL) before each of its durable writes and at random moments,
then run again: the books end exactly as an uninterrupted run leaves them (tests/fault_injection.py)."""

from __future__ import annotations

from fault_injection import report, run_all


def test_kills_at_every_write_and_at_random_leave_the_books_as_an_uninterrupted_run():
    figures = run_all(randoms_per_scenario=18, seed=7)
    print(report(figures))
    assert not figures.failures, report(figures)
    assert figures.kills >= 400, report(figures)
    # at_points: every durable write of each scenario; a new build/MONTH is one rename, not one per file (197)
    assert figures.at_points >= 190 and figures.at_random >= 150
    assert figures.completed > 0 and figures.undone > 0  # kills landed on both sides of the commit point
    assert set(figures.points) >= {"bill", "finalize", "pay", "pay-usd", "pay-new-year", "reverse", "credit",
                                   "import-payments", "adjust", "email"}
