"""Hand-built billing documents for Dynamocoop, one per case the e-invoice must get right.

A table of scenarios, each an issued (numbered and dated) `Document` of March 2026, so any test
can turn them into UBL, PDF or journal lines; a new case is a row. The identifiers are fictitious
but pass their check digits: enterprise numbers by mod 97, the IBAN by ISO 7064, French VAT
numbers by their key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from hub.billing.document import (
    Allowance,
    Document,
    InvoiceReference,
    Line,
    Party,
    Payment,
    VatCategory,
)
from tests.hub_billing.builders import S6, S21, Month, line, party, seller, zero_rate

ISSUED = date(2026, 4, 3)
TERMS = "Paiement à 30 jours par virement, avec la communication structurée."
REFUND_TERMS = "Remboursement par virement sur votre compte dans les 30 jours."

ZERO_RATED = zero_rate(VatCategory.ZERO_RATED)
EXEMPT = zero_rate(
    VatCategory.EXEMPT, "VATEX-EU-132", "Exonération de la TVA, article 44 du Code de la TVA"
)
REVERSE_CHARGE = zero_rate(
    VatCategory.REVERSE_CHARGE, "VATEX-EU-AE", "Autoliquidation, article 51 § 2 du Code de la TVA"
)
INTRA_COMMUNITY = zero_rate(
    VatCategory.INTRA_COMMUNITY,
    "VATEX-EU-IC",
    "Livraison intracommunautaire exemptée, article 39bis du Code de la TVA",
)
EXPORT = zero_rate(
    VatCategory.EXPORT, "VATEX-EU-G", "Exportation hors de l'Union, article 39 du Code de la TVA"
)
NOT_SUBJECT = zero_rate(
    VatCategory.NOT_SUBJECT,
    "VATEX-EU-O",
    "Hors champ de la TVA belge, article 21 § 2 du Code de la TVA",
)

MARCH = Month(
    seller=seller("Dynamocoop SCRL", "facturation@dynamocoop.be"),
    first=date(2026, 3, 1),
    last=date(2026, 3, 31),
    bank=Payment(iban="BE68539007547034", terms=TERMS),
)
WOODWORKER = party(
    "Menuiserie Lambert SRL",
    "Quai de la Boverie 8, 4020 Liège",
    "org-0007",
    enterprise="0812345603",
    email="compta@menuiserie-lambert.be",
)
CONTRACTOR = party(
    "Constructions Meuse SA", "Rue de Visé 140, 4040 Herstal", "org-0012", enterprise="0650123494"
)
TEACHER = party(
    "Atelier Découverte ASBL",
    "Rue Saint-Léonard 201, 4000 Liège",
    "org-0019",
    enterprise="0742987138",
)
# A member without a business: outside the e-invoicing mandate, reached by e-mail.
MEMBER = party(
    "Marie Dupont", "Rue Jonfosse 33, 4000 Liège", "m-0042", email="marie.dupont@example.org"
)
FRENCH_MAKER = party(
    "Ébénisterie du Nord SAS",
    "Rue Nationale 55, 59000 Lille, FR",
    "org-0031",
    endpoint="9957:FR44732829320",
    vat="FR44732829320",
)
SWISS_STUDIO = party(
    "Studio Jura Sàrl",
    "Rue du Marché 4, 2800 Delémont, CH",
    "org-0040",
    endpoint="0183:CHE100200301",
)

LASER = "Découpeuse laser Trotec Speedy 400"
CNC = "Fraiseuse CNC ShopBot PRSalpha"
PRUSA = "Imprimante 3D Prusa MK4"


def minutes(machine_id: str, name: str, count: int, hourly: str) -> Line:
    """Machine time counted in minutes, priced per hour."""
    return line(name, count, hourly, unit="MIN", machine_id=machine_id)


@dataclass(frozen=True)
class Scenario:
    """A document of March: its number, buyer and lines (numbered in order), issued on 3 April
    unless `issued` says otherwise; the other columns as `Month.document` takes them."""

    number: str
    buyer: Party
    lines: tuple[Line, ...]
    issued: date = ISSUED
    reference: int | None = None
    bank: Payment | None = None
    fields: Mapping[str, object] = field(default_factory=dict)

    def document(self) -> Document:
        lines = tuple(
            each.model_copy(update={"line_id": str(n)}) for n, each in enumerate(self.lines, 1)
        )
        return MARCH.document(
            self.number,
            self.buyer,
            lines,
            issued=self.issued,
            reference=self.reference,
            bank=self.bank,
            **self.fields,
        )


SCENARIOS: dict[str, Scenario] = {
    # (a) A woodworker's month: minutes, hours, session fees, energy and included free time.
    "machine_month": Scenario(
        "F2026-000001",
        WOODWORKER,
        (
            minutes("laser-01", LASER, 240, "30.00"),
            line(
                CNC,
                "3.5",
                "40.00",
                unit="HUR",
                machine_id="cnc-01",
                note="Temps de broche, arrondi au quart d'heure par session",
            ),
            line("Frais de session, atelier bois", 12, "2.50"),
            line(
                "Énergie de la cabine de peinture",
                "37.4",
                "0.35",
                unit="KWH",
                machine_id="paint-booth",
            ),
            minutes("print-03", f"{PRUSA}, minutes incluses", 120, "0"),
        ),
        bank=MARCH.bank.model_copy(update={"bic": "GKCCBEBB"}),
        fields={"note": "Utilisation des machines des ateliers Dony, mars 2026."},
    ),
    # (b) Two standard rates on one invoice: machine time at 21 %, a printed manual at 6 %.
    "mixed_rates": Scenario(
        "F2026-000002",
        WOODWORKER,
        (
            minutes("laser-01", LASER, 90, "30.00"),
            line("Guide imprimé : sécurité à l'atelier bois", 2, "12.50", vat=S6),
        ),
    ),
    # (c) An exempt training session (article 44) beside taxed machine time.
    "exempt_training": Scenario(
        "F2026-000003",
        TEACHER,
        (
            line("Formation sécurité, scie à format", 1, "85.00", vat=EXEMPT),
            minutes("saw-02", "Scie à format Altendorf F45", 45, "24.00"),
        ),
    ),
    # (d) Works for a building contractor: the VAT is due by the buyer (co-contractor rule).
    "reverse_charge": Scenario(
        "F2026-000004",
        CONTRACTOR,
        (
            line(
                "Découpe de panneaux pour chantier, rue de Visé",
                6,
                "45.00",
                unit="HUR",
                vat=REVERSE_CHARGE,
                machine_id="cnc-01",
            ),
        ),
    ),
    # (e) A resident who reached the monthly cap: the excess comes off as an allowance.
    "monthly_cap": Scenario(
        "F2026-000005",
        WOODWORKER,
        (minutes("laser-01", LASER, 600, "30.00"), minutes("cnc-01", CNC, 300, "40.00")),
        fields={
            "allowances": (
                Allowance(
                    reason="Plafond mensuel des résidents (400,00 EUR HTVA) atteint",
                    amount=Decimal("100.00"),
                    vat=S21,
                ),
            )
        },
    ),
    # (f) Part of the month paid in advance from the member's prepaid balance.
    "prepaid_balance": Scenario(
        "F2026-000006",
        WOODWORKER,
        (minutes("laser-01", LASER, 180, "30.00"),),
        fields={"prepaid": Decimal("50.00")},
    ),
    # (g) A private person: no enterprise or VAT number, addressed by e-mail (`EM`).
    "private_member": Scenario("F2026-000007", MEMBER, (minutes("print-03", PRUSA, 150, "6.00"),)),
    # (h) Credits the laser time of (a) that a badge mix-up put on the wrong member.
    "credit_note": Scenario(
        "NC2026-000001",
        WOODWORKER,
        (
            line(
                LASER,
                60,
                "30.00",
                unit="MIN",
                machine_id="laser-01",
                note="Session du 12 mars attribuée par erreur",
            ),
        ),
        issued=date(2026, 4, 10),
        reference=2026_000_101,
        bank=MARCH.bank.model_copy(update={"terms": REFUND_TERMS}),
        fields={
            "note": "Correction de la facture F2026-000001.",
            "corrects": InvoiceReference(number="F2026-000001", issue_date=ISSUED),
        },
    ),
    # (i) A month of included time only: every line at price 0, nothing to pay.
    "free_only": Scenario(
        "F2026-000008",
        WOODWORKER,
        (
            minutes("print-03", f"{PRUSA}, minutes incluses", 120, "0"),
            line("Frais de session offerts", 3, 0),
        ),
    ),
    # (j) 95 minutes at 25.00 per hour: 39.5833... rounds half up to 39.58.
    "rounded_line": Scenario(
        "F2026-000009",
        WOODWORKER,
        (minutes("vinyl-01", "Découpeuse vinyle Roland GS-24", 95, "25.00"),),
    ),
    # (k) A zero-rated supply: rate 0, and no exemption reason allowed (BR-Z-10).
    "zero_rated": Scenario(
        "F2026-000010",
        WOODWORKER,
        (line("Journal de l'atelier, abonnement", 1, "15.00", vat=ZERO_RATED),),
    ),
    # (l) Goods shipped to a French business: exempt intra-community supply.
    "intra_community": Scenario(
        "F2026-000011",
        FRENCH_MAKER,
        (line("Panneaux découpés au laser, lot 14", 20, "18.75", vat=INTRA_COMMUNITY),),
    ),
    # (m) Goods exported to Switzerland.
    "export": Scenario(
        "F2026-000012",
        SWISS_STUDIO,
        (line("Gabarits de fraisage sur mesure", 4, "62.00", vat=EXPORT),),
    ),
    # (n) A service whose place of supply is outside Belgium: no VAT identifiers at all.
    "not_subject": Scenario(
        "F2026-000013",
        SWISS_STUDIO,
        (
            line(
                "Conception de fichiers de découpe, à distance",
                5,
                "55.00",
                unit="HUR",
                vat=NOT_SUBJECT,
            ),
        ),
    ),
}


def build(name: str) -> Document:
    """The scenario `name`, freshly built."""
    return SCENARIOS[name].document()


def all_scenarios() -> dict[str, Document]:
    """Every scenario by name, freshly built."""
    return {name: scenario.document() for name, scenario in SCENARIOS.items()}
