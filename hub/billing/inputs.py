"""What a billing run reads from the database: sessions, buyers, the price list, packs, credit.

I/O only: every row becomes one of the pure types of `hub.billing` here, and nothing else in the
package touches the registry or the ledger tables.

A run bills every closed session that started (local day, in its site's time zone) before the end
of its month and that no issued document holds yet, going back `catch_up_months`: a session the
edge delivered after its month was invoiced lands on the next invoice, on lines of its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from hub.billing.document import ZERO, Address, Party, VatCategory, VatRate
from hub.billing.invoicing import Buyer, Period, VatRegime
from hub.billing.models import Credit, HourPack, InvoicedSession, PackUsage, SessionReason
from hub.billing.models import Tariff as TariffRow
from hub.billing.pricing import Pack, Usage
from hub.billing.tariffs import DEFAULT_FREE_REASONS, Basis, Tariff, TariffBook
from hub.errors import Invalid
from hub.ledger.models import MachineSession
from hub.ledger.usage import ZONE_MARGIN, month_period
from hub.registry.models import (
    Machine,
    Member,
    Organisation,
    OrganisationCategory,
)
from hub.registry.numbers import member_ref, parse_member_ref
from hub.registry.service import SiteZones

PRIVATE_CATEGORY = OrganisationCategory.EXTERNAL.value
MAINTAINER = "maintainer"
MAINTENANCE = "maintenance"


def period_of(month: str) -> Period:
    first, following = month_period(month)
    return Period(month=month, first=first, last=following - timedelta(days=1))


def months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def org_key(organisation_id: int) -> str:
    return f"org-{organisation_id}"


@dataclass
class Sessions:
    """The sessions a run may bill, and those it cannot (a member the registry does not know)."""

    usages: list[Usage] = field(default_factory=list)
    unbillable: list[str] = field(default_factory=list)


def load_usages(session: Session, period: Period, *, catch_up_months: int) -> Sessions:
    since = months_before(period.first, catch_up_months)
    end = period.last + timedelta(days=1)
    zones = SiteZones(session)
    machines = {m.id: (m.id, m.name, m.kind.value) for m in session.scalars(select(Machine))}
    people = _people(session)
    reasons = {
        ident.hex: reason
        for ident, reason in session.execute(select(SessionReason.session_id, SessionReason.reason))
    }
    # Plain columns through the connection, not the ORM: a month is up to 100,000 rows.
    rows = session.connection().execute(
        select(
            # As stored (hex on SQLite; psycopg makes a UUID of it): no conversion per row.
            type_coerce(MachineSession.session_id, String),
            MachineSession.site,
            MachineSession.member_id,
            MachineSession.machine_id,
            MachineSession.started_at,
            MachineSession.badge_seconds,
            MachineSession.busy_seconds,
            MachineSession.energy_wh,
            MachineSession.role,
        ).where(
            MachineSession.badge_seconds.is_not(None),
            MachineSession.started_at
            >= datetime.combine(since, time(), ZoneInfo("UTC")) - ZONE_MARGIN,
            MachineSession.started_at
            < datetime.combine(end, time(), ZoneInfo("UTC")) + ZONE_MARGIN,
            MachineSession.session_id.not_in(select(InvoicedSession.session_id)),
        )
    )
    out = Sessions()
    for raw_id, site, member_id, machine_id, started, badge, busy, wh, role in rows:
        session_id = raw_id if isinstance(raw_id, str) else raw_id.hex
        day = started.astimezone(zones(site)).date()
        if not since <= day < end:
            continue
        person = people.get(member_id) or people.get(_canonical(member_id))
        machine = machines.get(machine_id)
        if person is None or machine is None:
            out.unbillable.append(session_id)
            continue
        buyer, ref, name, category = person
        reason = reasons.get(session_id) or (MAINTENANCE if role == MAINTAINER else None)
        out.usages.append(
            Usage(
                session_id=session_id,
                buyer=buyer,
                member_ref=ref,
                member_name=name,
                machine_id=machine[0],
                machine_name=machine[1],
                machine_kind=machine[2],
                category=category,
                day=day,
                started_at=started,
                badge_s=badge or 0,
                busy_s=busy,
                energy_wh=_energy(wh),
                reason=reason,
            )
        )
    return out


def _canonical(member_id: str) -> str:
    number = parse_member_ref(member_id)
    return member_ref(number) if number is not None else member_id


def _people(session: Session) -> dict[str, tuple[str, str, str, str]]:
    """Member reference -> (buyer key, reference, name, category)."""
    organisations = {o.id: o for o in session.scalars(select(Organisation))}
    people = {}
    for m in session.scalars(select(Member)):
        ref = member_ref(m.id)
        org = organisations.get(m.organisation_id) if m.organisation_id else None
        if org is None:
            people[ref] = (ref, ref, m.name, PRIVATE_CATEGORY)
        else:
            people[ref] = (org_key(org.id), ref, m.name, org.category.value)
    return people


def _energy(wh: float | None) -> Decimal | None:
    # Tenths of a watt-hour, as the usage report rounds them (hub.ledger.usage.ENERGY_STEP).
    return None if wh is None else Decimal(str(round(wh, 1)))


def load_buyers(session: Session, keys: set[str]) -> dict[str, Buyer]:
    buyers: dict[str, Buyer] = {}
    for organisation in session.scalars(select(Organisation)):
        key = org_key(organisation.id)
        if key in keys:
            buyers[key] = Buyer(
                key, organisation_party(organisation), VatRegime(organisation.vat_regime.value)
            )
    for member in session.scalars(select(Member).where(Member.organisation_id.is_(None))):
        key = member_ref(member.id)
        if key in keys:
            buyers[key] = Buyer(key, member_party(member))
    return buyers


def organisation_party(o: Organisation) -> Party:
    scheme = o.peppol_scheme or ("0208" if o.enterprise_number else None)
    endpoint = o.peppol_id or (o.enterprise_number if scheme == "0208" else None)
    if scheme is None or endpoint is None:
        if not o.billing_email:
            raise Invalid(
                f"organisation {o.name!r} (#{o.id}) has neither an enterprise number, a Peppol "
                "endpoint nor a billing e-mail: an invoice needs one to be delivered"
            )
        scheme, endpoint = "EM", o.billing_email
    return Party(
        name=o.name,
        address=Address(street=o.street, postcode=o.postcode, city=o.city, country=o.country),
        endpoint_scheme=scheme,
        endpoint_id=endpoint,
        reference=o.buyer_reference or org_key(o.id),
        enterprise_number=o.enterprise_number,
        vat_number=o.vat_number,
        email=o.billing_email,
    )


def member_party(m: Member) -> Party:
    if not m.email:
        raise Invalid(f"member {m.name!r} ({member_ref(m.id)}) has no e-mail to send invoices to")
    return Party(
        name=m.name,
        address=Address(street=m.street, postcode=m.postcode, city=m.city, country=m.country),
        endpoint_scheme="EM",
        endpoint_id=m.email,
        reference=member_ref(m.id),
        email=m.email,
    )


def tariff_of(row: TariffRow) -> Tariff:
    reasons = frozenset(r.strip() for r in row.free_reasons.split(",") if r.strip())
    return Tariff(
        id=row.id,
        name=row.name,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        hourly_price=row.hourly_price,
        machine_id=row.machine_id,
        machine_kind=row.machine_kind.value if row.machine_kind else None,
        category=row.category.value if row.category else None,
        basis=Basis(row.basis.value),
        increment_s=row.increment_s,
        minimum_s=row.minimum_s,
        session_fee=row.session_fee,
        idle_hourly_price=row.idle_hourly_price,
        energy_kwh_price=row.energy_kwh_price,
        monthly_cap=row.monthly_cap,
        vat=VatRate(
            category=VatCategory(row.vat_category.value),
            percent=row.vat_percent,
            exemption_code=row.vat_exemption_code,
            exemption_reason=row.vat_exemption_reason,
        ),
        account=row.account,
        free_reasons=reasons if row.free_reasons is not None else DEFAULT_FREE_REASONS,
    )


def load_book(session: Session) -> TariffBook:
    return TariffBook([tariff_of(row) for row in session.scalars(select(TariffRow))])


def load_packs(session: Session, buyers: set[str]) -> list[Pack]:
    used: dict[int, int] = defaultdict(int)
    for pack_id, seconds in session.execute(
        select(PackUsage.pack_id, func.sum(PackUsage.seconds)).group_by(PackUsage.pack_id)
    ).all():
        used[pack_id] = int(seconds)
    packs = []
    for row in session.scalars(select(HourPack).where(HourPack.buyer.in_(buyers))):
        left = row.seconds - used[row.id]
        if left > 0:
            packs.append(
                Pack(
                    id=row.id,
                    buyer=row.buyer,
                    seconds=left,
                    valid_from=row.valid_from,
                    valid_until=row.valid_until,
                    machine_id=row.machine_id,
                    machine_kind=row.machine_kind.value if row.machine_kind else None,
                )
            )
    return packs


def credit_balances(session: Session, buyers: set[str]) -> dict[str, Decimal]:
    # Summed in Python: DecimalText is text in the database, and a SQL sum would be a float.
    balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for buyer, amount in session.execute(
        select(Credit.buyer, Credit.amount).where(Credit.buyer.in_(buyers))
    ).all():
        balances[buyer] += amount
    return dict(balances)
