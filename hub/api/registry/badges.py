"""Badges: enrol a member's badge, typically the unknown one just tapped at a machine.

Sightings list badges the edges refused as unknown; enrolling one removes it from the list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from hub.api.deps import Manager, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import (
    BadgeCreate,
    BadgeEnrol,
    BadgePublic,
    BadgeUpdate,
    SightingPublic,
)
from hub.api.types import BadgeUid, Ident
from hub.errors import NotFound
from hub.registry import numbers, service
from hub.registry.models import Badge, BadgeSighting
from hub.registry.sightings import recent_sightings

router = APIRouter(prefix="/badges", tags=["badges"])


@router.get(
    "", summary="List badges", response_model=list[BadgePublic], responses=responses(401, 403)
)
def list_badges(db: SessionDep, _manager: Manager) -> list[Badge]:
    return list(db.scalars(select(Badge).order_by(Badge.uid)))


@router.post(
    "",
    summary="Enrol a badge for a member",
    status_code=status.HTTP_201_CREATED,
    response_model=BadgePublic,
    responses=responses(401, 403, 404, 409, 422),
)
def enrol_badge(body: BadgeCreate, writer: Writer) -> Badge:
    badge = service.enrol_badge(writer.session, uid=body.uid, member_id=body.member_id)
    writer.commit()
    return badge


@router.get(
    "/sightings",
    summary="Unknown badges recently tapped at machines, newest first",
    response_model=list[SightingPublic],
    responses=responses(401, 403, 422),
)
def list_sightings(
    db: SessionDep,
    _manager: Manager,
    machine_id: Annotated[Ident | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[BadgeSighting]:
    return recent_sightings(db, machine_id=machine_id, limit=limit)


@router.post(
    "/sightings/{uid}/enrol",
    summary="Enrol a badge seen at a machine for a member",
    status_code=status.HTTP_201_CREATED,
    response_model=BadgePublic,
    responses=responses(401, 403, 404, 409, 422),
)
def enrol_sighted_badge(
    uid: Annotated[BadgeUid, Path()], body: BadgeEnrol, writer: Writer
) -> Badge:
    compact = numbers.badge_uid(uid)
    seen = writer.session.scalar(select(BadgeSighting.uid).where(BadgeSighting.uid == compact))
    if seen is None:
        raise NotFound(f"badge {compact} was not seen at any machine")
    badge = service.enrol_badge(writer.session, uid=compact, member_id=body.member_id)
    writer.commit()
    return badge


@router.get(
    "/{uid}",
    summary="One badge",
    response_model=BadgePublic,
    responses=responses(401, 403, 404, 422),
)
def get_badge(uid: Annotated[BadgeUid, Path()], db: SessionDep, _manager: Manager) -> Badge:
    compact = numbers.badge_uid(uid)
    badge = db.get(Badge, compact)
    if badge is None:
        raise NotFound(f"no badge {compact}")
    return badge


@router.patch(
    "/{uid}",
    summary="Block or unblock a badge",
    response_model=BadgePublic,
    responses=responses(401, 403, 404, 422),
)
def update_badge(uid: Annotated[BadgeUid, Path()], body: BadgeUpdate, writer: Writer) -> Badge:
    badge = service.set_badge_active(writer.session, uid=uid, active=body.active)
    writer.commit()
    return badge
