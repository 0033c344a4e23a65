"""Machines: what members badge into, each on a site and driven by one edge device.

Managers register them; maintainers read them too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from hub.api.deps import MachineReader, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import MachineCreate, MachinePublic
from hub.api.types import Ident
from hub.errors import NotFound
from hub.registry import service
from hub.registry.models import Machine

router = APIRouter(prefix="/machines", tags=["machines"])


@router.get(
    "",
    summary="List machines",
    response_model=list[MachinePublic],
    responses=responses(401, 403, 422),
)
def list_machines(
    db: SessionDep, _reader: MachineReader, site_id: Annotated[Ident | None, Query()] = None
) -> list[Machine]:
    query = select(Machine).order_by(Machine.id)
    if site_id is not None:
        query = query.where(Machine.site_id == site_id)
    return list(db.scalars(query))


@router.post(
    "",
    summary="Register a machine",
    status_code=status.HTTP_201_CREATED,
    response_model=MachinePublic,
    responses=responses(401, 403, 404, 409, 422),
)
def create_machine(body: MachineCreate, writer: Writer) -> Machine:
    machine = service.create_machine(
        writer.session,
        machine_id=body.id,
        site_id=body.site_id,
        name=body.name,
        kind=body.kind,
        device_id=body.device_id,
    )
    writer.commit()
    return machine


@router.get(
    "/{machine_id}",
    summary="One machine",
    response_model=MachinePublic,
    responses=responses(401, 403, 404, 422),
)
def get_machine(
    machine_id: Annotated[Ident, Path()], db: SessionDep, _reader: MachineReader
) -> Machine:
    machine = db.get(Machine, machine_id)
    if machine is None:
        raise NotFound(f"no machine {machine_id!r}")
    return machine
