"""pipeline.bill_beside: many clients are billed by two processes at once, with the same bill as one process."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import Repo

from otb_billing.core import billing
from otb_billing.core.errors import InputErrors
from otb_billing.core.month import Month
from otb_billing.jobs import bill as bill_job
from otb_billing.jobs import pipeline

ASSETS = "account,asset_id,hostname,type,backup_tb"


def _six_clients(root) -> Repo:
    """Six clients, an unknown account's rows (a warning) and, with `bad`, unknown asset types on both sides of
    the cut (A2 billed here, A5 by the child: errors)."""
    repo = Repo(root)
    for n in range(1, 7):
        repo.client(f"A{n}", name=f"Client {n}", province=["ON", "QC", "BC"][n % 3])
    users = [f"A{n},A{n}-u{i},User {i},u{i}@x.example,true" for n in range(1, 7) for i in range(1, n + 2)]
    repo.csv("2024-10", "users.csv", "account,user_id,name,email,active", *users, "Z9,z-u1,Nobody,z@x.example,true")
    assets = [f"A{n},A{n}-d{i},PC{i},{['laptop', 'server', 'vm'][i % 3]},0.5" for n in range(1, 7) for i in range(n)]
    repo.csv("2024-10", "assets.csv", ASSETS, *assets)
    return repo


def _billed(repo: Repo, monkeypatch, split: bool, *args: str):
    monkeypatch.setattr(pipeline, "SPLIT_ABOVE", 1 if split else 10**9)
    result = repo.run("bill", "2024-10", "--no-pdf", *args)
    return result.exit_code, result.output, repo.snapshot()


@pytest.mark.parametrize("together", [1, 20])  # the child's invoices in a pickle each, or all in one
def test_a_bill_made_by_two_processes_is_byte_for_byte_the_bill_of_one(tmp_path, monkeypatch, together):
    monkeypatch.setattr(pipeline, "PICKLED_TOGETHER", together)
    one = _six_clients(tmp_path / "one")
    two = _six_clients(tmp_path / "two")
    log = tmp_path / "billed"
    real = billing.bill_month

    def logged(*args, **kwargs):  # who billed which accounts
        with log.open("a") as out:
            out.write(f"{os.getpid()} {','.join(sorted(args[4]))}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "bill_month", logged)
    alone = _billed(one, monkeypatch, split=False)
    log.unlink()
    beside = _billed(two, monkeypatch, split=True)
    assert alone[0] == beside[0] == 0, beside[1]
    assert alone[1] == beside[1]  # the table, the unknown account's warning once
    assert beside[1].count("'Z9'") == 1
    assert alone[2] == beside[2]  # every file: ledger, CSVs, ZIP, QuickBooks
    billed = dict(reversed(line.split()) for line in log.read_text().splitlines())  # accounts -> pid
    assert bill_job.LedgerText().here(6) == bill_job.WITH_OUTPUTS_HERE == 0.72  # cut at int(6 x 0.72) = 4
    assert billed == {"A1,A2,A3,A4": str(os.getpid()), "A5,A6": billed["A5,A6"]}
    assert billed["A5,A6"] != str(os.getpid())  # the later clients: in the child


def test_problems_found_on_both_sides_of_the_cut_are_reported_together_in_client_order(tmp_path, monkeypatch):
    outcomes = []
    for split in (False, True):
        repo = _six_clients(tmp_path / str(split))
        repo.csv("2024-10", "assets.csv", ASSETS, "A2,x1,Odd,toaster,0", "A5,x2,Odder,kettle,0")
        outcomes.append(_billed(repo, monkeypatch, split))
    (code_one, out_one, _), (code_two, out_two, files) = outcomes
    assert code_one == code_two == 1
    assert out_one == out_two and out_two.index("toaster") < out_two.index("kettle")
    assert not any(name.startswith(("ledger/", "build/")) for name in files)  # nothing written


def test_a_lost_billing_child_s_clients_are_billed_here_from_their_rows_read_again(tmp_path, monkeypatch):
    one = _six_clients(tmp_path / "one")
    two = _six_clients(tmp_path / "two")
    alone = _billed(one, monkeypatch, split=False)
    parent = os.getpid()
    real_make = bill_job.LedgerText.make
    monkeypatch.setattr(bill_job.LedgerText, "make", lambda self, config, invoices: (
        os._exit(3) if os.getpid() != parent else real_make(self, config, invoices)))
    reads = []
    real_again = pipeline._rows_again
    monkeypatch.setattr(pipeline, "_rows_again", lambda *args: reads.append(1) or real_again(*args))
    lost = _billed(two, monkeypatch, split=True)
    assert reads == [1]  # the child was lost, and only then were the rows read again
    assert lost[0] == 0 and lost[1] == alone[1] and lost[2] == alone[2]


def test_rows_read_again_must_come_from_the_files_read_the_first_time(tmp_path):
    repo = _six_clients(tmp_path / "repo")
    from otb_billing.readers.config import read_config

    config = read_config(repo.root)
    month = Month(2024, 10)
    before = pipeline.exports_fingerprint(repo.root, month)
    assert set(pipeline._rows_again(repo.root, month, config, before)) == {f"A{n}" for n in range(1, 7)} | {"Z9"}
    users = repo.root / "exports" / "2024-10" / "users.csv"
    users.write_text(users.read_text() + "A1,A1-u9,Late,l@x.example,true\n")
    with pytest.raises(InputErrors) as raised:
        pipeline._rows_again(repo.root, month, config, before)
    assert "the exports changed while they were being billed" in str(raised.value)
    shutil.rmtree(repo.root / "exports" / "2024-10")
    assert pipeline.exports_fingerprint(repo.root, month) == []


def test_ledger_text_gives_the_child_s_text_to_that_invoice_object_once_and_sums_others_postings_once(
        tmp_path, monkeypatch):
    from dataclasses import replace

    from otb_billing.books import writer

    repo = _six_clients(tmp_path / "repo")
    config, result, _ = pipeline.compute(repo.root, Month(2024, 10))
    theirs, mine = result.invoices[0], result.invoices[1]
    text = bill_job.LedgerText()
    text.take((theirs,), ([("THE CHILD'S TEXT", ["Income:From:The:Child"])], None))
    assert text.posted(theirs) == ["Income:From:The:Child"] and text.of(theirs) == "THE CHILD'S TEXT"
    assert text.of(theirs) == writer.render_invoice(theirs)  # used once: asked again, rendered here
    twin = replace(theirs)  # equal, but not the object the child's text was made for
    assert text.of(twin) == writer.render_invoice(twin)
    sums = []
    real = writer.invoice_postings
    monkeypatch.setattr(writer, "invoice_postings", lambda invoice: sums.append(invoice.number) or real(invoice))
    assert text.posted(mine) == [name for name, _ in real(mine)]
    assert text.of(mine) == writer.render_invoice(mine, postings=real(mine))
    assert sums == [mine.number]  # the accounts to open and the text: one sum of its postings
    made = text.make(config, (mine,))  # what the child sends: the text and the accounts, as this process makes them
    assert made[0] == [(writer.render_invoice(mine), [name for name, _ in real(mine)])]


def test_the_billing_child_s_csvs_and_quickbooks_rows_are_the_ones_this_process_would_render(tmp_path, monkeypatch):
    """OutputMemo.make/take: the same bytes; rows made without the currency column are made again if the month's
    file needs it; more invoices than MADE_AT_MOST: nothing made (their bytes would be held here)."""
    from otb_billing.render import qbcsv, quickbooks

    repo = _six_clients(tmp_path / "repo")
    config, result, _ = pipeline.compute(repo.root, Month(2024, 10))
    invoices = result.invoices
    settings = config.settings.quickbooks
    made = bill_job.OutputMemo().make(config, invoices)
    assert made is not None and made[:2] == (settings, False)
    memo = bill_job.OutputMemo()
    memo.take(invoices, made)
    monkeypatch.setattr(qbcsv, "invoice_csv", lambda invoice: pytest.fail("rendered again"))
    real_text = quickbooks.invoice_text
    rendered = []
    monkeypatch.setattr(quickbooks, "invoice_text", lambda *args: rendered.append(args) or real_text(*args))
    for invoice, (csv, rows) in zip(invoices, made[2], strict=True):
        assert memo.csv(invoice) == csv
        assert memo.quickbooks_text(invoice, settings, False) == rows == real_text(invoice, settings, False)
    assert rendered == []  # the memo rendered nothing: all of it came from the child
    assert memo.quickbooks_text(invoices[0], settings, True) == real_text(invoices[0], settings, True)
    assert rendered == [(invoices[0], settings, True)]  # with the currency column: rendered here
    monkeypatch.setattr(bill_job.OutputMemo, "MADE_AT_MOST", len(invoices) - 1)
    assert bill_job.OutputMemo().make(config, invoices) is None


def test_billed_here_more_of_the_clients_when_the_child_renders_their_outputs_too(monkeypatch):
    text = bill_job.LedgerText()
    assert text.here(1000) == 0.72 and text.here(7000) == 0.72  # 1,960 of 7,000 rendered by the child
    assert text.here(10000) == pipeline.SHARE_HERE == 0.63  # 2,800 would be too many to hold: ledger text only


def test_otb_bill_s_memo_hands_each_of_the_child_s_outputs_out_once_and_keeps_nothing_it_renders(tmp_path):
    """OutputMemo(keep=False): kept, the month's 61 MB of CSVs (10,000 clients) stayed in the outputs' child."""
    repo = _six_clients(tmp_path / "repo")
    config, result, _ = pipeline.compute(repo.root, Month(2024, 10))
    child, mine = result.invoices[:2], result.invoices[2]
    settings = config.settings.quickbooks
    memo = bill_job.OutputMemo(keep=False)
    memo.take(child, bill_job.OutputMemo().make(config, child))
    for invoice in child:
        assert memo.csv(invoice) and memo.quickbooks_text(invoice, settings, False)
    memo.csv(mine), memo.quickbooks_text(mine, settings, False)
    assert memo._csv == {} and memo._rows == {}  # the child's used, this process's own never kept
    kept = bill_job.OutputMemo()  # otb watch's
    kept.csv(mine), kept.quickbooks_text(mine, settings, False)
    assert set(kept._csv) == set(kept._rows) == {mine.number}


def test_the_billing_child_is_stopped_when_billing_here_fails(tmp_path, monkeypatch):
    """An interrupt (or a bug) while this process bills its part: the child is not left running to the end."""
    repo = _six_clients(tmp_path / "repo")
    monkeypatch.setattr(pipeline, "SPLIT_ABOVE", 1)
    parent, children = os.getpid(), []
    real_started = pipeline.forked.Started

    def started(work):
        child = real_started(work)
        children.append(child.pid)
        return child

    def bill_month(*args, **kwargs):
        if os.getpid() == parent:
            raise KeyboardInterrupt
        import time
        time.sleep(30)  # the child: would outlive the bill

    monkeypatch.setattr(pipeline.forked, "Started", started)
    monkeypatch.setattr(pipeline, "bill_month", bill_month)
    with pytest.raises(KeyboardInterrupt):
        pipeline.compute(repo.root, Month(2024, 10))
    assert children and all(children)  # the YAML reader's, then the billing child
    for pid in children:
        with pytest.raises(ChildProcessError):  # reaped: cancelled and waited for
            os.waitpid(pid, os.WNOHANG)
