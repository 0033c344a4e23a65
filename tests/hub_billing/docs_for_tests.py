"""Small billing documents for the PDF and journal tests: the ateliers Dony bill two occupants."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict, Unpack

from hub.billing.document import (
    ZERO,
    Allowance,
    Document,
    InvoiceReference,
    Line,
    Party,
    Payment,
    VatCategory,
    VatRate,
)
from tests.hub_billing import builders
from tests.hub_billing.builders import party, zero_rate

REVERSE = zero_rate(VatCategory.REVERSE_CHARGE, "VATEX-EU-AE", "Autoliquidation")

COMPANY = party(
    "Atelier Bois Exemple SRL",
    "Quai de la Batte 3, 4020 Liège",
    "org-0007",
    enterprise="0765432146",
)
PERSON = party("Élise Dubois", "Rue Féronstrée 80, 4000 Liège", "m-0042", email="elise@example.org")
NOVEMBER = builders.Month(
    seller=builders.seller("Dynamocoop SC", "factures@dynamocoop.be"),
    first=date(2026, 11, 1),
    last=date(2026, 11, 30),
    bank=Payment(iban="BE71096123456769", bic="GKCCBEBB", terms="Payable à 30 jours"),
)


class LineFields(TypedDict, total=False):
    base_quantity: builders.Amount
    vat: VatRate
    note: str | None


def line(
    line_id: str = "1",
    name: str = "Découpe laser",
    quantity: str = "95",
    *,
    unit: str = "MIN",
    price: str = "25.00",
    account: str = "700100",
    **fields: Unpack[LineFields],
) -> Line:
    """By default 95 minutes of laser at 25.00 an hour (39.58), on the laser's sales account."""
    return builders.line(
        name, quantity, price, line_id=line_id, unit=unit, account=account, **fields
    )


def invoice(
    lines: tuple[Line, ...] | None = None,
    *,
    number: str | None = "F2026-000042",
    buyer: Party = COMPANY,
    allowances: tuple[Allowance, ...] = (),
    prepaid: Decimal = ZERO,
) -> Document:
    """November 2026 of an occupant, issued on 3 December (a draft when `number` is None)."""
    return NOVEMBER.document(
        number,
        buyer,
        lines if lines is not None else (line(),),
        issued=date(2026, 12, 3),
        reference=2026000042,
        allowances=allowances,
        prepaid=prepaid,
    )


def credit_note(lines: tuple[Line, ...] | None = None) -> Document:
    """Cancels part of invoice F2026-000012 of 5 December 2026."""
    return NOVEMBER.document(
        "NC2026-000003",
        COMPANY,
        lines if lines is not None else (line(),),
        issued=date(2026, 12, 10),
        due_date=None,
        corrects=InvoiceReference(number="F2026-000012", issue_date=date(2026, 12, 5)),
    )
