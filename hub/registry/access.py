"""What goes into a machine's access list, and the version number the list carries.

The version lives in the database and is bumped inside each registry write's transaction, so it
only ever grows, across hub restarts and between several hub processes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from contracts.models import AccessEntry, Role
from hub.errors import NotFound
from hub.registry.models import AclVersion, Badge, Machine, Member, Qualification
from hub.registry.numbers import member_ref

ACL_ROW = 1


def acl_version(session: Session) -> int:
    """The version the next access lists carry (>= 1)."""
    version = session.scalar(select(AclVersion.version).where(AclVersion.id == ACL_ROW))
    if version is None:
        raise NotFound("the acl_version row is missing: run hub.db.migrate")
    return version


def bump_acl_version(session: Session) -> None:
    # An UPDATE rather than read-then-write: on PostgreSQL the row lock orders concurrent
    # registry writers, so a later commit always carries a higher version.
    session.execute(
        update(AclVersion).where(AclVersion.id == ACL_ROW).values(version=AclVersion.version + 1)
    )


def access_entries(session: Session, *, machine_id: str, now: datetime) -> list[AccessEntry]:
    """One entry per active badge of an active member, ordered by badge UID.

    Unqualified (or revoked) members get role `none`, so the edge says "not qualified" rather
    than "unknown badge"; an expired qualification keeps its role and its `expires_at`, so the
    edge says "expired". Inactive members and badges are left out and read as unknown.
    """
    if session.get(Machine, machine_id) is None:
        raise NotFound(f"no machine {machine_id!r}")
    live = and_(
        Qualification.member_id == Member.id,
        Qualification.machine_id == machine_id,
        Qualification.revoked_at.is_(None),
        Qualification.granted_at <= now,
    )
    rows = session.execute(
        select(Badge.uid, Member.id, Qualification.role, Qualification.expires_at)
        .join(Member, Badge.member_id == Member.id)
        .outerjoin(Qualification, live)
        .where(Badge.active, Member.active)
        .order_by(Badge.uid)
    )
    return [
        AccessEntry(
            badge_uid=uid,
            member_id=member_ref(member_id),
            role=Role(role.value) if role is not None else Role.NONE,
            expires_at=expires_at,
        )
        for uid, member_id, role, expires_at in rows
    ]
