"""What the registry pages show: organisations, members, badges, sightings and qualifications.

Plain read queries returning frozen rows for the templates; every write goes through
`hub.registry.service`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.registry.models import (
    DEFAULT_TIMEZONE,
    Badge,
    Machine,
    Member,
    Organisation,
    Qualification,
    Site,
)
from hub.registry.numbers import member_ref
from hub.registry.sightings import recent_sightings

SIGHTINGS_SHOWN = 50


@dataclass(frozen=True)
class OrganisationRow:
    id: int
    name: str
    category: str
    enterprise_number: str | None
    members: int


@dataclass(frozen=True)
class MemberRow:
    id: int
    ref: str
    name: str
    email: str | None
    organisation: str | None
    active: bool


@dataclass(frozen=True)
class BadgeRow:
    uid: str
    member_id: int
    member: str
    active: bool
    enrolled_at: datetime


@dataclass(frozen=True)
class SightingRow:
    uid: str
    machine_id: str
    machine: str
    seen_at: datetime
    count: int


@dataclass(frozen=True)
class QualificationRow:
    member_id: int
    member: str
    machine_id: str
    machine: str
    role: str
    instructor: bool
    granted_at: datetime
    # The last day it is valid, in the machine's site's time zone; None: no expiry.
    valid_until: date | None
    expired: bool


@dataclass(frozen=True)
class MachineRow:
    id: str
    name: str
    kind: str
    site: str
    timezone: str


@dataclass(frozen=True)
class MachineQualifications:
    machine: MachineRow
    qualifications: list[QualificationRow]


def organisations(db: Session) -> list[OrganisationRow]:
    counted = (
        select(Member.organisation_id, func.count().label("n"))
        .group_by(Member.organisation_id)
        .subquery()
    )
    query = (
        select(Organisation, counted.c.n)
        .outerjoin(counted, counted.c.organisation_id == Organisation.id)
        .order_by(Organisation.name, Organisation.id)
    )
    return [
        OrganisationRow(org.id, org.name, org.category.value, org.enterprise_number, n or 0)
        for org, n in db.execute(query)
    ]


def members(
    db: Session, *, organisation_id: int | None = None, active: bool | None = None
) -> list[MemberRow]:
    query = (
        select(Member, Organisation.name)
        .outerjoin(Organisation, Organisation.id == Member.organisation_id)
        .order_by(Member.name, Member.id)
    )
    if organisation_id is not None:
        query = query.where(Member.organisation_id == organisation_id)
    if active is not None:
        query = query.where(Member.active.is_(active))
    return [
        MemberRow(m.id, member_ref(m.id), m.name, m.email, org, m.active)
        for m, org in db.execute(query)
    ]


def member_row(db: Session, member: Member) -> MemberRow:
    org = db.get(Organisation, member.organisation_id) if member.organisation_id else None
    return MemberRow(
        member.id,
        member_ref(member.id),
        member.name,
        member.email,
        org.name if org else None,
        member.active,
    )


def badges(db: Session, *, member_id: int | None = None) -> list[BadgeRow]:
    query = (
        select(Badge, Member.name)
        .join(Member, Member.id == Badge.member_id)
        .order_by(Member.name, Badge.uid)
    )
    if member_id is not None:
        query = query.where(Badge.member_id == member_id)
    return [
        BadgeRow(b.uid, b.member_id, name, b.active, b.enrolled_at) for b, name in db.execute(query)
    ]


def sightings(db: Session) -> list[SightingRow]:
    """Unknown badges tapped at readers, newest first, named by their machine."""
    names = {ident: name for ident, name in db.execute(select(Machine.id, Machine.name))}
    return [
        SightingRow(s.uid, s.machine_id, names.get(s.machine_id, s.machine_id), s.seen_at, s.count)
        for s in recent_sightings(db, limit=SIGHTINGS_SHOWN)
    ]


def machines(db: Session) -> list[MachineRow]:
    query = (
        select(Machine, Site.name, Site.timezone)
        .join(Site, Site.id == Machine.site_id)
        .order_by(Machine.name, Machine.id)
    )
    return [
        MachineRow(m.id, m.name, m.kind.value, site, zone or DEFAULT_TIMEZONE)
        for m, site, zone in db.execute(query)
    ]


def qualifications(
    db: Session, *, now: datetime, member_id: int | None = None
) -> list[QualificationRow]:
    """Live (unrevoked) qualifications, expired ones included and marked, by machine and name."""
    query = (
        select(Qualification, Member.name, Machine.name, Site.timezone)
        .join(Member, Member.id == Qualification.member_id)
        .join(Machine, Machine.id == Qualification.machine_id)
        .join(Site, Site.id == Machine.site_id)
        .where(Qualification.revoked_at.is_(None))
        .order_by(Machine.name, Member.name, Qualification.id)
    )
    if member_id is not None:
        query = query.where(Qualification.member_id == member_id)
    return [
        _qualification(q, member, machine, zone, now)
        for q, member, machine, zone in db.execute(query)
    ]


def _qualification(
    q: Qualification, member: str, machine: str, zone: str, now: datetime
) -> QualificationRow:
    return QualificationRow(
        member_id=q.member_id,
        member=member,
        machine_id=q.machine_id,
        machine=machine,
        role=q.role.value,
        instructor=q.instructor,
        granted_at=q.granted_at,
        valid_until=last_valid_day(q.expires_at, zone),
        expired=q.expires_at is not None and q.expires_at <= now,
    )


def by_machine(
    machine_rows: list[MachineRow], rows: list[QualificationRow]
) -> list[MachineQualifications]:
    return [
        MachineQualifications(m, [q for q in rows if q.machine_id == m.id]) for m in machine_rows
    ]


def expiry_of(day: date, timezone: str) -> datetime:
    """A qualification valid through `day` ends at the next local midnight."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(timezone))


def last_valid_day(expires_at: datetime | None, timezone: str) -> date | None:
    if expires_at is None:
        return None
    return (expires_at.astimezone(ZoneInfo(timezone)) - timedelta(microseconds=1)).date()


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()
