"""`otb bill MONTH --adjust ACCOUNT`: bill only what the inputs now give beyond a finalized invoice.

The adjustment invoice `<invoice>-A<n>` posts, per income and tax account, the difference between what the
inputs give now and what the finalized invoice and its earlier adjustments already billed, in the invoice's own
currency (a foreign one at the rate of the adjustment's date). It is a draft in the month's file until
`otb finalize MONTH` issues it. Less than before is a credit note's job, not this one's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from beancount.core import data

from ..books import accounts, invoice_files, postings, writer
from ..books.entries import parse_block
from ..books.prices import read_prices
from ..core.errors import InputErrors, Problem
from ..core.model import Counts, Invoice, Line, TaxLine
from ..core.money import ZERO, fmt_money
from ..core.month import Month
from ..core.rules import invoice_number_problem
from ..outputs import write_outputs
from ..render import qbcsv
from .ledger_edit import commit_ledger, require_good_ledger
from .pipeline import compute


def posted_in_invoice_currency(entries: list[data.Transaction]) -> dict[str, Decimal]:
    """What these invoices posted to each account, in the invoice's own currency (a foreign invoice keeps it in
    each posting's `invoice_amount`)."""
    totals: dict[str, Decimal] = {}
    for entry in entries:
        for p in entry.postings:
            shown = (p.meta or {}).get("invoice_amount")
            amount = -Decimal(str(shown).split()[0]) if shown else postings.number(p)
            totals[p.account] = totals.get(p.account, ZERO) + amount
    return totals


def run_adjust(root: Path, month: Month, account: str, day: dt.date) -> Invoice:
    require_good_ledger(root)
    config, result, blocks = compute(root, month, [account])
    new = next((inv for inv in result.invoices if inv.account == account), None)
    base_number = new.number if new else f"{account}-?"
    base = blocks.get(base_number)
    if new is None or base is None or base[0] != "*":
        raise InputErrors([Problem(None, f"{account} has no finalized invoice for {month} to adjust",
                                   f"a draft is simply billed again: otb bill {month} --client {account}")])
    fx = None
    if new.foreign:  # a new invoice in the client's currency, at the rate of its own date
        problems: list[Problem] = []
        found, why = read_prices(root / "ledger", config.settings.currency, problems).rate_on(new.currency, day)
        if found is None:
            raise InputErrors(problems + [Problem(None, why)])
        fx = found
    earlier = [(n, b) for n, b in sorted(blocks.items())
               if n.startswith(f"{base_number}-A") and invoice_files.is_adjustment(b[1])]
    billed = posted_in_invoice_currency(
        [parse_block(base[1])] + [parse_block(text) for _, (flag, text) in earlier if flag == "*"]
    )
    now = {name: amount for name, amount in writer.invoice_postings(new)}
    taxes = {accounts.tax(t): t for t in new.taxes}
    lines, tax_lines = [], []
    for name in sorted(set(billed) | set(now)):
        if name.startswith(accounts.RECEIVABLE_ROOT + ":"):
            continue
        diff = -(now.get(name, ZERO) - billed.get(name, ZERO))  # positive: more income or tax than billed
        if not diff:
            continue
        if name.startswith("Liabilities:Tax:"):
            tax = taxes.get(name)
            tax_lines.append(
                TaxLine(
                    tax.name if tax else name.split(":")[-1].split("-")[0],
                    tax.rate if tax else ZERO,
                    ZERO,
                    diff,
                    tax.registration if tax else "",
                    tax.province if tax else "",
                )
            )
        else:
            lines.append(
                Line(
                    f"account:{name}",
                    f"Adjustment to {base_number}: {accounts.label(name)}",
                    Decimal(1),
                    diff,
                    diff,
                    True,
                    "Adjustment",
                )
            )
    total = sum((ln.amount for ln in lines), ZERO) + sum((t.amount for t in tax_lines), ZERO)
    if not lines and not tax_lines:
        raise InputErrors([Problem(None, f"{base_number} already bills what the inputs give: nothing to adjust")])
    if total <= 0:
        raise InputErrors(
            [
                Problem(
                    None,
                    f"the inputs now give {fmt_money(-total)} less than {base_number} billed",
                    f'credit it instead: otb credit {base_number} --amount {fmt_money(-total)} --reason "..."',
                )
            ]
        )
    base_rate_lines = [t._replace(base=sum((ln.amount for ln in lines), ZERO)) for t in tax_lines]
    drafts = [n for n, (flag, _) in earlier if flag != "*"]
    number = drafts[0] if drafts else f"{base_number}-A{len(earlier) + 1}"
    if why := invoice_number_problem(number):
        raise InputErrors(
            [
                Problem(
                    None,
                    f"the adjustment invoice would be {why}",
                    "shorten invoice.number in settings.yaml for later months, or credit and re-invoice by hand",
                )
            ]
        )
    terms = (new.due - new.date).days
    adjustment = Invoice(
        number=number,
        account=account,
        client=new.client,
        month=month,
        date=day,
        due=day + dt.timedelta(days=terms),
        currency=new.currency,
        plan=new.plan,
        term=new.term,
        support_level=new.support_level,
        lines=tuple(lines),
        taxes=tuple(base_rate_lines),
        counts=Counts(),
        notes=new.notes,
        base_currency=new.base_currency,
        fx_rate=fx[1] if fx else None,
        fx_date=fx[0] if fx else None,
    )
    text = writer.render_invoice(adjustment)
    head, _, rest = text.partition("\n")
    text = f"{head}\n  adjusts: {writer.quote(base_number)}\n{rest}"
    all_blocks = {n: t for n, (_, t) in blocks.items()}
    all_blocks[number] = text
    ledger = root / "ledger"
    path = invoice_files.month_file(ledger, month)
    month_text = writer.render_month_file(month, all_blocks.items())
    accounts_path = ledger / "accounts.beancount"
    old_accounts = accounts_path.read_text(encoding="utf-8")
    accounts_text = writer.with_accounts(old_accounts, writer.accounts_for([adjustment], {}))
    files = {accounts_path: accounts_text, path: month_text}
    commit_ledger(root, files, f"otb bill {month} --adjust {account}")
    build = root / "build" / str(month)
    write_outputs(root, {build / qbcsv.csv_filename(adjustment): qbcsv.invoice_csv(adjustment)})
    return adjustment
