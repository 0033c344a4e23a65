"""Machine usage per member, organisation or machine over a period, from closed sessions.

A session counts in the period where it starts, read in its site's time zone; durations are exact
whole badge seconds, and `UsageRow.hours` is a Decimal view rounded to hundredths. Beside badge
time stand the machine's own busy seconds and the energy it drew, summed over the sessions that
measured them: `measured_sessions` tells "busy 0 s" from "not measured", and an energy of None
means no session of the row had a power meter. `closed_sessions` gives the same sessions one by
one, with their local day, for reports by day or week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.errors import Invalid
from hub.ledger.models import MachineSession
from hub.registry.models import Machine, Member, Organisation
from hub.registry.numbers import parse_member_ref
from hub.registry.service import SiteZones

# Wider than any UTC offset, so the SQL pre-filter never drops a session of the period.
ZONE_MARGIN = timedelta(hours=15)
PRIVATE = "private"
# Energy is summed as Decimal, each session's float first rounded to a tenth of a watt-hour (well
# inside a meter's accuracy): a float sum drifts with its order, and rows come back in different
# orders from SQLite and PostgreSQL, so the same month could total differently in its last digits.
ENERGY_STEP = Decimal("0.1")
HUNDREDTHS = Decimal("0.01")
# site, member, machine, start, badge seconds, busy seconds, energy (Wh)
SessionQuery = Select[str, str, str, datetime, int | None, int | None, float | None]


class UsageGroup(StrEnum):
    MEMBER = "member"
    ORGANISATION = "organisation"
    MACHINE = "machine"


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(HUNDREDTHS, ROUND_HALF_UP)


@dataclass(frozen=True)
class UsageRow:
    """Totals for one member, organisation or machine; `badge_seconds` is exact.

    `busy_seconds` sums the `measured_sessions` that reported one; `energy_wh` is None when no
    session of the row was metered.
    """

    key: str
    label: str
    sessions: int
    badge_seconds: int
    busy_seconds: int
    measured_sessions: int
    energy_wh: Decimal | None

    @property
    def hours(self) -> Decimal:
        return _hours(self.badge_seconds)

    @property
    def busy_hours(self) -> Decimal:
        return _hours(self.busy_seconds)


@dataclass(frozen=True)
class UsageDetail:
    """Raw badge time of one member on one machine, with the organisation billed for it."""

    member_id: str
    member_name: str
    organisation_id: int | None
    organisation_name: str | None
    machine_id: str
    machine_name: str
    sessions: int
    badge_seconds: int
    busy_seconds: int
    measured_sessions: int
    energy_wh: Decimal | None


@dataclass(frozen=True)
class ClosedSession:
    """One closed session, on the local day of its site where it started.

    `energy_wh` is rounded to a tenth of a watt-hour, as every total of this module sums it.
    """

    started_at: datetime
    local_day: date
    member_id: str
    machine_id: str
    badge_seconds: int
    busy_seconds: int | None
    energy_wh: Decimal | None


@dataclass
class _Tally:
    """Running totals of one row while the sessions or details are added up."""

    sessions: int = 0
    badge_seconds: int = 0
    busy_seconds: int = 0
    measured_sessions: int = 0
    energy_wh: Decimal | None = None

    def add_session(self, closed: ClosedSession) -> None:
        self.sessions += 1
        self.badge_seconds += closed.badge_seconds
        if closed.busy_seconds is not None:
            self.busy_seconds += closed.busy_seconds
            self.measured_sessions += 1
        if closed.energy_wh is not None:
            self._add_energy(closed.energy_wh)

    def add_detail(self, detail: UsageDetail) -> None:
        self.sessions += detail.sessions
        self.badge_seconds += detail.badge_seconds
        self.busy_seconds += detail.busy_seconds
        self.measured_sessions += detail.measured_sessions
        if detail.energy_wh is not None:
            self._add_energy(detail.energy_wh)

    def _add_energy(self, wh: Decimal) -> None:
        self.energy_wh = wh if self.energy_wh is None else self.energy_wh + wh


def month_period(month: str) -> tuple[date, date]:
    """`2026-11` -> (2026-11-01, 2026-12-01): local dates, end excluded."""
    try:
        first = datetime.strptime(month + "-01", "%Y-%m-%d").date()
    except ValueError as exc:
        raise Invalid(f"{month!r} is not a month like 2026-11") from exc
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def _period(month: str | None, start: date | None, end: date | None) -> tuple[date, date]:
    if month is not None:
        if start is not None or end is not None:
            raise Invalid("give a month or a start and end, not both")
        return month_period(month)
    if start is None or end is None or start >= end:
        raise Invalid("give a month, or a start date before an end date")
    return start, end


def closed_sessions(
    session: Session,
    *,
    month: str | None = None,
    start: date | None = None,
    end: date | None = None,
    machine_id: str | None = None,
) -> list[ClosedSession]:
    """Closed sessions starting in the period (of one machine if given), oldest first."""
    first, last = _period(month, start, end)
    zones = SiteZones(session)
    found = []
    for site, member_id, machine, started_at, seconds, busy, energy in session.execute(
        _closed_between(first, last, machine_id)
    ):
        local_day = started_at.astimezone(zones(site)).date()
        if first <= local_day < last:
            found.append(
                ClosedSession(
                    started_at=started_at,
                    local_day=local_day,
                    member_id=member_id,
                    machine_id=machine,
                    badge_seconds=seconds or 0,
                    busy_seconds=busy,
                    energy_wh=_energy(energy),
                )
            )
    return sorted(found, key=lambda c: (c.started_at, c.machine_id, c.member_id))


def _closed_between(first: date, last: date, machine_id: str | None) -> SessionQuery:
    """Closed sessions near the period; the caller keeps those of its local days."""
    low = datetime.combine(first, time(), ZoneInfo("UTC")) - ZONE_MARGIN
    high = datetime.combine(last, time(), ZoneInfo("UTC")) + ZONE_MARGIN
    query = select(
        MachineSession.site,
        MachineSession.member_id,
        MachineSession.machine_id,
        MachineSession.started_at,
        MachineSession.badge_seconds,
        MachineSession.busy_seconds,
        MachineSession.energy_wh,
    ).where(
        MachineSession.started_at >= low,
        MachineSession.started_at < high,
        MachineSession.badge_seconds.is_not(None),
    )
    if machine_id is not None:
        query = query.where(MachineSession.machine_id == machine_id)
    return query


def _energy(wh: float | None) -> Decimal | None:
    # The contract admits finite, non-negative energy only.
    return None if wh is None else Decimal(str(wh)).quantize(ENERGY_STEP, ROUND_HALF_UP)


def usage_detail(
    session: Session,
    *,
    month: str | None = None,
    start: date | None = None,
    end: date | None = None,
    machine_id: str | None = None,
) -> list[UsageDetail]:
    """Closed sessions starting in the period, summed per member and machine."""
    found = closed_sessions(session, month=month, start=start, end=end, machine_id=machine_id)
    return details_of(session, found)


def details_of(session: Session, closed: Iterable[ClosedSession]) -> list[UsageDetail]:
    """`closed` summed per member and machine, named from the registry."""
    totals: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for one in closed:
        totals[(one.member_id, one.machine_id)].add_session(one)
    return _describe(session, totals)


def _describe(session: Session, totals: dict[tuple[str, str], _Tally]) -> list[UsageDetail]:
    machines = {m.id: m.name for m in session.scalars(select(Machine))}
    organisations = {o.id: o.name for o in session.scalars(select(Organisation))}
    ids = {parse_member_ref(member_id) for member_id, _ in totals} - {None}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    details = []
    for (member_id, machine_id), tally in sorted(totals.items()):
        member = members.get(parse_member_ref(member_id) or -1)
        org_id = member.organisation_id if member else None
        details.append(
            UsageDetail(
                member_id=member_id,
                member_name=member.name if member else member_id,
                organisation_id=org_id,
                organisation_name=organisations.get(org_id) if org_id is not None else None,
                machine_id=machine_id,
                machine_name=machines.get(machine_id, machine_id),
                sessions=tally.sessions,
                badge_seconds=tally.badge_seconds,
                busy_seconds=tally.busy_seconds,
                measured_sessions=tally.measured_sessions,
                energy_wh=tally.energy_wh,
            )
        )
    return details


def usage(
    session: Session,
    *,
    group_by: UsageGroup | str,
    month: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[UsageRow]:
    """Sessions, badge and busy time and energy per member, organisation or machine, by key."""
    try:
        group = UsageGroup(group_by)
    except ValueError as exc:
        raise Invalid(f"cannot group usage by {group_by!r}") from exc
    sums: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for detail in usage_detail(session, month=month, start=start, end=end):
        sums[_group_key(detail, group)].add_detail(detail)
    return [
        UsageRow(
            key=key,
            label=label,
            sessions=tally.sessions,
            badge_seconds=tally.badge_seconds,
            busy_seconds=tally.busy_seconds,
            measured_sessions=tally.measured_sessions,
            energy_wh=tally.energy_wh,
        )
        for (key, label), tally in sorted(sums.items())
    ]


def _group_key(detail: UsageDetail, group: UsageGroup) -> tuple[str, str]:
    if group is UsageGroup.MEMBER:
        return detail.member_id, detail.member_name
    if group is UsageGroup.MACHINE:
        return detail.machine_id, detail.machine_name
    if detail.organisation_id is None:
        return PRIVATE, "Private persons"
    return str(detail.organisation_id), detail.organisation_name or ""
