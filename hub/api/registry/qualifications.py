"""Qualifications: who may use (or maintain) which machine, until when.

Granting again renews (the live one is superseded); revoking keeps the row, for the record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from hub.api.accounts import Principal
from hub.api.deps import MachineReader, Manager, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import (
    QualificationGrant,
    QualificationPublic,
    QualificationRevoke,
)
from hub.api.types import DbId, Ident
from hub.registry import service
from hub.registry.models import Qualification

router = APIRouter(prefix="/qualifications", tags=["qualifications"])


@router.get(
    "",
    summary="List qualifications",
    response_model=list[QualificationPublic],
    responses=responses(401, 403, 422),
)
def list_qualifications(
    db: SessionDep,
    _reader: MachineReader,
    member_id: Annotated[DbId | None, Query()] = None,
    machine_id: Annotated[Ident | None, Query()] = None,
    live: Annotated[bool, Query(description="Only unrevoked ones")] = True,
) -> list[Qualification]:
    query = select(Qualification).order_by(Qualification.id)
    if member_id is not None:
        query = query.where(Qualification.member_id == member_id)
    if machine_id is not None:
        query = query.where(Qualification.machine_id == machine_id)
    if live:
        query = query.where(Qualification.revoked_at.is_(None))
    return list(db.scalars(query))


@router.post(
    "",
    summary="Qualify a member on a machine (renews a live qualification)",
    status_code=status.HTTP_201_CREATED,
    response_model=QualificationPublic,
    responses=responses(401, 403, 404, 409, 422),
)
def grant(body: QualificationGrant, writer: Writer, manager: Manager) -> Qualification:
    qualification = service.grant_qualification(
        writer.session,
        member_id=body.member_id,
        machine_id=body.machine_id,
        role=body.role,
        granted_by=body.granted_by or _grantor(manager),
        expires_at=body.expires_at,
        instructor=body.instructor,
    )
    writer.commit()
    return qualification


def _grantor(manager: Principal) -> int | str:
    # A manager who is also a member is recorded as that member, like the edge's instructors.
    return manager.member_id if manager.member_id is not None else f"user {manager.username}"


@router.post(
    "/revoke",
    summary="Revoke a member's live qualification on a machine",
    response_model=QualificationPublic,
    responses=responses(401, 403, 404, 422),
)
def revoke(body: QualificationRevoke, writer: Writer) -> Qualification:
    qualification = service.revoke_qualification(
        writer.session, member_id=body.member_id, machine_id=body.machine_id
    )
    writer.commit()
    return qualification
