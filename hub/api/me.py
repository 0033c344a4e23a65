"""What a member user may see: its own usage and sessions, nothing else.

The member comes from the token, never from the request, so another member's data is unreachable.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from hub.api.deps import MemberId, SessionDep
from hub.api.errors import responses
from hub.api.sessions import SessionPublic, get_machine_session, sessions_in_month
from hub.api.types import Month
from hub.api.usage import UsageDetailPublic
from hub.ledger.models import MachineSession
from hub.ledger.usage import UsageDetail, usage_detail
from hub.registry.numbers import member_ref

router = APIRouter(prefix="/me", tags=["me"])


@router.get(
    "/usage",
    summary="My badge and busy time and energy in a month, per machine",
    response_model=list[UsageDetailPublic],
    responses=responses(401, 403, 422),
)
def my_usage(
    db: SessionDep, member_id: MemberId, month: Annotated[Month, Query()]
) -> list[UsageDetail]:
    mine = member_ref(member_id)
    return [row for row in usage_detail(db, month=month) if row.member_id == mine]


@router.get(
    "/sessions",
    summary="My sessions that started in a month",
    response_model=list[SessionPublic],
    responses=responses(401, 403, 422),
)
def my_sessions(
    db: SessionDep, member_id: MemberId, month: Annotated[Month, Query()]
) -> list[MachineSession]:
    return sessions_in_month(db, month=month, member=member_ref(member_id))


@router.get(
    "/sessions/{session_id}",
    summary="One of my sessions",
    response_model=SessionPublic,
    responses=responses(401, 403, 404, 422),
)
def my_session(
    session_id: Annotated[UUID, Path()], db: SessionDep, member_id: MemberId
) -> MachineSession:
    return get_machine_session(db, session_id=session_id, member=member_ref(member_id))
