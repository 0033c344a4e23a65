"""Machine usage per member, organisation or machine over a period, from closed sessions.

A session counts in the period where it starts, read in its site's time zone; durations are exact
whole badge seconds, and `UsageRow.hours` is a Decimal view rounded to hundredths.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Invalid
from hub.ledger.models import MachineSession
from hub.registry.models import DEFAULT_TIMEZONE, Machine, Member, Organisation, Site
from hub.registry.numbers import parse_member_ref

# Wider than any UTC offset, so the SQL pre-filter never drops a session of the period.
ZONE_MARGIN = timedelta(hours=15)
PRIVATE = "private"


class UsageGroup(StrEnum):
    MEMBER = "member"
    ORGANISATION = "organisation"
    MACHINE = "machine"


@dataclass(frozen=True)
class UsageRow:
    """Totals for one member, organisation or machine; `badge_seconds` is exact."""

    key: str
    label: str
    sessions: int
    badge_seconds: int

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.badge_seconds) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)


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


def usage_detail(
    session: Session,
    *,
    month: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[UsageDetail]:
    """Closed sessions starting in the period, summed per member and machine."""
    first, last = _period(month, start, end)
    zones = {site.id: ZoneInfo(site.timezone) for site in session.scalars(select(Site))}
    default = ZoneInfo(DEFAULT_TIMEZONE)
    low = datetime.combine(first, time(), ZoneInfo("UTC")) - ZONE_MARGIN
    high = datetime.combine(last, time(), ZoneInfo("UTC")) + ZONE_MARGIN
    rows = session.execute(
        select(
            MachineSession.site,
            MachineSession.member_id,
            MachineSession.machine_id,
            MachineSession.started_at,
            MachineSession.badge_seconds,
        ).where(
            MachineSession.started_at >= low,
            MachineSession.started_at < high,
            MachineSession.badge_seconds.is_not(None),
        )
    )
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for site, member_id, machine_id, started_at, seconds in rows:
        local_day = started_at.astimezone(zones.get(site, default)).date()
        if first <= local_day < last:
            total = totals[(member_id, machine_id)]
            total[0] += 1
            total[1] += seconds or 0
    return _describe(session, totals)


def _describe(session: Session, totals: dict[tuple[str, str], list[int]]) -> list[UsageDetail]:
    machines = {m.id: m.name for m in session.scalars(select(Machine))}
    organisations = {o.id: o.name for o in session.scalars(select(Organisation))}
    ids = {parse_member_ref(member_id) for member_id, _ in totals} - {None}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    details = []
    for (member_id, machine_id), (count, seconds) in sorted(totals.items()):
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
                sessions=count,
                badge_seconds=seconds,
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
    """Sessions and badge time per member, organisation or machine, ordered by key."""
    try:
        group = UsageGroup(group_by)
    except ValueError as exc:
        raise Invalid(f"cannot group usage by {group_by!r}") from exc
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for detail in usage_detail(session, month=month, start=start, end=end):
        total = sums[_group_key(detail, group)]
        total[0] += detail.sessions
        total[1] += detail.badge_seconds
    return [
        UsageRow(key=key, label=label, sessions=count, badge_seconds=seconds)
        for (key, label), (count, seconds) in sorted(sums.items())
    ]


def _group_key(detail: UsageDetail, group: UsageGroup) -> tuple[str, str]:
    if group is UsageGroup.MEMBER:
        return detail.member_id, detail.member_name
    if group is UsageGroup.MACHINE:
        return detail.machine_id, detail.machine_name
    if detail.organisation_id is None:
        return PRIVATE, "Private persons"
    return str(detail.organisation_id), detail.organisation_name or ""
