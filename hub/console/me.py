"""What an artisan sees of himself on his phone: this month's sessions, hours and cost so far, his
invoices and credit notes, and his qualifications.

Read-only, and only the member's own data; his organisation's documents are the occupant's, so
they are his to see too. The cost so far is priced by the billing package as the month's invoice
will price it (tariffs, minimums, increments, prepaid hours, monthly caps), before VAT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.billing import inputs
from hub.billing.document import ZERO, Address, DocumentKind, Party
from hub.billing.invoicing import Buyer, Period, assemble
from hub.billing.models import BillingDocument, DocumentStatus, InvoicedSession
from hub.billing.pricing import Pricing, Usage, price_sessions
from hub.billing.service import document_of
from hub.billing.settings import BillingSettings
from hub.billing.tariffs import TariffBook
from hub.console import text_me
from hub.console.numbers import NBSP
from hub.errors import Invalid, NotFound
from hub.ledger.models import MachineSession
from hub.ledger.usage import ZONE_MARGIN
from hub.registry.models import Machine, Member, Organisation, Qualification
from hub.registry.numbers import member_ref
from hub.registry.service import SiteZones, home_timezone

log = logging.getLogger(__name__)
# The page's words, which `hub.console.i18n` merges into its catalogues.
FR, EN = text_me.FR, text_me.EN
UTC = ZoneInfo("UTC")
DASH = "—"
DOCUMENT_LINK = "/console/me/invoices/{number}.pdf"
# fmt: off
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin",
           "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June",
           "July", "August", "September", "October", "November", "December"),
}
# fmt: on


MOMENT_FORMATS = {"fr": "%d/%m %H:%M", "en": "%Y-%m-%d %H:%M"}
DAY_FORMATS = {"fr": "%d/%m/%Y", "en": "%Y-%m-%d"}


class Format:
    """How the page writes durations, times and months (amounts: `hub.console.numbers`)."""

    @staticmethod
    def duration(seconds: int | None) -> str:
        """`5700` -> `1 h 35`; None (not measured) -> `—`."""
        if seconds is None:
            return DASH
        minutes = seconds // 60
        return f"{minutes // 60}{NBSP}h{NBSP}{minutes % 60:02d}"

    @staticmethod
    def moment(when: datetime | None, lang: str = "fr") -> str:
        """A local time within the month: `06/12 10:28`, in English `2026-12-06 10:28`."""
        return DASH if when is None else when.strftime(MOMENT_FORMATS.get(lang, "%d/%m %H:%M"))

    @staticmethod
    def month(month: str, lang: str = "fr") -> str:
        """`2026-11` -> `novembre 2026`."""
        year, number = month.split("-")
        return f"{MONTHS.get(lang, MONTHS['fr'])[int(number) - 1]} {year}"

    @staticmethod
    def day(when: date | datetime | None, lang: str = "fr") -> str:
        """`06/12/2026`, in English `2026-12-06` (unambiguous on either side of the Atlantic)."""
        return DASH if when is None else when.strftime(DAY_FORMATS.get(lang, "%d/%m/%Y"))


@dataclass(frozen=True)
class MySession:
    """One session, its times local to the machine's site; `ended_at` None while it runs."""

    machine_name: str
    started_at: datetime
    ended_at: datetime | None
    badge_s: int | None
    busy_s: int | None


class CostState(StrEnum):
    NO_USE = "no_use"  # no closed session this month yet
    ESTIMATE = "estimate"  # priced from the tariffs, not invoiced yet
    INVOICED = "invoiced"  # every session of the month is on an issued document
    UNPRICED = "unpriced"  # the price list does not cover a session: no figure rather than 0


@dataclass(frozen=True)
class MonthCost:
    state: CostState
    # Before VAT; None unless the state is ESTIMATE.
    amount: Decimal | None = None
    # Sessions of the month already on an issued document (or settled free of charge).
    invoiced_sessions: int = 0
    # UNPRICED: the member's machines no tariff covers (empty when the cause lies elsewhere).
    unpriced_machines: tuple[str, ...] = ()


@dataclass(frozen=True)
class MyDocument:
    number: str
    kind: DocumentKind
    issue_date: date
    month: str
    total: Decimal  # VAT included

    @property
    def link(self) -> str:
        return DOCUMENT_LINK.format(number=self.number)

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


@dataclass(frozen=True)
class MyQualification:
    machine_name: str
    role: str
    expires_at: datetime | None  # local to the machine's site
    expired: bool


@dataclass(frozen=True)
class MyOverview:
    name: str
    organisation: str | None
    month: str
    sessions: tuple[MySession, ...]
    badge_s: int
    busy_s: int
    measured_sessions: int
    cost: MonthCost
    documents: tuple[MyDocument, ...]
    qualifications: tuple[MyQualification, ...]
    fmt: ClassVar[type[Format]] = Format

    @property
    def closed_sessions(self) -> int:
        return sum(1 for s in self.sessions if s.ended_at is not None)


def my_overview(
    session: Session,
    *,
    member_id: int,
    now: datetime,
    billing: BillingSettings | None = None,
) -> MyOverview:
    """Everything the member's own page shows; raises `NotFound` for an unknown member."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member {member_id}")
    organisation = (
        session.get(Organisation, member.organisation_id) if member.organisation_id else None
    )
    zones = SiteZones(session)
    period = inputs.period_of(now.astimezone(ZoneInfo(home_timezone(session))).strftime("%Y-%m"))
    rows = _month_sessions(session, member_id, period, zones)
    closed = [r for r in rows if r.badge_seconds is not None]
    buyer = inputs.org_key(organisation.id) if organisation else member_ref(member_id)
    return MyOverview(
        name=member.name,
        organisation=organisation.name if organisation else None,
        month=period.month,
        sessions=_shown(session, rows, zones),
        badge_s=sum(r.badge_seconds or 0 for r in closed),
        busy_s=sum(r.busy_seconds or 0 for r in closed),
        measured_sessions=sum(1 for r in closed if r.busy_seconds is not None),
        cost=_cost(
            session,
            closed=[r.session_id for r in closed],
            ref=member_ref(member_id),
            buyer=buyer,
            period=period,
            billing=billing or BillingSettings(),
        ),
        documents=_documents(session, _buyers(member_id, organisation)),
        qualifications=_qualifications(session, member_id, now, zones),
    )


def member_id_forms(member_id: int) -> list[str]:
    """How sessions may name the member. Edges send `m-0042`, but a third-party device may drop
    or add leading zeros, and billing charges those sessions to the same member."""
    return sorted({f"m-{member_id:0{width}d}" for width in range(1, 9)})


def _month_sessions(
    session: Session, member_id: int, period: Period, zones: SiteZones
) -> list[MachineSession]:
    """The member's sessions that started this month, local day of their site, oldest first."""
    end = datetime.combine(period.last + timedelta(days=1), time(), UTC) + ZONE_MARGIN
    query = (
        select(MachineSession)
        .where(
            MachineSession.member_id.in_(member_id_forms(member_id)),
            MachineSession.started_at >= datetime.combine(period.first, time(), UTC) - ZONE_MARGIN,
            MachineSession.started_at < end,
        )
        .order_by(MachineSession.started_at, MachineSession.session_id)
    )
    return [
        row
        for row in session.scalars(query)
        if period.first <= row.started_at.astimezone(zones(row.site)).date() <= period.last
    ]


def _shown(session: Session, rows: list[MachineSession], zones: SiteZones) -> tuple[MySession, ...]:
    names = _machine_names(session)
    out = []
    for row in rows:
        zone = zones(row.site)
        out.append(
            MySession(
                machine_name=names.get(row.machine_id, row.machine_id),
                started_at=row.started_at.astimezone(zone),
                ended_at=row.ended_at.astimezone(zone) if row.ended_at else None,
                badge_s=row.badge_seconds,
                busy_s=row.busy_seconds,
            )
        )
    return tuple(out)


def _machine_names(session: Session) -> dict[str, str]:
    return {id_: name for id_, name in session.execute(select(Machine.id, Machine.name))}


class NoTariff(Invalid):
    """The price list covers none of the member's sessions on these machines."""

    def __init__(self, machines: Sequence[str]) -> None:
        super().__init__(f"no tariff covers sessions on {', '.join(machines)} this month")
        self.machines = tuple(machines)


def _cost(
    session: Session,
    *,
    closed: list[UUID],
    ref: str,
    buyer: str,
    period: Period,
    billing: BillingSettings,
) -> MonthCost:
    if not closed:
        return MonthCost(CostState.NO_USE)
    invoiced = _invoiced(session, closed)
    try:
        amount = _priced_so_far(session, ref=ref, buyer=buyer, period=period, billing=billing)
    except Invalid as exc:
        log.warning("cost so far of %s cannot be priced: %s", ref, exc)
        machines = exc.machines if isinstance(exc, NoTariff) else ()
        return MonthCost(CostState.UNPRICED, invoiced_sessions=invoiced, unpriced_machines=machines)
    if amount is not None:
        return MonthCost(CostState.ESTIMATE, amount=amount, invoiced_sessions=invoiced)
    if invoiced == len(closed):
        return MonthCost(CostState.INVOICED, invoiced_sessions=invoiced)
    # Closed sessions neither invoiced nor billable: on a machine the registry does not know.
    log.warning("sessions of %s this month are on machines the registry does not know", ref)
    return MonthCost(CostState.UNPRICED, invoiced_sessions=invoiced)


def _invoiced(session: Session, closed: list[UUID]) -> int:
    found = session.scalars(
        select(InvoicedSession.session_id).where(InvoicedSession.session_id.in_(closed))
    )
    return len(list(found))


def _priced_so_far(
    session: Session, *, ref: str, buyer: str, period: Period, billing: BillingSettings
) -> Decimal | None:
    """What the member's sessions of the month not invoiced yet cost, before VAT; None when
    there are none. Raises `Invalid` when the price list cannot price one of them.

    The buyer's other sessions are priced too, though not counted: prepaid hours go to the
    buyer's sessions in order, a colleague's earlier session first.
    """
    packs = inputs.load_packs(session, {buyer})
    back = billing.catch_up_months if packs else 0
    usages = [
        u
        for u in inputs.load_usages(session, period, catch_up_months=back).usages
        if u.buyer == buyer
    ]
    mine = [u for u in usages if u.member_ref == ref and u.day >= period.first]
    if not mine:
        return None
    book = inputs.load_book(session)
    _refuse_unpriced(mine, book)
    priced = price_sessions([u for u in usages if _tariff_of(u, book)], book, packs).priced
    own = Pricing([p for p in priced if p.usage.member_ref == ref and p.usage.day >= period.first])
    drafts = assemble(
        own,
        {buyer: Buyer(buyer, _someone(buyer))},
        period=period,
        seller=billing.seller.party(),
        payment=billing.payment(),
        wording=billing.wording(),
    )
    return sum((d.totals.tax_exclusive for d in drafts), ZERO)


def _tariff_of(usage: Usage, book: TariffBook) -> bool:
    return book.find(usage.machine_id, usage.machine_kind, usage.category, usage.day) is not None


def _refuse_unpriced(mine: Sequence[Usage], book: TariffBook) -> None:
    # A colleague's unpriced session is the accountant's problem; only the member's own stop
    # the figure, which would otherwise read as cheaper than it is.
    missing = sorted({u.machine_name for u in mine if not _tariff_of(u, book)})
    if missing:
        raise NoTariff(missing)


def _someone(buyer: str) -> Party:
    """A stand-in buyer: assembling needs a party, and amounts before VAT do not depend on it."""
    return Party(
        name=buyer, address=Address(), endpoint_scheme="EM", endpoint_id=buyer, reference=buyer
    )


def my_documents(session: Session, *, member_id: int) -> tuple[MyDocument, ...]:
    """The issued documents the member may read (his own, his organisation's), alone: what a
    download checks, without pricing the month as the whole overview does."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member {member_id}")
    organisation = (
        session.get(Organisation, member.organisation_id) if member.organisation_id else None
    )
    return _documents(session, _buyers(member_id, organisation))


def _buyers(member_id: int, organisation: Organisation | None) -> set[str]:
    # A member billed in person is his own buyer; his organisation's invoices are his too.
    own = member_ref(member_id)
    return {own, inputs.org_key(organisation.id) if organisation else own}


def _documents(session: Session, buyers: set[str]) -> tuple[MyDocument, ...]:
    rows = session.scalars(
        select(BillingDocument)
        .where(BillingDocument.buyer.in_(buyers), BillingDocument.status == DocumentStatus.ISSUED)
        .order_by(BillingDocument.issue_date.desc(), BillingDocument.number.desc())
    )
    out = []
    for row in rows:
        if row.number is None or row.issue_date is None:
            continue  # an issued document always has both (a database check): never reached
        out.append(
            MyDocument(
                number=row.number,
                kind=row.kind,
                issue_date=row.issue_date,
                month=row.month,
                total=document_of(row).totals().tax_inclusive,
            )
        )
    return tuple(out)


def _qualifications(
    session: Session, member_id: int, now: datetime, zones: SiteZones
) -> tuple[MyQualification, ...]:
    rows = session.execute(
        select(Qualification, Machine)
        .join(Machine, Machine.id == Qualification.machine_id)
        .where(Qualification.member_id == member_id, Qualification.revoked_at.is_(None))
        .order_by(Machine.name, Machine.id)
    )
    return tuple(
        MyQualification(
            machine_name=machine.name,
            role=q.role.value,
            expires_at=q.expires_at.astimezone(zones(machine.site_id)) if q.expires_at else None,
            expired=q.expires_at is not None and q.expires_at <= now,
        )
        for q, machine in rows
    )
