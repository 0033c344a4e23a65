"""The demo's billing: whom the cooperative bills, where, at what prices, and the month's invoices.

Before the day, every workshop of the seeded cooperative gets an address in Liège and a billing
e-mail, a private person who uses the printers and the laser joins (billed in person, reached by
e-mail rather than on Peppol), and the example price list is loaded. After the day, the month is
drafted (each draft checked against the official Peppol rules), issued on the demo's today with
the next numbers, and the accountant's zip is written into the demo's data folder: what a manager
does at the end of a month, on the hub's default billing settings.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import catalog, exports, service
from hub.billing.document import ZERO, Document
from hub.billing.models import DocumentStatus
from hub.billing.settings import BillingSettings
from hub.registry import service as registry
from hub.registry.models import Organisation
from machinerie.cooperative import Artisan, badge_uid

EXAMPLE_TARIFFS = Path(__file__).resolve().parents[1] / "deploy" / "tariffs.example.toml"
CITY = "Liège"

# Registered offices of the demo's workshops (street, postcode), by workshop name.
ADDRESSES = {
    "Bois Vif": ("Rue Puits-en-Sock 58", "4020"),
    "Terre & Feu": ("Rue Saint-Léonard 312", "4000"),
    "Fil d'Ourthe": ("Quai de l'Ourthe 14", "4020"),
    "Forge du Longdoz": ("Rue Grétry 101", "4020"),
    "Atelier Outremeuse": ("Rue Surlet 27", "4020"),
    "Céramiques Sainte-Marguerite": ("Rue Sainte-Marguerite 85", "4000"),
    "Luminaires Saint-Léonard": ("Place Vivegnis 9", "4000"),
    "Verrerie de la Dérivation": ("Quai de la Dérivation 41", "4020"),
    "Cuir & Sellerie Féronstrée": ("Féronstrée 126", "4000"),
    "Typographie du Carré": ("Rue du Pot d'Or 18", "4000"),
    "Meubles Vennes": ("Rue des Vennes 212", "4020"),
    "Dynamocoop": ("Rue Dony 1", "4000"),
}
# Where a workshop added to the cooperative without an address here is billed: the ateliers.
DEFAULT_ADDRESS = ("Rue Dony 1", "4000")


@dataclass(frozen=True)
class PrivatePerson:
    """Someone who uses the machines without a business: billed in person, by e-mail."""

    name: str
    email: str
    street: str
    postcode: str
    machines: tuple[str, ...]


PRIVATE_PERSON = PrivatePerson(
    name="Sophie Rasquin",
    email="sophie.rasquin@courriel.example",
    street="Rue Hors-Château 40",
    postcode="4000",
    machines=("laser-1", "printer-2", "printer-3"),
)


# ------------------------------------------------------------ before the day


def prepare(
    session: Session, rng: random.Random, *, now: datetime, tariffs: Path = EXAMPLE_TARIFFS
) -> Artisan:
    """Billing details for the seeded cooperative, the private person, the price list.

    Returns the private person, who badges like the artisans do.
    """
    give_billing_details(session)
    person = add_private_person(session, rng, PRIVATE_PERSON, now=now)
    catalog.load_price_list(session, tariffs, now=now)
    return person


def give_billing_details(session: Session) -> None:
    for organisation in session.scalars(select(Organisation).order_by(Organisation.id)):
        street, postcode = ADDRESSES.get(organisation.name, DEFAULT_ADDRESS)
        registry.update_organisation_billing(
            session,
            organisation_id=organisation.id,
            street=street,
            postcode=postcode,
            city=CITY,
            billing_email=f"facturation@{_slug(organisation.name)}.example",
        )


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def add_private_person(
    session: Session, rng: random.Random, person: PrivatePerson, *, now: datetime
) -> Artisan:
    member = registry.create_member(
        session,
        name=person.name,
        email=person.email,
        street=person.street,
        postcode=person.postcode,
        city=CITY,
    )
    uid = badge_uid(rng)
    registry.enrol_badge(session, uid=uid, member_id=member.id, now=now)
    for machine_id in person.machines:
        registry.grant_qualification(
            session,
            member_id=member.id,
            machine_id=machine_id,
            role="user",
            granted_by="seed",
            now=now,
        )
    session.flush()
    return Artisan(member.id, person.name, "", uid, person.machines)


# ------------------------------------------------------------ after the day


@dataclass(frozen=True)
class MonthBilling:
    """A month billed: what the drafts came to, the documents issued, the accountant's zip."""

    month: str
    drafted_payable: Decimal
    documents: tuple[Document, ...]  # issued, in number order
    zip_path: Path

    @property
    def numbers(self) -> list[str]:
        return [doc.number or "" for doc in self.documents]

    @property
    def payable(self) -> Decimal:
        return sum((doc.totals().payable for doc in self.documents), ZERO)


def bill_month(
    sessions: sessionmaker[Session],
    month: str,
    folder: Path,
    *,
    today: date,
    now: datetime,
    settings: BillingSettings | None = None,
) -> MonthBilling:
    """Draft the month, issue its drafts on `today`, write `machinerie-<month>.zip` in `folder`.

    Raises a `hub.errors.HubError` when the month cannot be billed (a session no tariff covers,
    a document the Peppol rules refuse): nothing is issued then.
    """
    settings = settings or BillingSettings()
    drafted = service.draft_month(sessions, month, settings, now=now)
    if drafted.drafts:  # a day of free sessions only leaves nothing to issue
        service.issue_month(sessions, month, settings, today=today, now=now)
    with sessions() as session:
        rows = service.documents(session, month=month, status=DocumentStatus.ISSUED)
        data = exports.month_zip(
            rows,
            settings.accounts,
            preset_name=settings.journal_preset,
            language=settings.language,
        )
        documents = tuple(service.document_of(row) for row in rows)
    path = folder / f"machinerie-{month}.zip"
    path.write_bytes(data)
    return MonthBilling(month, drafted.total_payable, documents, path)


Justify = Literal["left", "right"]


def invoices_table(billing: MonthBilling) -> Table:
    table = Table(title=f"Invoices of {billing.month} (issued)")
    columns: tuple[tuple[str, Justify], ...] = (
        ("number", "left"),
        ("buyer", "left"),
        ("net €", "right"),
        ("VAT €", "right"),
        ("due €", "right"),
        ("reference", "left"),
    )
    for column, justify in columns:
        # Only the buyer's name may wrap: a number or a reference is read whole.
        table.add_column(
            column,
            justify=justify,
            no_wrap=column != "buyer",
            min_width=14 if column == "buyer" else None,
        )
    for doc in billing.documents:
        totals = doc.totals()
        table.add_row(
            doc.number or "",
            doc.buyer.name,
            f"{totals.tax_exclusive}",
            f"{totals.tax}",
            f"{totals.payable}",
            doc.payment.reference or "",
        )
    excl = sum((doc.totals().tax_exclusive for doc in billing.documents), ZERO)
    tax = sum((doc.totals().tax for doc in billing.documents), ZERO)
    table.add_row("[bold]total[/]", "", f"{excl}", f"{tax}", f"{billing.payable}", "")
    return table
