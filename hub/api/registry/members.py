"""Members: the people who badge in, optionally working for an organisation.

A member is never deleted (their sessions are billed); deactivating one removes their badges from
every access list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from hub.api.deps import Manager, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import MemberCreate, MemberPublic, MemberUpdate
from hub.api.types import DbId
from hub.errors import NotFound
from hub.registry import service
from hub.registry.models import Member

router = APIRouter(prefix="/members", tags=["members"])


@router.get(
    "", summary="List members", response_model=list[MemberPublic], responses=responses(401, 403)
)
def list_members(db: SessionDep, _manager: Manager) -> list[Member]:
    return list(db.scalars(select(Member).order_by(Member.id)))


@router.post(
    "",
    summary="Register a member",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    responses=responses(401, 403, 404, 409, 422),
)
def create_member(body: MemberCreate, writer: Writer) -> Member:
    member = service.create_member(writer.session, **body.model_dump())
    writer.commit()
    return member


@router.get(
    "/{member_id}",
    summary="One member",
    response_model=MemberPublic,
    responses=responses(401, 403, 404, 422),
)
def get_member(member_id: Annotated[DbId, Path()], db: SessionDep, _manager: Manager) -> Member:
    member = db.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member {member_id}")
    return member


@router.patch(
    "/{member_id}",
    summary="Activate or deactivate a member, or correct their address",
    response_model=MemberPublic,
    responses=responses(401, 403, 404, 422),
)
def update_member(member_id: Annotated[DbId, Path()], body: MemberUpdate, writer: Writer) -> Member:
    address = body.model_dump(exclude_unset=True, exclude={"active"})
    member = service.update_member_address(writer.session, member_id=member_id, **address)
    if body.active is None:
        # An address is in no access list: nothing to publish to the machines.
        writer.session.commit()
        return member
    service.set_member_active(writer.session, member_id=member_id, active=body.active)
    writer.commit()
    return member
