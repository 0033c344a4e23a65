"""Sites: the workshops' premises, each with the time zone its bills are read in.

Only managers see and change them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from hub.api.deps import Manager, SessionDep, Writer
from hub.api.errors import responses
from hub.api.registry.schemas import SiteCreate, SitePublic
from hub.api.types import Ident
from hub.errors import NotFound
from hub.registry import service
from hub.registry.models import Site

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get(
    "", summary="List sites", response_model=list[SitePublic], responses=responses(401, 403)
)
def list_sites(db: SessionDep, _manager: Manager) -> list[Site]:
    return list(db.scalars(select(Site).order_by(Site.id)))


@router.post(
    "",
    summary="Create a site",
    status_code=status.HTTP_201_CREATED,
    response_model=SitePublic,
    responses=responses(401, 403, 409, 422),
)
def create_site(body: SiteCreate, writer: Writer) -> Site:
    site = service.create_site(
        writer.session, site_id=body.id, name=body.name, timezone=body.timezone
    )
    writer.commit()
    return site


@router.get(
    "/{site_id}",
    summary="One site",
    response_model=SitePublic,
    responses=responses(401, 403, 404, 422),
)
def get_site(site_id: Annotated[Ident, Path()], db: SessionDep, _manager: Manager) -> Site:
    site = db.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    return site
