"""Machine sessions as the edges reported them, listed per month for billing and maintenance.

A session belongs to the month it starts in, read in its site's time zone, as usage counts it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.deps import SessionDep, SessionReader
from hub.api.errors import responses
from hub.api.types import DbId, Ident, Month
from hub.errors import NotFound
from hub.ledger.models import MachineSession
from hub.ledger.usage import ZONE_MARGIN, month_period
from hub.registry.numbers import member_ref
from hub.registry.service import SiteZones

router = APIRouter(prefix="/sessions", tags=["sessions"])
UTC_ZONE = ZoneInfo("UTC")


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: UUID
    site: str
    machine_id: str
    device_id: str
    member_id: str
    badge_uid: str
    role: str | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    unclean: bool
    badge_seconds: int | None
    busy_seconds: int | None
    energy_wh: float | None


def sessions_in_month(
    session: Session, *, month: str, machine_id: str | None = None, member: str | None = None
) -> list[MachineSession]:
    """Sessions starting in `month` (local to their site), oldest first; `member` is `m-0042`."""
    first, last = month_period(month)
    zones = SiteZones(session)
    query = (
        select(MachineSession)
        .where(
            MachineSession.started_at >= datetime.combine(first, time(), UTC_ZONE) - ZONE_MARGIN,
            MachineSession.started_at < datetime.combine(last, time(), UTC_ZONE) + ZONE_MARGIN,
        )
        .order_by(MachineSession.started_at, MachineSession.session_id)
    )
    if machine_id is not None:
        query = query.where(MachineSession.machine_id == machine_id)
    if member is not None:
        query = query.where(MachineSession.member_id == member)
    return [
        row
        for row in session.scalars(query)
        if first <= row.started_at.astimezone(zones(row.site)).date() < last
    ]


def get_machine_session(
    session: Session, *, session_id: UUID, member: str | None = None
) -> MachineSession:
    """One session; with `member`, only if it is that member's (else it does not exist for them)."""
    row = session.get(MachineSession, session_id)
    if row is None or (member is not None and row.member_id != member):
        raise NotFound(f"no session {session_id}")
    return row


@router.get(
    "",
    summary="Sessions that started in a month",
    response_model=list[SessionPublic],
    responses=responses(401, 403, 422),
)
def list_sessions(
    db: SessionDep,
    _reader: SessionReader,
    month: Annotated[Month, Query()],
    machine_id: Annotated[Ident | None, Query()] = None,
    member_id: Annotated[DbId | None, Query(description="A registry member id")] = None,
) -> list[MachineSession]:
    member = member_ref(member_id) if member_id is not None else None
    return sessions_in_month(db, month=month, machine_id=machine_id, member=member)


@router.get(
    "/{session_id}",
    summary="One session",
    response_model=SessionPublic,
    responses=responses(401, 403, 404, 422),
)
def get_session(
    session_id: Annotated[UUID, Path()], db: SessionDep, _reader: SessionReader
) -> MachineSession:
    return get_machine_session(db, session_id=session_id)
