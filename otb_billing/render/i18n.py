"""Words, dates and money of a document in the client's language: English (`en`, the default), French (`fr`,
Quebec usage: `31 octobre 2024`, `1 234,56 $`, TPS/TVQ), or both (`bilingual`: English / French labels, ISO dates).

The billing core writes line descriptions in English; `describe()` gives the French of each form it writes, so a
French invoice has no English left on it (tests read the PDF back to check).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_currency

from ..core.model import LANGUAGES
from ..core.money import rate_places
from .moneyfmt import money as money_en
from .moneyfmt import rate as rate_en

WORDS: dict[str, tuple[str, str]] = {  # key: (English, French)
    "invoice": ("Invoice", "Facture"),
    "draft_invoice": ("Draft invoice", "Facture provisoire"),
    "draft_mark": ("DRAFT", "PROVISOIRE"),
    "invoice_no": ("Invoice no.", "No de facture"),
    "invoice_date": ("Invoice date", "Date de facture"),
    "due_date": ("Due date", "Date d'échéance"),
    "terms": ("Payment terms", "Modalités"),
    "net_days": ("Net {days} days", "Net {days} jours"),
    "on_receipt": ("Due on receipt", "Payable sur réception"),
    "period": ("Billing period", "Période"),
    "period_range": ("{start} to {end}", "du {start} au {end}"),
    "plan": ("Plan", "Forfait"),
    "account": ("Account", "Compte"),
    "exchange_rate": ("Exchange rate", "Taux de change"),
    "rate_on": ("1 {cur} = {rate} {base} on {day}", "1 {cur} = {rate} {base} le {day}"),
    "description": ("Description", "Description"),
    "qty": ("Qty", "Qté"),
    "rate": ("Rate", "Tarif"),
    "amount": ("Amount", "Montant"),
    "item": ("Item", "Article"),
    "subtotal": ("Subtotal", "Sous-total"),
    "total": ("Total", "Total"),
    "total_in": ("Total in {cur}", "Total en {cur}"),
    "credit_applied": ("Credit applied", "Crédit appliqué"),
    "credit_notes": ("Credit notes", "Notes de crédit"),
    "amount_paid": ("Amount paid", "Montant payé"),
    "amount_due": ("Amount due", "Montant dû"),
    "balance_due": ("Balance due", "Solde dû"),
    "reg": ("Reg.", "no"),
    "not_taxable": ("* Not subject to sales tax.", "* Non assujetti aux taxes de vente."),
    "taxable_note": ("All other charges are taxable supplies; tax is computed on the taxable subtotal.",
                     "Les autres frais sont des fournitures taxables; la taxe est calculée sur le sous-total taxable."),
    "bill_to": ("BILL TO", "FACTURER À"),
    "how_to_pay": ("How to pay", "Modalités de paiement"),
    "details": ("Details of invoice {number}", "Détail de la facture {number}"),
    "page": ("Page {page} of {total}", "Page {page} de {total}"),
    "users": ("Users", "Utilisateurs"),
    "devices": ("Devices", "Appareils"),
    "backup": ("Backup", "Sauvegarde"),
    "other_charges": ("Support and other charges", "Soutien et autres frais"),
    "tickets": ("Support tickets ({level} support)", "Billets de soutien (soutien {level})"),
    "hourly": ("hourly", "horaire"),
    "flat": ("flat", "forfaitaire"),
    "ticket": ("Ticket", "Billet"),
    "date": ("Date", "Date"),
    "subject": ("Subject", "Objet"),
    "hours": ("Hours", "Heures"),
    "billable": ("Billable", "Facturables"),
    "total_row": ("Total", "Total"),
}
TAX_FR = {"GST": "TPS", "HST": "TVH", "QST": "TVQ", "PST": "TVP", "RST": "TVD"}
GROUPS_FR = {"Users": "Utilisateurs", "Workstations": "Postes de travail", "Servers": "Serveurs",
             "Virtual machines": "Machines virtuelles", "Switches": "Commutateurs", "Firewalls": "Pare-feu",
             "Devices": "Appareils", "Users (free)": "Utilisateurs (gratuits)",
             "Users (custom rate)": "Utilisateurs (tarif particulier)", "Devices (custom rate)":
             "Appareils (tarif particulier)", "Workstations (custom rate)": "Postes de travail (tarif particulier)"}
KINDS_FR = {"User": "Utilisateur", "Workstation": "Poste de travail", "Server": "Serveur", "VM": "VM",
            "Switch": "Commutateur", "Firewall": "Pare-feu", "Device": "Appareil"}
NOTES_FR = {"free": "gratuit", "custom rate": "tarif particulier", "manual": "manuel", "exported as": "exporté comme"}


def _n(text: str) -> str:
    """A number of a description the French way: 1.8 -> 1,8."""
    return text.replace(".", ",")


DESCRIPTIONS_FR: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r"^(User|Workstation|Server|VM|Switch|Firewall|Device): (.*?)((?: \((?:[^()]*)\))*)$"),
     lambda m: f"{KINDS_FR[m.group(1)]} : {m.group(2)}" + re.sub(
         r"\(([^()]*)\)", lambda n: "(" + ", ".join(_note_fr(x) for x in n.group(1).split(", ")) + ")", m.group(3))),
    (re.compile(r"^Backup base fee: workstations$"), lambda m: "Frais de base de sauvegarde : postes de travail"),
    (re.compile(r"^Backup base fee: servers and VMs$"), lambda m: "Frais de base de sauvegarde : serveurs et VM"),
    (re.compile(r"^Backup storage: ([\d.]+) TB used, ([\d.]+) TB included, ([\d.]+) TB over$"),
     lambda m: f"Stockage de sauvegarde : {_n(m.group(1))} To utilisés, {_n(m.group(2))} To inclus, "
               f"{_n(m.group(3))} To en sus"),
    (re.compile(r"^Support hours: (.*)$"), lambda m: "Heures de soutien : " + _support_fr(m.group(1))),
    (re.compile(r"^Currency conversion fee \(([\d.]+)%\)$"), lambda m: f"Frais de conversion ({_n(m.group(1))} %)"),
    (re.compile(r"^(.*): ([\d.]+)% off (.*)$"), lambda m: f"{m.group(1)} : {_n(m.group(2))} % de remise sur "
                                                           f"{_scope_fr(m.group(3))}"),
    (re.compile(r"^(.*): off (.*)$"), lambda m: f"{m.group(1)} : remise sur {_scope_fr(m.group(2))}"),
    (re.compile(r"^(.*): (\d+) of (\d+) days \((.*)\)$"),
     lambda m: f"{GROUPS_FR.get(m.group(1), m.group(1))} : {m.group(2)} jours sur {m.group(3)} ("
               + m.group(4).replace("contract from", "contrat depuis le").replace("contract to", "contrat jusqu'au")
               + ")"),
]


def _note_fr(note: str) -> str:
    for english, french in NOTES_FR.items():
        if note.startswith(english):
            return french + note[len(english):]
    return note


def _scope_fr(text: str) -> str:
    words = {"the invoice": "la facture", "users": "utilisateurs", "devices": "appareils", "backup": "sauvegarde",
             "support": "soutien", "line items": "autres frais"}
    return ", ".join(words.get(part, part) for part in text.split(", "))


def _support_fr(text: str) -> str:
    text = re.sub(r"([\d.]+) h worked", lambda m: f"{_n(m.group(1))} h travaillées", text)
    text = re.sub(r"([\d.]+) h from the monthly prepaid hours",
                  lambda m: f"{_n(m.group(1))} h des heures prépayées du mois", text)
    text = re.sub(r"([\d.]+) h from the yearly pool \(([\d.]+) h left\)",
                  lambda m: f"{_n(m.group(1))} h de la banque annuelle (reste {_n(m.group(2))} h)", text)
    text = re.sub(r"yearly pool: ([\d.]+) h left", lambda m: f"banque annuelle : reste {_n(m.group(1))} h", text)
    return text


class Lang:
    """The texts of one document in one language."""

    def __init__(self, language: str = "en"):
        self.language = language if language in LANGUAGES else "en"

    def t(self, key: str, **values) -> str:
        english, french = WORDS[key]
        if self.language == "fr":
            return french.format(**values)
        if self.language == "bilingual" and english != french:
            return f"{english.format(**values)} / {french.format(**values)}"
        return english.format(**values)

    def date(self, day: dt.date) -> str:
        if self.language == "fr":  # 1er octobre 2024, 31 octobre 2024
            text = format_date(day, "d MMMM y", locale="fr_CA")
            return "1er" + text[1:] if day.day == 1 else text
        if self.language == "bilingual":
            return day.isoformat()
        return f"{day:%B %-d, %Y}"

    def month_range(self, start: dt.date, end: dt.date) -> str:
        """A billing period: `October 1, 2024 to October 31, 2024`, `du 1er au 31 octobre 2024`,
        `2024-10-01 – 2024-10-31` (bilingual)."""
        if self.language == "bilingual":
            return f"{start} – {end}"
        if self.language == "fr" and (start.year, start.month) == (end.year, end.month):
            return f"du {'1er' if start.day == 1 else start.day} au {self.date(end)}"
        return self.t("period_range", start=self.date(start), end=self.date(end))

    def period(self, month) -> str:
        """A billing month: `October 2024`, `octobre 2024`."""
        if self.language == "fr":
            return format_date(month.first_day, "MMMM y", locale="fr_CA")
        return month.label

    def money(self, amount: Decimal, currency: str) -> str:
        if self.language == "fr":
            return _money_fr(amount, currency or "CAD")
        return money_en(amount, currency)

    def rate(self, value: Decimal, currency: str) -> str:
        """A line's rate: like money, with the rate's own extra decimals (`12,345 $`)."""
        if self.language == "fr":
            return _money_fr(value, currency or "CAD", exact=rate_places(value) > 2)
        return rate_en(value, currency)

    def tax(self, name: str) -> str:
        if self.language == "fr":
            return TAX_FR.get(name, name)
        if self.language == "bilingual" and name in TAX_FR:
            return f"{name} / {TAX_FR[name]}"
        return name

    def registration(self, label: str) -> str:
        """A letterhead's registration label: `GST/HST Reg. No.` -> `No de TPS/TVH`."""
        if self.language == "en":
            return label
        french = label
        if label == "Business No.":
            french = "No d'entreprise"
        elif label.endswith(" Reg. No."):
            french = "No de " + "/".join(TAX_FR.get(t, t) for t in label[:-len(" Reg. No.")].split("-")[0].split("/"))
        return french if self.language == "fr" or french == label else f"{label} / {french}"

    def group(self, label: str) -> str:
        if self.language == "fr":
            return GROUPS_FR.get(label, label)
        return label

    def describe(self, text: str) -> str:
        """A line description of the billing core in this language (bilingual keeps the English)."""
        if self.language != "fr":
            return text
        for pattern, french in DESCRIPTIONS_FR:
            match = pattern.match(text)
            if match:
                return french(match)
        return text

    def quantity(self, text: str) -> str:
        return _n(text) if self.language == "fr" else text

    def note(self, text: str) -> str:
        if self.language != "fr":
            return text
        if text.startswith("Zero-rated: services supplied to a client outside "):
            return "Détaxé : services fournis à un client hors du " + text.rsplit(" ", 1)[-1].rstrip(".") + "."
        if text.startswith("Tax exempt: "):
            return "Exonéré de taxes : " + text[len("Tax exempt: "):]
        return text


@lru_cache(maxsize=4096)
def _money_fr(amount: Decimal, currency: str, exact: bool = False) -> str:
    """`1 234,56 $` (Babel's fr_CA, with plain spaces: the PDF's font has no narrow no-break space); `exact`
    keeps decimals beyond the cent (a rate of `12,345 $`)."""
    text = format_currency(amount, currency, locale="fr_CA", decimal_quantization=not exact)
    return text.replace("\u202f", " ").replace("\u00a0", " ")
