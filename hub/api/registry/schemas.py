"""Request and response shapes of the registry routes: Create, Update and Public per entity.

Field types mirror the registry columns so the database never sees what it would refuse.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hub.api.types import BadgeUid, DbId, Email, Ident, Moment, Name, Number, TimeZone
from hub.registry.models import (
    DEFAULT_TIMEZONE,
    MachineKind,
    OrganisationCategory,
    QualifiedRole,
)


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SiteCreate(BaseModel):
    id: Ident
    name: Name
    timezone: TimeZone = DEFAULT_TIMEZONE


class SitePublic(Public):
    id: str
    name: str
    timezone: str


class OrganisationCreate(BaseModel):
    name: Name
    category: OrganisationCategory
    enterprise_number: Number | None = Field(None, examples=["0403.170.701"])
    vat_number: Number | None = Field(None, examples=["BE 0403.170.701"])


class OrganisationPublic(Public):
    id: int
    name: str
    category: OrganisationCategory
    enterprise_number: str | None
    vat_number: str | None


class MemberCreate(BaseModel):
    name: Name
    email: Email | None = None
    organisation_id: DbId | None = None


class MemberUpdate(BaseModel):
    active: bool


class MemberPublic(Public):
    id: int
    name: str
    email: str | None
    organisation_id: int | None
    active: bool


class BadgeCreate(BaseModel):
    uid: BadgeUid = Field(examples=["04:A2:24:6A:B1:2C:80"])
    member_id: DbId


class BadgeEnrol(BaseModel):
    member_id: DbId


class BadgeUpdate(BaseModel):
    active: bool


class BadgePublic(Public):
    uid: str
    member_id: int
    active: bool
    enrolled_at: datetime


class SightingPublic(Public):
    uid: str
    machine_id: str
    device_id: str
    seen_at: datetime
    count: int


class MachineCreate(BaseModel):
    id: Ident
    site_id: Ident
    name: Name
    kind: MachineKind = MachineKind.OTHER
    device_id: Ident | None = None


class MachinePublic(Public):
    id: str
    site_id: str
    name: str
    kind: MachineKind
    device_id: str | None


class QualificationGrant(BaseModel):
    member_id: DbId
    machine_id: Ident
    role: QualifiedRole = QualifiedRole.USER
    expires_at: Moment | None = None
    instructor: bool = False
    granted_by: Name | None = Field(
        None, description="Free text (a training); defaults to the manager who grants it"
    )


class QualificationRevoke(BaseModel):
    member_id: DbId
    machine_id: Ident


class QualificationPublic(Public):
    id: int
    member_id: int
    machine_id: str
    role: QualifiedRole
    granted_by: str
    granted_at: datetime
    expires_at: datetime | None
    instructor: bool
    revoked_at: datetime | None
