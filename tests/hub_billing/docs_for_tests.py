"""Small billing documents for the PDF and journal tests: the ateliers Dony bill two occupants."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hub.billing.document import (
    ZERO,
    Address,
    Allowance,
    Document,
    DocumentKind,
    InvoiceReference,
    Line,
    Party,
    Payment,
    VatCategory,
    VatRate,
    structured_reference,
)
from tests.hub_billing.scenarios import S21

S12 = VatRate(percent=Decimal(12))
REVERSE = VatRate(
    category=VatCategory.REVERSE_CHARGE,
    percent=Decimal(0),
    exemption_code="VATEX-EU-AE",
    exemption_reason="Autoliquidation",
)

SELLER = Party(
    name="Dynamocoop SC",
    address=Address(street="Rue Dony 12", city="Liège", postcode="4000"),
    endpoint_scheme="0208",
    endpoint_id="0403170701",
    reference="dynamocoop",
    enterprise_number="0403170701",
    vat_number="BE0403170701",
    email="factures@dynamocoop.be",
)

COMPANY = Party(
    name="Atelier Bois Exemple SRL",
    address=Address(street="Quai de la Batte 3", city="Liège", postcode="4020"),
    endpoint_scheme="0208",
    endpoint_id="0765432146",
    reference="org-0007",
    enterprise_number="0765432146",
    vat_number="BE0765432146",
)

PERSON = Party(
    name="Élise Dubois",
    address=Address(street="Rue Féronstrée 80", city="Liège", postcode="4000"),
    endpoint_scheme="EM",
    endpoint_id="elise@example.org",
    reference="m-0042",
    email="elise@example.org",
)


def payment(base10: int = 2026000042) -> Payment:
    return Payment(
        iban="BE71096123456769",
        bic="GKCCBEBB",
        reference=structured_reference(base10),
        terms="Payable à 30 jours",
    )


def line(
    line_id: str = "1",
    name: str = "Découpe laser",
    quantity: str = "95",
    *,
    unit: str = "MIN",
    price: str = "25.00",
    base_quantity: str = "60",
    vat: VatRate = S21,
    account: str = "700100",
    note: str | None = None,
) -> Line:
    return Line(
        line_id=line_id,
        name=name,
        quantity=Decimal(quantity),
        unit=unit,
        price=Decimal(price),
        base_quantity=Decimal(base_quantity),
        vat=vat,
        account=account,
        note=note,
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
    return Document(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_date=date(2026, 12, 3) if number else None,
        due_date=date(2027, 1, 2) if number else None,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        seller=SELLER,
        buyer=buyer,
        lines=lines if lines is not None else (line(),),
        allowances=allowances,
        prepaid=prepaid,
        payment=payment(),
    )


def credit_note(lines: tuple[Line, ...] | None = None) -> Document:
    """Cancels part of invoice F2026-000012 of 5 December 2026."""
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        number="NC2026-000003",
        issue_date=date(2026, 12, 10),
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        seller=SELLER,
        buyer=COMPANY,
        lines=lines if lines is not None else (line(),),
        payment=payment(2026000003),
        corrects=InvoiceReference(number="F2026-000012", issue_date=date(2026, 12, 5)),
    )
