"""Request and response shapes of the registry routes: Create, Update and Public per entity.

Field types mirror the registry columns so the database never sees what it would refuse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.api.types import (
    NO_NUL,
    BadgeUid,
    DbId,
    Email,
    Ident,
    Moment,
    Name,
    Number,
    ShortText,
    TimeZone,
)
from hub.registry.models import (
    DEFAULT_TIMEZONE,
    MachineKind,
    OrganisationCategory,
    QualifiedRole,
    VatRegime,
)

# Lengths of the registry's billing columns; the service checks the values themselves.
Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 code", examples=["BE"]),
]
Postcode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16, pattern=NO_NUL)]
PeppolScheme = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^(?:[0-9]{4}|EM|em)$"),
    Field(description="Peppol EAS code: 0208 (enterprise number), 9925, EM...", examples=["0208"]),
]
PeppolId = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=NO_NUL)]


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


class Address(BaseModel):
    street: Name | None = Field(None, examples=["Rue de la Brasserie 12"])
    postcode: Postcode | None = Field(None, examples=["4000"])
    city: ShortText | None = Field(None, examples=["Liège"])
    country: Country = "BE"


class OrganisationBilling(Address):
    """Billing details. In a PATCH only the fields sent change; null clears an optional one."""

    billing_email: Email | None = None
    peppol_scheme: PeppolScheme | None = Field(
        None, description="Unset: 0208 with the enterprise number"
    )
    peppol_id: PeppolId | None = None
    vat_regime: VatRegime = VatRegime.STANDARD
    buyer_reference: ShortText | None = Field(
        None, description="The buyer reference on invoices; unset: `org-0007`"
    )


class OrganisationCreate(OrganisationBilling):
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
    street: str | None
    postcode: str | None
    city: str | None
    country: str
    billing_email: str | None
    peppol_scheme: str | None
    peppol_id: str | None
    vat_regime: VatRegime
    buyer_reference: str | None


class MemberCreate(Address):
    name: Name
    email: Email | None = None
    organisation_id: DbId | None = None


class MemberUpdate(Address):
    """Only the fields sent change: activate or deactivate, or correct the postal address."""

    active: bool | None = Field(None, description="Absent or null: unchanged")


class MemberPublic(Public):
    id: int
    name: str
    email: str | None
    organisation_id: int | None
    active: bool
    street: str | None
    postcode: str | None
    city: str | None
    country: str


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
