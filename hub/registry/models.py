"""Registry tables: who the members are, which badges they carry, what they may use where.

Enumerations are stored as their string values so reports and other tools can read them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime

DEFAULT_TIMEZONE = "Europe/Brussels"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def string_enum(enum: type[StrEnum], name: str) -> Enum:
    # VARCHAR rather than a PostgreSQL ENUM type: a new value needs no ALTER TYPE migration.
    return Enum(enum, name=name, native_enum=False, length=32, values_callable=_values)


class OrganisationCategory(StrEnum):
    """How billing treats an occupant's business."""

    RESIDENT_ARTISAN = "resident_artisan"
    COOPERATIVE_MEMBER = "cooperative_member"
    EXTERNAL = "external"
    TRAINING = "training"


class VatRegime(StrEnum):
    """How an organisation's invoices charge VAT: normally, reverse charged, or exempt."""

    STANDARD = "standard"
    REVERSE_CHARGE = "reverse_charge"
    EXEMPT = "exempt"


class MachineKind(StrEnum):
    CNC_MILL = "cnc_mill"
    LASER_CUTTER = "laser_cutter"
    PRINTER_3D = "printer_3d"
    OTHER = "other"


class QualifiedRole(StrEnum):
    """The roles a qualification grants: `contracts.models.Role` without `none`."""

    USER = "user"
    MAINTAINER = "maintainer"


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Compact forms: `0403170701` and `BE0403170701`; absent for private persons.
    enterprise_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    vat_number: Mapped[str | None] = mapped_column(String(14))
    category: Mapped[OrganisationCategory] = mapped_column(
        string_enum(OrganisationCategory, "organisation_category")
    )
    # Billing details. The server defaults fill the rows that existed before billing did.
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="BE", server_default="BE")
    billing_email: Mapped[str | None] = mapped_column(String(320))
    # Peppol endpoint (EAS code and id); unset, billing uses 0208 and the enterprise number.
    peppol_scheme: Mapped[str | None] = mapped_column(String(4))
    peppol_id: Mapped[str | None] = mapped_column(String(320))
    vat_regime: Mapped[VatRegime] = mapped_column(
        string_enum(VatRegime, "vat_regime"),
        default=VatRegime.STANDARD,
        server_default=VatRegime.STANDARD.value,
    )
    # The buyer reference invoices carry (PEPPOL-EN16931-R003); unset, billing uses `org-0007`.
    buyer_reference: Mapped[str | None] = mapped_column(String(100))


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Postal address, for a private person billed directly rather than through an organisation.
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="BE", server_default="BE")


class Badge(Base):
    __tablename__ = "badges"

    uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BadgeSighting(Base):
    """An unknown badge tapped at a machine, so the manager can enrol "the one just tapped"."""

    __tablename__ = "badge_sightings"

    uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    machine_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=1)


class Machine(Base):
    __tablename__ = "machines"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[MachineKind] = mapped_column(string_enum(MachineKind, "machine_kind"))
    device_id: Mapped[str | None] = mapped_column(String(63), unique=True)


class Qualification(Base):
    __tablename__ = "qualifications"
    __table_args__ = (
        # At most one live (unrevoked) qualification per member and machine.
        Index(
            "uq_qualifications_live",
            "member_id",
            "machine_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machines.id"), index=True)
    role: Mapped[QualifiedRole] = mapped_column(string_enum(QualifiedRole, "qualified_role"))
    # A member id ("m-0007") or free text ("supplier training 2026-03").
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AclVersion(Base):
    """One row: the version every access list carries, bumped by each registry write."""

    __tablename__ = "acl_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
