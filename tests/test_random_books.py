"""A random run of 500 billing operations (CAD and USD): after every one, `otb aging --json` plus the drafts equals
Beancount's receivable and deposit balances for every client, and no command fails with an internal error
(tests/random_books.py)."""

from __future__ import annotations

from random_books import report, run


def test_500_random_operations_reconcile_with_beancount_at_every_step():
    figures = run(500, seed=11)
    print(report(figures))
    assert not figures.internal_errors, report(figures)
    assert not figures.mismatches, report(figures)
    assert figures.steps == 500 and figures.checks >= 600
    assert figures.kept_checks >= 800  # the stored book, on the day after everything and on the last record's day
    assert figures.kept_records >= 400  # the records the check of otb's last change kept
    for operation in ("bill", "finalize", "pay", "pay-invoice", "credit", "reverse", "import", "adjust"):
        assert figures.operations[operation] > 0, (operation, figures.operations)


def test_random_operations_in_the_books_currency_alone_take_the_kept_records_and_still_reconcile():
    """With no client in USD, payments and bank imports allocate from the records otb's last change kept instead
    of loading the ledger (jobs/ledger_edit._kept_records); the ledger they write must reconcile all the same."""
    figures = run(150, seed=23, cad_only=True)
    print(report(figures))
    assert not figures.internal_errors, report(figures)
    assert not figures.mismatches, report(figures)
    assert figures.served >= 40, report(figures)
