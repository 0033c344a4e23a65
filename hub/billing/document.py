"""The billing document: an invoice or a credit note as EN 16931 sees it, with its arithmetic.

Pure data. Everything the UBL writer, the PDF, the journal and the database need is here, and
every total is derived, never stored beside what it is derived from:

- a line's net amount is `quantity x price / base_quantity`, rounded half up to the cent once
  (`line_amount`), never per session;
- VAT is computed once per (category, rate) on the sum of that rate's line amounts less its
  allowances (`vat_breakdown`), never per line;
- document totals are plain sums of 2-decimal amounts, so they are exact (BR-CO-10 to 16).

A credit note carries positive amounts, as UBL `CreditNote` wants; the journal swaps the sides.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CURRENCY = "EUR"


def money(value: Decimal) -> Decimal:
    """Round half up (away from zero) to the cent: commercial rounding, as Belgian practice."""
    return value.quantize(CENT, ROUND_HALF_UP)


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class VatCategory(StrEnum):
    """UNCL 5305 codes as EN 16931 restricts them (BR-CL-17)."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"


# Categories where EN 16931 wants an exemption reason (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10,
# BR-O-10).
NEEDS_REASON = frozenset(
    {
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.INTRA_COMMUNITY,
        VatCategory.EXPORT,
        VatCategory.NOT_SUBJECT,
    }
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VatRate(Frozen):
    """A VAT category and rate, with the exemption reason the zero-rate categories need."""

    category: VatCategory = VatCategory.STANDARD
    percent: Decimal = Decimal("21")
    # VATEX code (e.g. `VATEX-EU-AE`) and/or text, for the categories in NEEDS_REASON.
    exemption_code: str | None = None
    exemption_reason: str | None = None

    @property
    def key(self) -> tuple[str, Decimal]:
        return self.category.value, self.percent

    def tax(self, taxable: Decimal) -> Decimal:
        return money(taxable * self.percent / 100)


class Address(Frozen):
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str = "BE"  # ISO 3166-1 alpha-2


class Party(Frozen):
    """A seller or buyer. `endpoint_scheme` is an EAS code: `0208` (Belgian enterprise number)
    for businesses on Peppol, `EM` (an e-mail address) for private persons."""

    name: str
    address: Address
    endpoint_scheme: str
    endpoint_id: str
    # Our own code for the buyer (`org-0007`, `m-0042`): the invoice's buyer reference.
    reference: str
    enterprise_number: str | None = None  # legal registration, scheme 0208
    vat_number: str | None = None  # `BE0403170701`
    email: str | None = None


class Payment(Frozen):
    """How the buyer pays: a credit transfer to the seller's IBAN with a structured reference."""

    iban: str
    bic: str | None = None
    means_code: str = "30"  # UNCL 4461: 30 credit transfer, 58 SEPA credit transfer
    # Belgian structured communication `+++123/4567/89012+++`; set when the number is known.
    reference: str | None = None
    terms: str | None = None


class Line(Frozen):
    """One invoice line: a machine's time, idle time, fees, energy or free use for the period."""

    line_id: str
    name: str
    quantity: Decimal
    unit: str  # UN/ECE Rec 20: HUR, MIN, SEC, C62 (a unit), KWH
    price: Decimal  # per `base_quantity` units
    base_quantity: Decimal = Decimal(1)
    vat: VatRate
    note: str | None = None
    machine_id: str | None = None
    # Sales ledger account the journal credits with this line's amount.
    account: str = "700000"

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.price, self.base_quantity)


def line_amount(quantity: Decimal, price: Decimal, base_quantity: Decimal) -> Decimal:
    return money(quantity * price / base_quantity)


class Allowance(Frozen):
    """A document-level discount (a monthly cap reached): it lowers its rate's taxable base."""

    reason: str
    amount: Decimal
    vat: VatRate
    machine_id: str | None = None
    account: str = "700000"


class VatSubtotal(Frozen):
    vat: VatRate
    taxable: Decimal
    tax: Decimal


class Totals(Frozen):
    lines: Decimal  # BT-106
    allowances: Decimal  # BT-107
    tax_exclusive: Decimal  # BT-109
    tax: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    payable: Decimal  # BT-115


class InvoiceReference(Frozen):
    """The invoice a credit note corrects (BG-3)."""

    number: str
    issue_date: date


class Document(Frozen):
    kind: DocumentKind
    # None while a draft: the number is given out only when the document is issued.
    number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    period_start: date
    period_end: date  # inclusive, as BG-14
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    allowances: tuple[Allowance, ...] = ()
    # Credit already paid (a prepaid balance) taken off what is payable.
    prepaid: Decimal = ZERO
    payment: Payment
    note: str | None = None
    corrects: InvoiceReference | None = None
    currency: str = CURRENCY

    def vat_breakdown(self) -> tuple[VatSubtotal, ...]:
        return vat_breakdown(self.lines, self.allowances)

    def totals(self) -> Totals:
        return totals(self.lines, self.allowances, self.prepaid)


def vat_breakdown(
    lines: tuple[Line, ...], allowances: tuple[Allowance, ...]
) -> tuple[VatSubtotal, ...]:
    """One subtotal per (category, rate), in a stable order: the taxable base and its tax."""
    bases: dict[tuple[str, Decimal], Decimal] = defaultdict(lambda: ZERO)
    rates: dict[tuple[str, Decimal], VatRate] = {}
    for line in lines:
        bases[line.vat.key] += line.amount
        rates.setdefault(line.vat.key, line.vat)
    for allowance in allowances:
        bases[allowance.vat.key] -= allowance.amount
        rates.setdefault(allowance.vat.key, allowance.vat)
    return tuple(
        VatSubtotal(vat=rates[key], taxable=bases[key], tax=rates[key].tax(bases[key]))
        for key in sorted(bases)
    )


def totals(
    lines: tuple[Line, ...], allowances: tuple[Allowance, ...], prepaid: Decimal = ZERO
) -> Totals:
    line_total = sum((line.amount for line in lines), ZERO)
    allowance_total = sum((a.amount for a in allowances), ZERO)
    tax_exclusive = line_total - allowance_total
    tax = sum((s.tax for s in vat_breakdown(lines, allowances)), ZERO)
    tax_inclusive = tax_exclusive + tax
    return Totals(
        lines=line_total,
        allowances=allowance_total,
        tax_exclusive=tax_exclusive,
        tax=tax,
        tax_inclusive=tax_inclusive,
        prepaid=prepaid,
        payable=tax_inclusive - prepaid,
    )


def structured_reference(base10: int) -> str:
    """Belgian structured communication from a 10-digit base: `+++xxx/xxxx/xxxxx+++`.

    The check digits are the base modulo 97, with 97 instead of 0 (unlike the enterprise
    number's `97 - x % 97`).
    """
    if not 0 <= base10 < 10**10:
        raise ValueError(f"structured reference base {base10} is not 10 digits")
    digits = f"{base10:010d}"
    full = f"{digits}{int(digits) % 97 or 97:02d}"
    return f"+++{full[:3]}/{full[3:7]}/{full[7:]}+++"
