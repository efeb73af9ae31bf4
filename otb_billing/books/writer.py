"""Beancount text: one transaction per invoice, the month file, the chart of accounts and main.beancount.

Text is aligned the way `bean-format -c 61` aligns it (currency at column 61), so formatting leaves it alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from ..core.model import Invoice, Settings
from ..core.money import cents, fmt_money, fmt_quantity, plain
from ..core.month import Month
from . import accounts

CURRENCY_COLUMN = 61
INDENT = "  "


_BREAKS = str.maketrans({c: " " for c in "\n\r\t\x0b\x0c\x85\u2028\u2029"})


def quote(text: str) -> str:
    """A Beancount string literal, on one line (readers refuse line breaks in names; this is the last guard)."""
    text = text.translate(_BREAKS)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def posting(account: str, amount: Decimal, currency: str, suffix: str = "", number: str | None = None) -> str:
    """One posting line, the currency at column 61; `suffix` is a cost or price (`{...}`, `@ ...`)."""
    prefix = INDENT + account
    number = fmt_money(amount) if number is None else number
    spaces = " " * max(0, CURRENCY_COLUMN - len(prefix) - len(number) - 4)
    return f"{prefix}{spaces}  {number} {currency}" + (f" {suffix}" if suffix else "")


def lot(rate: Decimal, base: str, day, label: str) -> str:
    """The cost of a foreign-currency receivable: `{1.3650 CAD, 2024-10-31, "GLX-202410"}`.

    Date and label make each invoice its own lot, so payments and credit notes reduce exactly that invoice.
    """
    return f"{{{plain(rate)} {base}, {day}, {quote(label)}}}"


def in_base(amounts: list[tuple[str, Decimal]], total: Decimal, rate: Decimal) -> list[tuple[str, Decimal]]:
    """Invoice-currency postings in the base currency at `rate`, each rounded half-up, so they add up to
    -cents(total x rate), the base value of the receivable. The cents rounding leaves over go to the largest
    income posting, never to a tax: a tax in the books is always cents(tax x rate), as the PDF and JSON show."""
    converted = [(name, cents(amount * rate)) for name, amount in amounts]
    diff = -cents(total * rate) - sum((v for _, v in converted), Decimal(0))
    income = [k for k, (name, _) in enumerate(converted) if not name.startswith("Liabilities:")] or list(
        range(len(converted)))
    if diff and converted:
        i = max(income, key=lambda k: (abs(converted[k][1]), -k))
        converted[i] = (converted[i][0], converted[i][1] + diff)
    return converted


def invoice_postings(invoice: Invoice) -> list[tuple[str, Decimal]]:
    """(account, amount) of the income and tax postings, credits negative, in a fixed order."""
    by_category: dict[str, list[Decimal]] = {}  # first by category, each named once (a month: 60,000 lines, 10 names)
    for line in invoice.lines:
        found = by_category.get(line.category)
        if found is None:
            by_category[line.category] = [line.amount]
        else:
            found.append(line.amount)
    by_account: dict[str, Decimal] = {}
    for category, amounts in by_category.items():  # exact sums: the order they are added in makes no difference
        name = accounts.income(category)
        by_account[name] = by_account.get(name, Decimal(0)) + sum(amounts, Decimal(0))
    fixed = [accounts.CATEGORY_ACCOUNTS[c] for c in accounts.CATEGORY_ORDER]
    ordered = sorted(by_account, key=lambda a: (fixed.index(a) if a in fixed else len(fixed), a))
    result = [(name, -by_account[name]) for name in ordered if by_account[name]]
    result += [(accounts.tax(t), -t.amount) for t in invoice.taxes if t.amount]
    return result


def render_invoice(invoice: Invoice, flag: str = "!", postings: list[tuple[str, Decimal]] | None = None) -> str:
    """The transaction of one invoice. Metadata keeps only what later runs and an accountant need (number,
    client, period, due date, plan, the prepaid pool); the counts and lines are in the invoice's data beside its PDF
    once issued, and Fava's journal stays readable. `postings`: invoice_postings(invoice), if made already."""
    head = (
        f"{invoice.date} {flag} {quote(invoice.client)} "
        f"{quote(f'Invoice {invoice.number} for {invoice.month.label}')} ^{invoice.number}"
    )
    meta = [
        ("invoice", quote(invoice.number)),
        ("account", quote(invoice.account)),
        ("period", quote(str(invoice.month))),
        ("due", str(invoice.due)),
        ("plan", quote(invoice.plan)),
        ("term", quote(invoice.term)),
        ("support_level", quote(invoice.support_level)),
        ("prepaid_yearly_used", fmt_quantity(invoice.prepaid_yearly_used)),
        ("pool_year", str(invoice.pool_year)),
    ]
    for number, note in enumerate(invoice.notes, 1):
        meta.append((f"tax_note{'' if number == 1 else number}", quote(note)))
    postings = invoice_postings(invoice) if postings is None else postings
    rate = invoice.fx_rate
    rows: list[tuple[str, Decimal, str, str]]  # account, amount, currency, the amount in the invoice's currency
    if rate is not None:
        meta += [("fx_rate", plain(rate)), ("fx_date", str(invoice.fx_date))]
        base = invoice.base_currency
        out = [head] + [f"{INDENT}{key}: {value}" for key, value in meta]
        out.append(posting(accounts.receivable(invoice.account), invoice.total, invoice.currency,
                           lot(rate, base, invoice.date, invoice.number)))
        shown = dict(postings)
        rows = [(name, amount, base, f"{fmt_money(-shown[name])} {invoice.currency}")
                for name, amount in in_base(postings, invoice.total, rate)]
    else:
        out = [head] + [f"{INDENT}{key}: {value}" for key, value in meta]
        out.append(posting(accounts.receivable(invoice.account), invoice.total, invoice.currency))
        rows = [(name, amount, invoice.currency, "") for name, amount in postings]
    taxes = {accounts.tax(t): t for t in invoice.taxes}
    for name, amount, currency, original in rows:
        out.append(posting(name, amount, currency))
        if original:
            out.append(f"{INDENT * 2}invoice_amount: {quote(original)}")
        if name in taxes:
            tax = taxes[name]
            out.append(f"{INDENT * 2}tax: {quote(tax.name)}")
            out.append(f"{INDENT * 2}rate: {quote(fmt_quantity(tax.rate))}")
            out.append(f"{INDENT * 2}base: {fmt_money(tax.base)}")
            if tax.registration:
                out.append(f"{INDENT * 2}registration: {quote(tax.registration)}")
    return "\n".join(out) + "\n"


def render_month_file(month: Month, blocks: Iterable[tuple[str, str]]) -> str:
    """The month's invoice file from (invoice number, transaction text) pairs, sorted by number."""
    return "".join(month_file_parts(month, sorted(blocks, key=lambda b: b[0])))


def month_file_parts(month: Month, blocks: Iterable[tuple[str, str]]) -> Iterator[str]:
    """The month file's text in pieces, from (number, text) pairs already in number order (render_month_file).
    `otb bill` writes the pieces as they come, each invoice rendered only then: holding every invoice's text, the
    file's text and its bytes at once was 33 MB of a 10,000-client bill's peak."""
    yield (
        f"; Invoices for {month.label}, written by `otb bill {month}`.\n"
        f"; Drafts (flag !) are replaced by the next `otb bill {month}`; finalized invoices (flag *) are kept as"
        " they are.\n"
    )
    for _, text in blocks:
        yield "\n"
        yield _one_newline(text)


def _one_newline(text: str) -> str:
    """`text` ending in exactly one newline; the same string when it already does (10,000 invoices: 11 MB not
    copied once more on the way into the month file)."""
    if text.endswith("\n") and not text.endswith("\n\n"):
        return text
    return text.rstrip("\n") + "\n"


# --- chart of accounts --------------------------------------------------------------------------------------

OPEN_DATE = "2000-01-01"


def accounts_skeleton(settings: Settings) -> str:
    return (
        "; Chart of accounts. `otb bill` appends the accounts that new invoices need; edit freely.\n"
        "\n"
        f"{OPEN_DATE} open Assets:Bank:Operating\n"
        f"{OPEN_DATE} open Equity:Opening-Balances\n"
    )


ACCOUNTS_BEGIN = "; --- accounts opened by `otb bill` (sorted; keep this block) ---"
ACCOUNTS_END = "; --- end of accounts opened by otb ---"


def _open_entries(block: list[str]) -> dict[str, list[str]]:
    """The `open` directives of a managed block, each with its metadata lines, by account name."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in block:
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "open" and not line.startswith(" "):
            current = parts[2]
            entries[current] = [line]
        elif current and line.startswith(" ") and line.strip():
            entries[current].append(line)
    return entries


def with_accounts(accounts_text: str, needed: dict[str, dict[str, str]]) -> str:
    """accounts.beancount with an `open` for every needed account that no line opens yet.

    Opens written by otb live in one sorted block between markers; lines outside it are the user's and stay.
    """
    lines = accounts_text.splitlines()
    if ACCOUNTS_BEGIN in lines and ACCOUNTS_END in lines:
        start, end = lines.index(ACCOUNTS_BEGIN), lines.index(ACCOUNTS_END)
    else:
        lines = lines + ["", ACCOUNTS_BEGIN, ACCOUNTS_END]
        start, end = len(lines) - 2, len(lines) - 1
    entries = _open_entries(lines[start + 1 : end])
    opened = {parts[2] for parts in (ln.split() for ln in lines) if len(parts) >= 3 and parts[1] == "open"}
    for name, meta in needed.items():
        if name not in opened:
            entries[name] = [f"{OPEN_DATE} open {name}"] + [f"{INDENT}{k}: {quote(v)}" for k, v in meta.items()]
    block = [line for name in sorted(entries) for line in entries[name]]
    return "\n".join(lines[: start + 1] + block + lines[end:]) + "\n"


def accounts_for(invoices: Iterable[Invoice], client_names: dict[str, str],
                 posted: Callable[[Invoice], Iterable[str]] | None = None) -> dict[str, dict[str, str]]:
    """Every account these invoices post to, with metadata for the receivables. `posted(invoice)`: the accounts of
    its invoice_postings, if they are known already."""
    needed: dict[str, dict[str, str]] = {}
    for invoice in invoices:
        needed[accounts.receivable(invoice.account)] = {
            "account_number": invoice.account,
            "client": client_names.get(invoice.account, invoice.client),
        }
        for name in posted(invoice) if posted is not None else (name for name, _ in invoice_postings(invoice)):
            needed.setdefault(name, {})
    return needed


# --- main.beancount ----------------------------------------------------------------------------------------------

BEGIN = "; --- files written by otb (invoices, payments, credit notes): keep this block ---"
END = "; --- end of files written by otb ---"
PLUGIN = 'plugin "otb_billing.books.plugin"'
LINK_DOCUMENTS = 'plugin "fava.plugins.link_documents"'  # shows each issued PDF on its invoice in Fava's journal
FAVA_EXTENSION = '2000-01-01 custom "fava-extension" "otb_billing.fava_ext"'


def main_skeleton(settings: Settings) -> str:
    return (
        f"; {settings.business.name}: the books. Browse them with `make fava`.\n"
        f"option \"title\" {quote(settings.business.name or 'OTB Billing')}\n"
        f"option \"operating_currency\" \"{settings.currency}\"\n"
        f"{tolerance_option(settings.currency)}\n"
        "; Checks finalized invoices, invoice numbers and the links of payments and credit notes.\n"
        f"{PLUGIN}\n"
        f"{LINK_DOCUMENTS}\n"
        "; Fava shows each invoice's status and the aging of receivables on its Invoices page.\n"
        f"{FAVA_EXTENSION}\n"
        "\n"
        'include "accounts.beancount"\n'
        "\n"
        f"{BEGIN}\n{END}\n"
    )


def tolerance_option(currency: str) -> str:
    """Amounts in the books' currency balance to half a cent. Foreign lots make amounts like 1098.50 x 1.3930 =
    1530.2105; each entry books them to the cent, and Beancount must accept the sub-cent rest even in an entry
    with no other amount in that currency to infer the tolerance from."""
    return f'option "inferred_tolerance_default" "{currency}:0.005"'


def with_plugin(main_text: str) -> str:
    """main.beancount with the otb plugin and Fava extension enabled and the books' currency's tolerance set
    (added after the options if missing)."""
    lines = main_text.splitlines()
    present = {ln.strip() for ln in lines}
    wanted = [PLUGIN, LINK_DOCUMENTS, FAVA_EXTENSION]
    currency = re.search(r'^option\s+"operating_currency"\s+"([A-Z][A-Z0-9\'._-]*)"', main_text, re.M)
    if currency and not re.search(r'^option\s+"inferred_tolerance_default"', main_text, re.M):
        wanted.insert(0, tolerance_option(currency.group(1)))
    missing = [line for line in wanted if line not in present]
    if not missing:
        return main_text
    last_option = max((i for i, ln in enumerate(lines) if ln.startswith(("option ", "plugin "))), default=-1)
    lines[last_option + 1 : last_option + 1] = missing
    return "\n".join(lines) + "\n"


def with_include(main_text: str, include_path: str) -> str:
    """main.beancount with `include "<path>"` in the managed block (sorted), or appended if there is none."""
    line = f'include "{include_path}"'
    lines = main_text.splitlines()
    if line in (ln.strip() for ln in lines):
        return main_text
    if BEGIN in lines and END in lines:
        start, end = lines.index(BEGIN), lines.index(END)
        block = sorted(set(lines[start + 1 : end]) | {line})
        lines = lines[: start + 1] + block + lines[end:]
        return "\n".join(lines) + "\n"
    return main_text.rstrip("\n") + "\n" + line + "\n"


QUERIES_FILE = "queries.beancount"
QUERIES = (
    ("Outstanding invoices",
     "SELECT any_meta('invoice') AS invoice, payee, max(date(any_meta('due'))) AS due, sum(number) AS balance "
     "WHERE account ~ '^Assets:Receivable' GROUP BY invoice, payee HAVING sum(number) != 0 ORDER BY due, invoice"),
    ("AR aging by due month",
     "SELECT year(max(date(any_meta('due')))) AS year, month(max(date(any_meta('due')))) AS month, payee, "
     "any_meta('invoice') AS invoice, sum(number) AS balance WHERE account ~ '^Assets:Receivable' "
     "GROUP BY payee, invoice HAVING sum(number) != 0 ORDER BY year, month, payee"),
    ("Receivables by client",
     "SELECT account, sum(position) AS balance WHERE account ~ '^Assets:Receivable' GROUP BY account "
     "ORDER BY account"),
    ("Revenue by client",
     "SELECT payee AS client, neg(sum(position)) AS revenue WHERE account ~ '^Income' GROUP BY client "
     "ORDER BY client"),
    ("Revenue by month and category",
     "SELECT year, month, account AS category, neg(sum(position)) AS revenue WHERE account ~ '^Income' "
     "GROUP BY year, month, category ORDER BY year, month, category"),
    ("Payments received",
     "SELECT date, payee, any_meta('payment') AS ref, any_meta('method') AS method, position "
     "WHERE account ~ '^Assets:Bank' ORDER BY date"),
)


def with_queries(text: str) -> str:
    """queries.beancount with otb's saved queries as they are now (a query otb wrote before is replaced by its
    current text, so a fix reaches existing repos); queries and lines the user added stay."""
    current = {name: f"{OPEN_DATE} query {quote(name)} {quote(sql)}" for name, sql in QUERIES}
    lines, seen = [], set()
    for line in text.splitlines():
        match = re.match(r'^\d{4}-\d{2}-\d{2} query "((?:[^"\\]|\\.)*)" ', line)
        if match and match.group(1) in current:
            lines.append(current[match.group(1)])
            seen.add(match.group(1))
        else:
            lines.append(line)
    lines += [query for name, query in current.items() if name not in seen]
    return "\n".join(lines) + "\n"


def queries_text() -> str:
    """Saved queries for Fava's Query page. `otb status` and `otb aging` also apply credit on account."""
    lines = ["; Saved queries for Fava's Query page (and bean-query), written by otb.",
             "; `otb status` and `otb aging` are the full story: they also apply credit on account to open invoices.",
             ""]
    lines += [f"{OPEN_DATE} query {quote(name)} {quote(sql)}" for name, sql in QUERIES]
    return "\n".join(lines) + "\n"
