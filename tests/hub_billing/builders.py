"""Builders of billing documents for the tests: VAT rates, parties, lines and a billing month.

Amounts are given as text or whole numbers and become exact `Decimal`s. Every test document, from
the small ones of the PDF and journal tests to the e-invoice scenarios, is built from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hub.billing.document import (
    Address,
    Document,
    DocumentKind,
    Line,
    Party,
    Payment,
    VatCategory,
    VatRate,
    structured_reference,
)

Amount = str | int  # exact decimal text ("0.35") or a whole number

S21 = VatRate()
S12 = VatRate(percent=Decimal(12))
S6 = VatRate(percent=Decimal(6))


def zero_rate(category: VatCategory, code: str | None = None, reason: str | None = None) -> VatRate:
    """A 0 % category; all but zero-rated supplies must say why, by VATEX code and text."""
    return VatRate(
        category=category, percent=Decimal(0), exemption_code=code, exemption_reason=reason
    )


def address(place: str) -> Address:
    """`Rue Dony 12, 4000 Liège`, or abroad with the country last: `…, 59000 Lille, FR`."""
    street, town, *country = place.split(", ")
    postcode, city = town.split(" ", 1)
    return Address(
        street=street, postcode=postcode, city=city, country=country[0] if country else "BE"
    )


def party(
    name: str,
    place: str,
    reference: str,
    *,
    enterprise: str | None = None,
    email: str | None = None,
    vat: str | None = None,
    endpoint: str | None = None,
) -> Party:
    """A seller or buyer at `place` (see `address`).

    A Belgian business (`enterprise`) is on Peppol under scheme 0208 with VAT number BE and its
    enterprise number; a private person is reached at `email` (scheme EM); anyone else gives its
    `endpoint` as `scheme:id`.
    """
    if endpoint is None:
        endpoint = f"0208:{enterprise}" if enterprise else f"EM:{email}"
    scheme, endpoint_id = endpoint.split(":", 1)
    return Party(
        name=name,
        address=address(place),
        endpoint_scheme=scheme,
        endpoint_id=endpoint_id,
        reference=reference,
        enterprise_number=enterprise,
        vat_number=vat or (f"BE{enterprise}" if enterprise else None),
        email=email,
    )


def seller(name: str, email: str) -> Party:
    """Dynamocoop, the cooperative that runs the ateliers Dony and bills their use."""
    return party(
        name, "Rue Dony 12, 4000 Liège", "dynamocoop", enterprise="0403170701", email=email
    )


def line(
    name: str,
    quantity: Amount,
    price: Amount,
    *,
    line_id: str = "1",
    unit: str = "C62",
    base_quantity: Amount | None = None,
    vat: VatRate = S21,
    account: str = "700000",
    machine_id: str | None = None,
    note: str | None = None,
) -> Line:
    """One invoice line; time counted in minutes (`MIN`) is priced per hour (base 60) unless
    `base_quantity` says otherwise."""
    if base_quantity is None:
        base_quantity = 60 if unit == "MIN" else 1
    return Line(
        line_id=line_id,
        name=name,
        quantity=Decimal(quantity),
        unit=unit,
        price=Decimal(price),
        base_quantity=Decimal(base_quantity),
        vat=vat,
        account=account,
        machine_id=machine_id,
        note=note,
    )


@dataclass(frozen=True)
class Month:
    """A seller's billing month: the period and the account paid into, shared by its documents."""

    seller: Party
    first: date
    last: date
    bank: Payment  # without a reference: each document gets its own

    def document(
        self,
        number: str | None,
        buyer: Party,
        lines: tuple[Line, ...],
        *,
        issued: date,
        reference: int | None = None,
        bank: Payment | None = None,
        **fields: object,
    ) -> Document:
        """An invoice, or a credit note for an `NC` number, due 30 days after `issued`; a draft
        (no dates) when `number` is None. The structured communication is the number's digits
        unless `reference` says otherwise; `bank` replaces the month's account or terms, and
        `fields` set any other field of the document."""
        return Document.model_validate(
            {
                "kind": _kind(number),
                "number": number,
                "issue_date": issued if number else None,
                "due_date": issued + timedelta(days=30) if number else None,
                "period_start": self.first,
                "period_end": self.last,
                "seller": self.seller,
                "buyer": buyer,
                "lines": lines,
                "payment": (bank or self.bank).model_copy(
                    update={"reference": _communication(number, reference)}
                ),
                **fields,
            }
        )


def _kind(number: str | None) -> DocumentKind:
    credit = number is not None and number.startswith("NC")
    return DocumentKind.CREDIT_NOTE if credit else DocumentKind.INVOICE


def _communication(number: str | None, reference: int | None) -> str | None:
    """`F2026-000042` pays with `+++202/6000/04236+++`: year, number, check digits mod 97."""
    digits = "".join(char for char in number or "" if char.isdigit())
    base10 = reference or (int(digits) if digits else None)
    return None if base10 is None else structured_reference(base10)
