"""Registry writes: sites, organisations, members, badges, machines and qualifications.

Every write bumps the access-list version in the same transaction; the caller commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.models import Role
from hub.db import Base
from hub.errors import Conflict, Invalid, NotFound
from hub.registry import numbers
from hub.registry.access import bump_acl_version
from hub.registry.models import (
    DEFAULT_TIMEZONE,
    Badge,
    BadgeSighting,
    Machine,
    MachineKind,
    Member,
    Organisation,
    OrganisationCategory,
    Qualification,
    QualifiedRole,
    Site,
)

RowT = TypeVar("RowT", bound=Base)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _insert(session: Session, row: RowT, *, conflict: str) -> RowT:
    # A savepoint keeps the caller's transaction usable after a unique violation (PostgreSQL
    # aborts the whole transaction otherwise).
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    bump_acl_version(session)
    return row


def _get(session: Session, model: type[RowT], key: object, what: str) -> RowT:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


def create_site(
    session: Session, *, site_id: str, name: str, timezone: str = DEFAULT_TIMEZONE
) -> Site:
    site = Site(
        id=numbers.ident(site_id, what="site id"), name=name, timezone=numbers.timezone(timezone)
    )
    return _insert(session, site, conflict=f"site {site_id!r} exists")


def create_organisation(
    session: Session,
    *,
    name: str,
    category: OrganisationCategory | str,
    enterprise_number: str | None = None,
    vat_number: str | None = None,
) -> Organisation:
    """An occupant's business; both numbers are optional (private persons) but checked if given."""
    enterprise = numbers.enterprise_number(enterprise_number) if enterprise_number else None
    vat = numbers.vat_number(vat_number) if vat_number else None
    if enterprise and vat and vat[2:] != enterprise:
        raise Invalid(f"VAT number {vat} does not belong to enterprise {enterprise}")
    try:
        kind = OrganisationCategory(category)
    except ValueError as exc:
        raise Invalid(f"unknown organisation category {category!r}") from exc
    row = Organisation(name=name, category=kind, enterprise_number=enterprise, vat_number=vat)
    return _insert(session, row, conflict=f"enterprise {enterprise} is already registered")


def create_member(
    session: Session, *, name: str, email: str | None = None, organisation_id: int | None = None
) -> Member:
    if organisation_id is not None:
        _get(session, Organisation, organisation_id, "organisation")
    address = numbers.email(email) if email else None
    row = Member(name=name, email=address, organisation_id=organisation_id, active=True)
    return _insert(session, row, conflict=f"e-mail {address} is already used")


def set_member_active(session: Session, *, member_id: int, active: bool) -> Member:
    member = _get(session, Member, member_id, "member")
    member.active = active
    bump_acl_version(session)
    return member


def enrol_badge(
    session: Session, *, uid: str, member_id: int, now: datetime | None = None
) -> Badge:
    """Give a badge (typically one just seen at a machine) to a member."""
    _get(session, Member, member_id, "member")
    compact = numbers.badge_uid(uid)
    if session.get(Badge, compact) is not None:
        raise Conflict(f"badge {compact} is already enrolled")
    badge = Badge(uid=compact, member_id=member_id, active=True, enrolled_at=_now(now))
    _insert(session, badge, conflict=f"badge {compact} is already enrolled")
    session.execute(delete(BadgeSighting).where(BadgeSighting.uid == compact))
    return badge


def set_badge_active(session: Session, *, uid: str, active: bool) -> Badge:
    badge = _get(session, Badge, numbers.badge_uid(uid), "badge")
    badge.active = active
    bump_acl_version(session)
    return badge


def create_machine(
    session: Session,
    *,
    machine_id: str,
    site_id: str,
    name: str,
    kind: MachineKind | str = MachineKind.OTHER,
    device_id: str | None = None,
) -> Machine:
    _get(session, Site, site_id, "site")
    try:
        machine_kind = MachineKind(kind)
    except ValueError as exc:
        raise Invalid(f"unknown machine kind {kind!r}") from exc
    row = Machine(
        id=numbers.ident(machine_id, what="machine id"),
        site_id=site_id,
        name=name,
        kind=machine_kind,
        device_id=numbers.ident(device_id, what="device id") if device_id else None,
    )
    return _insert(session, row, conflict=f"machine {machine_id!r} or its device exists")


def live_qualification(
    session: Session, *, member_id: int, machine_id: str
) -> Qualification | None:
    return session.scalar(
        select(Qualification).where(
            Qualification.member_id == member_id,
            Qualification.machine_id == machine_id,
            Qualification.revoked_at.is_(None),
        )
    )


def grant_qualification(
    session: Session,
    *,
    member_id: int,
    machine_id: str,
    role: Role | str,
    granted_by: int | str,
    expires_at: datetime | None = None,
    instructor: bool = False,
    now: datetime | None = None,
) -> Qualification:
    """Qualify a member on a machine; a live qualification there is superseded (a renewal)."""
    _get(session, Member, member_id, "member")
    _get(session, Machine, machine_id, "machine")
    try:
        qualified = QualifiedRole(role)
    except ValueError as exc:
        raise Invalid(f"a qualification grants user or maintainer, not {role!r}") from exc
    at = _now(now)
    previous = live_qualification(session, member_id=member_id, machine_id=machine_id)
    if previous is not None:
        previous.revoked_at = at
        session.flush()  # the partial unique index allows one live row at a time
    row = Qualification(
        member_id=member_id,
        machine_id=machine_id,
        role=qualified,
        granted_by=_granted_by(session, granted_by),
        granted_at=at,
        expires_at=expires_at,
        instructor=instructor,
        revoked_at=None,
    )
    return _insert(session, row, conflict="a live qualification exists already")


def _granted_by(session: Session, granted_by: int | str) -> str:
    if isinstance(granted_by, int):
        _get(session, Member, granted_by, "member")
        return numbers.member_ref(granted_by)
    if not granted_by.strip():
        raise Invalid("say who granted the qualification")
    return granted_by.strip()


def revoke_qualification(
    session: Session, *, member_id: int, machine_id: str, now: datetime | None = None
) -> Qualification:
    live = live_qualification(session, member_id=member_id, machine_id=machine_id)
    if live is None:
        raise NotFound(f"member {member_id} holds no qualification on {machine_id!r}")
    live.revoked_at = _now(now)
    bump_acl_version(session)
    return live
