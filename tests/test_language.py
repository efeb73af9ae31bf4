"""Invoices in the client's language: a Quebec client with `language: fr` gets a French PDF, HTML view and email
(labels, dates, amounts as `1 234,56 $`, TPS/TVQ), read back from the files themselves; `bilingual` has both."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from conftest import ok
from test_documents import pdf_text

USERS = "account,user_id,name,email,active"
ENGLISH = ("Invoice", "Due date", "Subtotal", "Amount", "Total in", "Users", "Bill to", "BILL TO", "Page 1 of",
           "Not subject", "Support", "hours", "Rate", "Qty", "Account", "Details", "Billing period", "Payment terms",
           "Net 30 days", "Server:", "Workstation", "October", "November", "HST", "GST", "QST", " to ", " of ")


@pytest.fixture
def french(repo):
    repo.write(
        "settings.yaml",
        (repo.root / "settings.yaml")
        .read_text()
        .replace('GST/HST: "123456789RT0001"', 'GST/HST: "123456789RT0001", QST: "1234567890TQ0001"')
        .replace(
            'footer: "Thanks"',
            'footer: {en: Thanks, fr: Merci}, payment_instructions: {en: "EFT please", fr: "Par virement"}',
        ),
    )
    repo.client(
        "Q1", "language: fr\nline_items:\n  - {service: DOMAIN, quantity: 1}\n", name="Bureau Étoile", province="QC"
    )
    repo.users("2024-10", "Q1", 80)
    repo.csv("2024-10", "assets.csv", "account,asset_id,hostname,type", "Q1,s1,SRV-1,server")
    repo.csv(
        "2024-10",
        "tickets.csv",
        "account,ticket,subject,date,hours,billable",
        "Q1,T-7,Imprimante,2024-10-03,1.0,true",
        "Q1,T-7,Imprimante,2024-10-17,0.5,true",
    )
    ok(repo, "bill", "2024-10")
    return repo


def test_a_french_invoice_has_french_words_dates_and_amounts(french):
    text = "\n".join(pdf_text((french.root / "build/2024-10/Q1-202410.pdf").read_bytes()))
    # 80 users x 15,00 = 1 200,00; server 125,00; 1,5 h x 150,00 = 225,00; domain 20,00 (not taxable)
    # taxable 1 550,00: TPS 5 % = 77,50; TVQ 9,975 % = 154,6125 -> 154,61; total 1 570,00 + 232,11 = 1 802,11
    for expected in (
        "FACTURE PROVISOIRE",
        "FACTURER À",
        "No de facture Q1-202410",
        "Date de facture 31 octobre 2024",
        "Date d'échéance 30 novembre 2024",
        "Modalités Net 30 jours",
        "Période du 1er au 31 octobre 2024",
        "Utilisateurs 80 15,00 $ 1 200,00 $",
        "Serveurs 1 125,00 $ 125,00 $",
        "Heures de soutien : 1,5 h travaillées 1,5 150,00 $ 225,00 $",
        "Domain Registration * 1 20,00 $ 20,00 $",
        "Sous-total 1 570,00 $",
        "TPS 5 %",
        "77,50 $",
        "TVQ 9,975 %",
        "154,61 $",
        "Total 1 802,11 $",
        "Montant dû 1 802,11 $",
        "* Non assujetti aux taxes de vente.",
        "Détail de la facture Q1-202410",
        "Utilisateur : User 001",
        "Serveur : SRV-1",
        "Billets de soutien (soutien horaire)",
        "T-7 2024-10-03 – 2024-10-17 Imprimante 1,5 1,5",
        "No de TPS/TVH 123456789RT0001",
        "Page 1 de 4",
    ):
        assert expected in text, expected
    assert "Modalités de paiement\nPar virement" in text and "Merci" in text
    for word in ENGLISH + ("Thanks", "EFT please"):
        assert word not in text, f"English left on a French invoice: {word!r}"


def test_the_french_html_view_and_email(french):
    html = ok(french, "show", "Q1-202410", "--html")
    assert '<html lang="fr">' in html and "FACTURER À" in html and "1 802,11 $" in html
    assert "30 novembre 2024" in html and "<h2>Modalités de paiement</h2><p>Par virement</p>" in html
    ok(french, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    french.write(
        "clients/Q1.yaml", (french.root / "clients/Q1.yaml").read_text() + "billing_email: compta@etoile.example\n"
    )
    ok(french, "email", "2024-10", "--dry-run", "--at", "2024-11-02T14:00:00Z")
    msg = email.message_from_bytes(
        (french.root / "build/outbox/Q1-202410-invoice.eml").read_bytes(), policy=email.policy.default
    )
    assert msg["Subject"] == "Facture Q1-202410 de Test MSP (octobre 2024)"
    body = msg.get_body(("plain",)).get_content()
    assert "Veuillez trouver ci-jointe la facture Q1-202410 pour octobre 2024." in body
    assert "Montant dû :     1 802,11 $" in body and "Date d'échéance : 30 novembre 2024" in body
    assert "Modalités de paiement : Par virement" in body and "Merci\nTest MSP" in body.replace("\r\n", "\n")
    final = "\n".join(pdf_text((french.root / "ledger/documents/2024/Q1-202410.pdf").read_bytes()))
    assert "FACTURE\n" in final and "PROVISOIRE" not in final
    ok(french, "remind", "--as-of", "2025-01-15", "--dry-run", "--at", "2025-01-15T12:00:00Z")
    reminder = email.message_from_bytes(
        (french.root / "build/outbox/Q1-reminder.eml").read_bytes(), policy=email.policy.default
    )
    # due 2024-11-30, 46 days late on 2025-01-15: the second notice
    assert reminder["Subject"] == "Deuxième avis : 1 facture en retard de Test MSP (1 802,11 $)"
    assert "en retard de 46 jours" in reminder.get_body(("plain",)).get_content()


def test_a_bilingual_invoice_has_both_languages(repo):
    repo.write(
        "settings.yaml",
        (repo.root / "settings.yaml")
        .read_text()
        .replace('GST/HST: "123456789RT0001"', 'GST/HST: "123456789RT0001", QST: "1234567890TQ0001"'),
    )
    repo.client("B1", "language: bilingual\n", name="Bilingue Inc", province="QC")
    repo.users("2024-10", "B1", 2)
    ok(repo, "bill", "2024-10")
    text = "\n".join(pdf_text((repo.root / "build/2024-10/B1-202410.pdf").read_bytes()))
    # 2 x 15.00 = 30.00; GST 5% 1.50; QST 9.975% 2.9925 -> 2.99; total 34.49
    for expected in (
        "Invoice no. / No de facture B1-202410",
        "Thanks",
        "Due date / Date d'échéance 2024-11-30",
        "Subtotal / Sous-total $30.00",
        "GST / TPS 5%",
        "QST / TVQ 9.975%",
        "Total $34.49",
        "Amount due / Montant dû $34.49",
        "Page 1 of 2 / Page 1 de 2",
    ):
        assert expected in text, expected


def test_an_unknown_language_is_an_error_with_the_choices(repo):
    repo.client("X1", "language: de\n")
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 1
    assert re.search(r"clients/X1\.yaml:6: 'language' is 'de', not one of: en, fr, bilingual", result.output)
