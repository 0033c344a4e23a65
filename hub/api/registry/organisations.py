"""Organisations: the occupants' businesses that usage is billed to.

Belgian enterprise and VAT numbers are checked on the way in; a bad one is a 422 with the reason.
Billing details (address, Peppol endpoint, VAT regime) can be corrected later; they are not part
of any access list, so changing them publishes nothing to the machines.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from hub.api.deps import Manager, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import (
    OrganisationBilling,
    OrganisationCreate,
    OrganisationPublic,
)
from hub.api.types import DbId
from hub.errors import NotFound
from hub.registry import service
from hub.registry.models import Organisation

router = APIRouter(prefix="/organisations", tags=["organisations"])


@router.get(
    "",
    summary="List organisations",
    response_model=list[OrganisationPublic],
    responses=responses(401, 403),
)
def list_organisations(db: SessionDep, _manager: Manager) -> list[Organisation]:
    return list(db.scalars(select(Organisation).order_by(Organisation.id)))


@router.post(
    "",
    summary="Register an organisation",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationPublic,
    responses=responses(401, 403, 409, 422),
)
def create_organisation(body: OrganisationCreate, writer: Writer) -> Organisation:
    organisation = service.create_organisation(writer.session, **body.model_dump())
    writer.commit()
    return organisation


@router.get(
    "/{organisation_id}",
    summary="One organisation",
    response_model=OrganisationPublic,
    responses=responses(401, 403, 404, 422),
)
def get_organisation(
    organisation_id: Annotated[DbId, Path()], db: SessionDep, _manager: Manager
) -> Organisation:
    organisation = db.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {organisation_id}")
    return organisation


@router.patch(
    "/{organisation_id}",
    summary="Change an organisation's billing details",
    response_model=OrganisationPublic,
    responses=responses(401, 403, 404, 422),
)
def update_organisation(
    organisation_id: Annotated[DbId, Path()],
    body: OrganisationBilling,
    db: SessionDep,
    _manager: Manager,
) -> Organisation:
    organisation = service.update_organisation_billing(
        db, organisation_id=organisation_id, **body.model_dump(exclude_unset=True)
    )
    db.commit()
    return organisation
