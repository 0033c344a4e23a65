"""Hand-built billing documents for Dynamocoop, one per case the e-invoice must get right.

Plain functions returning `Document`s, issued (numbered and dated), so any test can turn them
into UBL, PDF or journal lines. The identifiers are fictitious but pass their check digits:
enterprise numbers by mod 97, the IBAN by ISO 7064, French VAT numbers by their key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from hub.billing.document import (
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

PERIOD_START = date(2026, 3, 1)
PERIOD_END = date(2026, 3, 31)
ISSUED = date(2026, 4, 3)
DUE = date(2026, 5, 3)
IBAN = "BE68539007547034"
TERMS = "Paiement à 30 jours par virement, avec la communication structurée."
REFUND_TERMS = "Remboursement par virement sur votre compte dans les 30 jours."

S21 = VatRate()
S6 = VatRate(percent=Decimal(6))
ZERO_RATED = VatRate(category=VatCategory.ZERO_RATED, percent=Decimal(0))
EXEMPT = VatRate(
    category=VatCategory.EXEMPT,
    percent=Decimal(0),
    exemption_code="VATEX-EU-132",
    exemption_reason="Exonération de la TVA, article 44 du Code de la TVA",
)
REVERSE_CHARGE = VatRate(
    category=VatCategory.REVERSE_CHARGE,
    percent=Decimal(0),
    exemption_code="VATEX-EU-AE",
    exemption_reason="Autoliquidation, article 51 § 2 du Code de la TVA",
)
INTRA_COMMUNITY = VatRate(
    category=VatCategory.INTRA_COMMUNITY,
    percent=Decimal(0),
    exemption_code="VATEX-EU-IC",
    exemption_reason="Livraison intracommunautaire exemptée, article 39bis du Code de la TVA",
)
EXPORT = VatRate(
    category=VatCategory.EXPORT,
    percent=Decimal(0),
    exemption_code="VATEX-EU-G",
    exemption_reason="Exportation hors de l'Union, article 39 du Code de la TVA",
)
NOT_SUBJECT = VatRate(
    category=VatCategory.NOT_SUBJECT,
    percent=Decimal(0),
    exemption_code="VATEX-EU-O",
    exemption_reason="Hors champ de la TVA belge, article 21 § 2 du Code de la TVA",
)

SELLER = Party(
    name="Dynamocoop SCRL",
    address=Address(street="Rue Dony 12", city="Liège", postcode="4000"),
    endpoint_scheme="0208",
    endpoint_id="0403170701",
    reference="dynamocoop",
    enterprise_number="0403170701",
    vat_number="BE0403170701",
    email="facturation@dynamocoop.be",
)
WOODWORKER = Party(
    name="Menuiserie Lambert SRL",
    address=Address(street="Quai de la Boverie 8", city="Liège", postcode="4020"),
    endpoint_scheme="0208",
    endpoint_id="0812345603",
    reference="org-0007",
    enterprise_number="0812345603",
    vat_number="BE0812345603",
    email="compta@menuiserie-lambert.be",
)
CONTRACTOR = Party(
    name="Constructions Meuse SA",
    address=Address(street="Rue de Visé 140", city="Herstal", postcode="4040"),
    endpoint_scheme="0208",
    endpoint_id="0650123494",
    reference="org-0012",
    enterprise_number="0650123494",
    vat_number="BE0650123494",
)
TEACHER = Party(
    name="Atelier Découverte ASBL",
    address=Address(street="Rue Saint-Léonard 201", city="Liège", postcode="4000"),
    endpoint_scheme="0208",
    endpoint_id="0742987138",
    reference="org-0019",
    enterprise_number="0742987138",
    vat_number="BE0742987138",
)
# A member without a business: outside the e-invoicing mandate, reached by e-mail.
MEMBER = Party(
    name="Marie Dupont",
    address=Address(street="Rue Jonfosse 33", city="Liège", postcode="4000"),
    endpoint_scheme="EM",
    endpoint_id="marie.dupont@example.org",
    reference="m-0042",
    email="marie.dupont@example.org",
)
FRENCH_MAKER = Party(
    name="Ébénisterie du Nord SAS",
    address=Address(street="Rue Nationale 55", city="Lille", postcode="59000", country="FR"),
    endpoint_scheme="9957",
    endpoint_id="FR44732829320",
    reference="org-0031",
    vat_number="FR44732829320",
)
SWISS_STUDIO = Party(
    name="Studio Jura Sàrl",
    address=Address(street="Rue du Marché 4", city="Delémont", postcode="2800", country="CH"),
    endpoint_scheme="0183",
    endpoint_id="CHE100200301",
    reference="org-0040",
)


def _payment(sequence: int, *, terms: str = TERMS, bic: str | None = None) -> Payment:
    return Payment(
        iban=IBAN,
        bic=bic,
        reference=structured_reference(2026_000_000 + sequence),
        terms=terms,
    )


def _invoice(
    sequence: int,
    buyer: Party,
    lines: tuple[Line, ...],
    **extra: object,
) -> Document:
    fields: dict[str, object] = {
        "kind": DocumentKind.INVOICE,
        "number": f"F2026-{sequence:06d}",
        "issue_date": ISSUED,
        "due_date": DUE,
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "seller": SELLER,
        "buyer": buyer,
        "lines": lines,
        "payment": _payment(sequence),
    }
    fields.update(extra)
    return Document.model_validate(fields)


def _minutes(line_id: str, machine: str, name: str, minutes: int, hourly: str) -> Line:
    """Machine time counted in minutes, priced per hour: base quantity 60 minutes."""
    return Line(
        line_id=line_id,
        name=name,
        quantity=Decimal(minutes),
        unit="MIN",
        price=Decimal(hourly),
        base_quantity=Decimal(60),
        vat=S21,
        machine_id=machine,
    )


def machine_month() -> Document:
    """(a) A woodworker's month: minutes, hours, session fees, energy and included free time."""
    lines = (
        _minutes("1", "laser-01", "Découpeuse laser Trotec Speedy 400", 240, "30.00"),
        Line(
            line_id="2",
            name="Fraiseuse CNC ShopBot PRSalpha",
            quantity=Decimal("3.5"),
            unit="HUR",
            price=Decimal("40.00"),
            vat=S21,
            machine_id="cnc-01",
            note="Temps de broche, arrondi au quart d'heure par session",
        ),
        Line(
            line_id="3",
            name="Frais de session, atelier bois",
            quantity=Decimal(12),
            unit="C62",
            price=Decimal("2.50"),
            vat=S21,
        ),
        Line(
            line_id="4",
            name="Énergie de la cabine de peinture",
            quantity=Decimal("37.4"),
            unit="KWH",
            price=Decimal("0.35"),
            vat=S21,
            machine_id="paint-booth",
        ),
        _minutes("5", "print-03", "Imprimante 3D Prusa MK4, minutes incluses", 120, "0"),
    )
    return _invoice(
        1,
        WOODWORKER,
        lines,
        note="Utilisation des machines des ateliers Dony, mars 2026.",
        payment=_payment(1, bic="GKCCBEBB"),
    )


def mixed_rates() -> Document:
    """(b) Two standard rates on one invoice: machine time at 21 %, a printed manual at 6 %."""
    lines = (
        _minutes("1", "laser-01", "Découpeuse laser Trotec Speedy 400", 90, "30.00"),
        Line(
            line_id="2",
            name="Guide imprimé : sécurité à l'atelier bois",
            quantity=Decimal(2),
            unit="C62",
            price=Decimal("12.50"),
            vat=S6,
        ),
    )
    return _invoice(2, WOODWORKER, lines)


def exempt_training() -> Document:
    """(c) An exempt training session (article 44) beside taxed machine time."""
    lines = (
        Line(
            line_id="1",
            name="Formation sécurité, scie à format",
            quantity=Decimal(1),
            unit="C62",
            price=Decimal("85.00"),
            vat=EXEMPT,
        ),
        _minutes("2", "saw-02", "Scie à format Altendorf F45", 45, "24.00"),
    )
    return _invoice(3, TEACHER, lines)


def reverse_charge() -> Document:
    """(d) Works for a building contractor: the VAT is due by the buyer (co-contractor rule)."""
    lines = (
        Line(
            line_id="1",
            name="Découpe de panneaux pour chantier, rue de Visé",
            quantity=Decimal(6),
            unit="HUR",
            price=Decimal("45.00"),
            vat=REVERSE_CHARGE,
            machine_id="cnc-01",
        ),
    )
    return _invoice(4, CONTRACTOR, lines)


def monthly_cap() -> Document:
    """(e) A resident who reached the monthly cap: the excess comes off as an allowance."""
    lines = (
        _minutes("1", "laser-01", "Découpeuse laser Trotec Speedy 400", 600, "30.00"),
        _minutes("2", "cnc-01", "Fraiseuse CNC ShopBot PRSalpha", 300, "40.00"),
    )
    cap = Allowance(
        reason="Plafond mensuel des résidents (400,00 EUR HTVA) atteint",
        amount=Decimal("100.00"),
        vat=S21,
    )
    return _invoice(5, WOODWORKER, lines, allowances=(cap,))


def prepaid_balance() -> Document:
    """(f) Part of the month paid in advance from the member's prepaid balance."""
    lines = (_minutes("1", "laser-01", "Découpeuse laser Trotec Speedy 400", 180, "30.00"),)
    return _invoice(6, WOODWORKER, lines, prepaid=Decimal("50.00"))


def private_member() -> Document:
    """(g) A private person: no enterprise or VAT number, addressed by e-mail (`EM`)."""
    lines = (_minutes("1", "print-03", "Imprimante 3D Prusa MK4", 150, "6.00"),)
    return _invoice(7, MEMBER, lines)


def credit_note() -> Document:
    """(h) Credits the laser time of (a) that a badge mix-up put on the wrong member."""
    original = machine_month()
    assert original.number is not None and original.issue_date is not None
    lines = (
        Line(
            line_id="1",
            name="Découpeuse laser Trotec Speedy 400",
            quantity=Decimal(60),
            unit="MIN",
            price=Decimal("30.00"),
            base_quantity=Decimal(60),
            vat=S21,
            machine_id="laser-01",
            note="Session du 12 mars attribuée par erreur",
        ),
    )
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        number="NC2026-000001",
        issue_date=date(2026, 4, 10),
        due_date=date(2026, 5, 10),
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        seller=SELLER,
        buyer=WOODWORKER,
        lines=lines,
        payment=_payment(101, terms=REFUND_TERMS),
        note="Correction de la facture F2026-000001.",
        corrects=InvoiceReference(number=original.number, issue_date=original.issue_date),
    )


def free_only() -> Document:
    """(i) A month of included time only: every line at price 0, nothing to pay."""
    lines = (
        _minutes("1", "print-03", "Imprimante 3D Prusa MK4, minutes incluses", 120, "0"),
        Line(
            line_id="2",
            name="Frais de session offerts",
            quantity=Decimal(3),
            unit="C62",
            price=Decimal(0),
            vat=S21,
        ),
    )
    return _invoice(8, WOODWORKER, lines)


def rounded_line() -> Document:
    """(j) 95 minutes at 25.00 per hour: 39.5833... rounds half up to 39.58."""
    lines = (_minutes("1", "vinyl-01", "Découpeuse vinyle Roland GS-24", 95, "25.00"),)
    return _invoice(9, WOODWORKER, lines)


def zero_rated() -> Document:
    """(k) A zero-rated supply: rate 0, and no exemption reason allowed (BR-Z-10)."""
    lines = (
        Line(
            line_id="1",
            name="Journal de l'atelier, abonnement",
            quantity=Decimal(1),
            unit="C62",
            price=Decimal("15.00"),
            vat=ZERO_RATED,
        ),
    )
    return _invoice(10, WOODWORKER, lines)


def intra_community() -> Document:
    """(l) Goods shipped to a French business: exempt intra-community supply."""
    lines = (
        Line(
            line_id="1",
            name="Panneaux découpés au laser, lot 14",
            quantity=Decimal(20),
            unit="C62",
            price=Decimal("18.75"),
            vat=INTRA_COMMUNITY,
        ),
    )
    return _invoice(11, FRENCH_MAKER, lines)


def export() -> Document:
    """(m) Goods exported to Switzerland."""
    lines = (
        Line(
            line_id="1",
            name="Gabarits de fraisage sur mesure",
            quantity=Decimal(4),
            unit="C62",
            price=Decimal("62.00"),
            vat=EXPORT,
        ),
    )
    return _invoice(12, SWISS_STUDIO, lines)


def not_subject() -> Document:
    """(n) A service whose place of supply is outside Belgium: no VAT identifiers at all."""
    lines = (
        Line(
            line_id="1",
            name="Conception de fichiers de découpe, à distance",
            quantity=Decimal(5),
            unit="HUR",
            price=Decimal("55.00"),
            vat=NOT_SUBJECT,
        ),
    )
    return _invoice(13, SWISS_STUDIO, lines)


SCENARIOS: dict[str, Callable[[], Document]] = {
    "machine_month": machine_month,
    "mixed_rates": mixed_rates,
    "exempt_training": exempt_training,
    "reverse_charge": reverse_charge,
    "monthly_cap": monthly_cap,
    "prepaid_balance": prepaid_balance,
    "private_member": private_member,
    "credit_note": credit_note,
    "free_only": free_only,
    "rounded_line": rounded_line,
    "zero_rated": zero_rated,
    "intra_community": intra_community,
    "export": export,
    "not_subject": not_subject,
}


def all_scenarios() -> dict[str, Document]:
    """Every scenario by name, freshly built."""
    return {name: build() for name, build in SCENARIOS.items()}
