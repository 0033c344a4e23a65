"""The invoice PDF as its reader sees it: the text on its pages, in French or English."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from hub.billing.document import Allowance
from hub.billing.pdf import EN, FR, format_money, format_number, format_price, render_pdf
from hub.errors import Invalid
from tests.hub_billing.builders import S6, S21
from tests.hub_billing.docs_for_tests import (
    PERSON,
    REVERSE,
    credit_note,
    invoice,
    line,
)
from tests.hub_billing.scenarios import EXEMPT

NBSP = "\u00a0"


def pages(pdf: bytes) -> list[str]:
    """Each page's text, with no-break spaces read as spaces."""
    return [page.extract_text().replace(NBSP, " ") for page in PdfReader(io.BytesIO(pdf)).pages]


def text(pdf: bytes) -> str:
    return "\n".join(pages(pdf))


def mixed_invoice() -> bytes:
    """Four rates, a monthly cap and a prepaid part: every block of the PDF has something."""
    return render_pdf(
        invoice(
            (
                line(),
                line(
                    "2",
                    "Fraiseuse CNC",
                    "3.5",
                    unit="HUR",
                    price="1234.50",
                    base_quantity="1",
                    vat=S6,
                    note="Sessions du 3 et 5",
                ),
                line("3", "Énergie", "12", unit="KWH", price="0.35", base_quantity="1", vat=EXEMPT),
                line(
                    "4",
                    "Pose de cloison",
                    "1",
                    unit="C62",
                    price="10",
                    base_quantity="1",
                    vat=REVERSE,
                ),
            ),
            allowances=(Allowance(reason="Plafond mensuel", amount=Decimal("5.00"), vat=S21),),
            prepaid=Decimal("100.00"),
        )
    )


def test_french_invoice_names_both_parties_with_their_belgian_numbers() -> None:
    page = text(mixed_invoice())

    for expected in (
        "Facture F2026-000042",
        "Dynamocoop SC",
        "BCE 0403.170.701",
        "TVA BE0403.170.701",
        "IBAN BE71 0961 2345 6769 · BIC GKCCBEBB",
        "Atelier Bois Exemple SRL",
        "Quai de la Batte 3",
        "4020 Liège",
        "TVA BE0765.432.146",
        "org-0007",
    ):
        assert expected in page


def test_dates_and_period_are_written_day_first() -> None:
    page = text(mixed_invoice())

    assert "03/12/2026" in page
    assert "Échéance :\n02/01/2027" in page
    assert "Période du 01/11/2026 au 30/11/2026" in page


def test_lines_show_quantities_in_words_prices_per_base_and_french_amounts() -> None:
    page = text(mixed_invoice())

    # 95 minutes at 25 € an hour, and 3.5 hours at 1 234.50 € an hour.
    assert "95 min\n25,00 € / 60 min\n21 %\n39,58 €" in page
    assert "3,5 h\n1 234,50 € / h\n6 %\n4 320,75 €" in page
    assert "12 kWh\n0,35 € / kWh" in page
    assert "1 pcs\n10,00 € / pcs" in page
    assert "Sessions du 3 et 5" in page


def test_vat_recap_gives_base_rate_and_tax_per_rate_with_the_legal_mentions() -> None:
    page = text(mixed_invoice())

    # 21 %: 39.58 less the 5.00 cap = 34.58, VAT 7.26; 6 %: 4 320.75, VAT 259.25.
    assert "21 %\n34,58 €\n7,26 €" in page
    assert "6 %\n4 320,75 €\n259,25 €" in page
    assert "0 % (AE)\n10,00 €\n0,00 €" in page
    assert "0 % (AE) : Autoliquidation" in page
    assert "0 % (E) : Exonération de la TVA, article 44 du Code de la TVA" in page
    assert "Plafond mensuel\n21 %\n-5,00 €" in page


def test_totals_deduct_what_was_prepaid() -> None:
    page = text(mixed_invoice())

    assert "Total HTVA\n4 369,53 €" in page
    assert "TVA\n266,51 €" in page
    assert "Total TVAC\n4 636,04 €" in page
    assert "Déjà payé\n-100,00 €" in page
    assert "À payer\n4 536,04 €" in page


def test_payment_block_gives_amount_account_and_structured_communication() -> None:
    page = text(mixed_invoice())

    assert "Merci de verser 4 536,04 € au plus tard le 02/01/2027" in page
    assert "Communication structurée : +++202/6000/04236+++" in page
    assert "Payable à 30 jours" in page


def test_a_private_buyer_is_marked_as_such() -> None:
    page = text(render_pdf(invoice(buyer=PERSON)))

    assert "Élise Dubois" in page
    assert "Particulier" in page


def test_credit_note_names_the_invoice_it_corrects() -> None:
    page = text(render_pdf(credit_note()))

    assert "Note de crédit NC2026-000003" in page
    assert "Corrige la facture F2026-000012 du 05/12/2026" in page
    assert "À rembourser\n47,89 €" in page


def test_a_long_month_flows_over_pages_with_the_column_titles_on_each() -> None:
    lines = tuple(line(str(i), f"Machine {i:03d}", str(i)) for i in range(1, 201))

    result = pages(render_pdf(invoice(lines)))

    assert len(result) > 1
    assert all("Description\nQuantité\nPrix unitaire\nTVA\nMontant HTVA" in p for p in result)
    assert all(f"Page {n} / {len(result)}" in p for n, p in enumerate(result, start=1))
    assert "Machine 200" in result[-1]
    assert "À payer" in result[-1]


def test_the_same_document_gives_the_same_bytes() -> None:
    assert mixed_invoice() == mixed_invoice()


def test_a_draft_is_marked_and_has_no_number() -> None:
    page = text(render_pdf(invoice(number=None)))

    assert "BROUILLON" in page
    assert "F2026" not in page
    assert "Numéro" not in page


def test_english_variant() -> None:
    page = text(render_pdf(invoice(), language="en"))

    assert "Invoice F2026-000042" in page
    assert "Period from 01/11/2026 to 30/11/2026" in page
    assert "95 min\n€25.00 / 60 min\n21%\n€39.58" in page
    assert "Amount due\n€47.89" in page
    assert "Structured reference: +++202/6000/04236+++" in page
    assert "DRAFT" in text(render_pdf(invoice(number=None), language="en"))


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(Invalid):
        render_pdf(invoice(), language="nl")


def test_french_number_format_uses_no_break_spaces() -> None:
    assert format_money(Decimal("1234567.5"), FR) == f"1{NBSP}234{NBSP}567,50{NBSP}€"
    assert format_money(Decimal("-5"), FR) == f"-5,00{NBSP}€"
    assert format_money(Decimal("1234.5"), EN) == "€1,234.50"
    assert format_number(Decimal("2.50"), FR, None) == "2,5"
    # A per-minute price keeps its precision; a round one shows cents.
    assert format_price(Decimal("0.41667"), FR) == f"0,41667{NBSP}€"
    assert format_price(Decimal("25"), FR) == f"25,00{NBSP}€"
