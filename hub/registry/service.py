"""Registry writes: sites, organisations, members, badges, machines and qualifications.

Every write that can change an access list bumps the access-list version in the same transaction
(billing details cannot, so changing them does not); the caller commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Self, TypedDict, TypeVar, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.models import Role
from hub.db import Base
from hub.errors import Conflict, Invalid, NotFound
from hub.registry import numbers
from hub.registry.access import bump_acl_version
from hub.registry.models import (
    DEFAULT_TIMEZONE,
    Badge,
    BadgeSighting,
    Machine,
    MachineKind,
    Member,
    Organisation,
    OrganisationCategory,
    Qualification,
    QualifiedRole,
    Site,
    VatRegime,
)

RowT = TypeVar("RowT", bound=Base)
COUNTRY = re.compile(r"^[A-Z]{2}$")
# Peppol EAS codes: four digits (0208 the Belgian enterprise number, 9925 the Belgian VAT
# number), or EM for an e-mail address.
EAS = re.compile(r"^(?:[0-9]{4}|EM)$")
PEPPOL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,99}$")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _insert(session: Session, row: RowT, *, conflict: str) -> RowT:
    # A savepoint keeps the caller's transaction usable after a unique violation (PostgreSQL
    # aborts the whole transaction otherwise).
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    bump_acl_version(session)
    return row


def _get(session: Session, model: type[RowT], key: object, what: str) -> RowT:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


def create_site(
    session: Session, *, site_id: str, name: str, timezone: str = DEFAULT_TIMEZONE
) -> Site:
    site = Site(
        id=numbers.ident(site_id, what="site id"), name=name, timezone=numbers.timezone(timezone)
    )
    return _insert(session, site, conflict=f"site {site_id!r} exists")


class SiteZones:
    """Each site's time zone, read once for a pass over many sessions; a site the registry
    does not have (removed since) reads in the default zone."""

    def __init__(self, session: Session) -> None:
        self._zones = {site.id: ZoneInfo(site.timezone) for site in session.scalars(select(Site))}
        self._default = ZoneInfo(DEFAULT_TIMEZONE)

    def __call__(self, site: str) -> ZoneInfo:
        return self._zones.get(site, self._default)


def home_timezone(session: Session) -> str:
    """The zone a workshop's calendar is read in ("this month", "today"): the first site's, as
    a cooperative's sites share one; the default before any site exists."""
    zone = session.scalar(select(Site.timezone).order_by(Site.id).limit(1))
    return zone or DEFAULT_TIMEZONE


class MemberAddress(TypedDict, total=False):
    """A postal address; in an update, only the keys given change."""

    street: str | None
    postcode: str | None
    city: str | None
    country: str  # ISO 3166-1 alpha-2


class OrganisationBilling(MemberAddress, total=False):
    """What invoices to an organisation need beyond its name and numbers."""

    billing_email: str | None
    peppol_scheme: str | None  # EAS code; unset, 0208 when the enterprise number is known
    peppol_id: str | None
    vat_regime: VatRegime | str
    buyer_reference: str | None


@dataclass(frozen=True)
class _Address:
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = "BE"

    def checked(self) -> Self:
        return replace(
            self,
            street=_text(self.street, what="street", max_length=200),
            postcode=_text(self.postcode, what="postcode", max_length=16),
            city=_text(self.city, what="city", max_length=100),
            country=_country(self.country),
        )

    def store(self, row: Organisation | Member) -> None:
        row.street, row.postcode, row.city = self.street, self.postcode, self.city
        row.country = self.country


@dataclass(frozen=True)
class _Billing(_Address):
    billing_email: str | None = None
    peppol_scheme: str | None = None
    peppol_id: str | None = None
    vat_regime: VatRegime | str = VatRegime.STANDARD
    buyer_reference: str | None = None

    @classmethod
    def of(cls, row: Organisation) -> _Billing:
        return cls(
            street=row.street,
            postcode=row.postcode,
            city=row.city,
            country=row.country,
            billing_email=row.billing_email,
            peppol_scheme=row.peppol_scheme,
            peppol_id=row.peppol_id,
            vat_regime=row.vat_regime,
            buyer_reference=row.buyer_reference,
        )

    def checked_for(self, row: Organisation) -> _Billing:
        """Canonical values, consistent with the organisation's numbers, or Invalid."""
        email = _email(self.billing_email)
        regime = _vat_regime(self.vat_regime)
        if regime is VatRegime.REVERSE_CHARGE and not row.vat_number:
            raise Invalid("reverse charge needs the organisation's VAT number")
        scheme, peppol_id = _peppol(
            self.peppol_scheme, self.peppol_id, enterprise=row.enterprise_number, email=email
        )
        return replace(
            self.checked(),
            billing_email=email,
            peppol_scheme=scheme,
            peppol_id=peppol_id,
            vat_regime=regime,
            buyer_reference=_text(self.buyer_reference, what="buyer reference", max_length=100),
        )

    def store_billing(self, row: Organisation) -> None:
        self.store(row)
        row.billing_email, row.buyer_reference = self.billing_email, self.buyer_reference
        row.peppol_scheme, row.peppol_id = self.peppol_scheme, self.peppol_id
        row.vat_regime = VatRegime(self.vat_regime)


def _text(value: str | None, *, what: str, max_length: int) -> str | None:
    """Free text as stored: stripped, empty as None, and what PostgreSQL would refuse refused."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if "\x00" in cleaned or len(cleaned) > max_length:
        raise Invalid(f"{what} must be at most {max_length} characters, without NUL")
    return cleaned


def _country(value: str) -> str:
    code = value.strip().upper()
    if not COUNTRY.fullmatch(code):
        raise Invalid(f"{value!r} is not a country code (ISO 3166 alpha-2, such as BE)")
    return code


def _email(value: str | None) -> str | None:
    cleaned = _text(value, what="e-mail address", max_length=320)
    return numbers.email(cleaned) if cleaned else None


def _vat_regime(value: VatRegime | str) -> VatRegime:
    try:
        return VatRegime(value)
    except ValueError as exc:
        raise Invalid(f"unknown VAT regime {value!r}") from exc


def _peppol(
    scheme: str | None, peppol_id: str | None, *, enterprise: str | None, email: str | None
) -> tuple[str | None, str | None]:
    """A Peppol endpoint override: the scheme (EAS code) and its id, the id checked per scheme."""
    code = _text(scheme, what="Peppol scheme", max_length=4)
    given = _text(peppol_id, what="Peppol id", max_length=320)
    if code is None:
        if given is not None:
            raise Invalid("a Peppol id needs its scheme (an EAS code such as 0208)")
        return None, None
    code = code.upper()
    if not EAS.fullmatch(code):
        raise Invalid(f"{scheme!r} is not a Peppol EAS code (four digits, or EM)")
    if given is not None:
        return code, _peppol_id(code, given)
    # Without an id, billing falls back on the enterprise number or the billing e-mail.
    if (code == "0208" and enterprise) or (code == "EM" and email):
        return code, None
    raise Invalid(f"give the Peppol id for scheme {code}")


def _peppol_id(scheme: str, value: str) -> str:
    if scheme == "0208":
        return numbers.enterprise_number(value)
    if scheme == "9925":
        return numbers.vat_number(value)
    if scheme == "EM":
        return numbers.email(value)
    if not PEPPOL_ID.fullmatch(value):
        raise Invalid(f"{value!r} is not a Peppol participant id")
    return value


def create_organisation(
    session: Session,
    *,
    name: str,
    category: OrganisationCategory | str,
    enterprise_number: str | None = None,
    vat_number: str | None = None,
    **billing: Unpack[OrganisationBilling],
) -> Organisation:
    """An occupant's business; both numbers are optional (private persons) but checked if given."""
    enterprise = numbers.enterprise_number(enterprise_number) if enterprise_number else None
    vat = numbers.vat_number(vat_number) if vat_number else None
    if enterprise and vat and vat[2:] != enterprise:
        raise Invalid(f"VAT number {vat} does not belong to enterprise {enterprise}")
    try:
        kind = OrganisationCategory(category)
    except ValueError as exc:
        raise Invalid(f"unknown organisation category {category!r}") from exc
    row = Organisation(name=name, category=kind, enterprise_number=enterprise, vat_number=vat)
    replace(_Billing(), **billing).checked_for(row).store_billing(row)
    return _insert(session, row, conflict=f"enterprise {enterprise} is already registered")


def update_organisation_billing(
    session: Session, *, organisation_id: int, **changes: Unpack[OrganisationBilling]
) -> Organisation:
    """Change the billing details given; the others stay. Issued invoices keep what they said."""
    row = _get(session, Organisation, organisation_id, "organisation")
    replace(_Billing.of(row), **changes).checked_for(row).store_billing(row)
    return row


def create_member(
    session: Session,
    *,
    name: str,
    email: str | None = None,
    organisation_id: int | None = None,
    **address: Unpack[MemberAddress],
) -> Member:
    """A person who badges in; the address is for billing them directly (no organisation)."""
    if organisation_id is not None:
        _get(session, Organisation, organisation_id, "organisation")
    mail = numbers.email(email) if email else None
    row = Member(name=name, email=mail, organisation_id=organisation_id, active=True)
    replace(_Address(), **address).checked().store(row)
    return _insert(session, row, conflict=f"e-mail {mail} is already used")


def update_member_address(
    session: Session, *, member_id: int, **changes: Unpack[MemberAddress]
) -> Member:
    """Change the parts of a member's postal address given; the others stay."""
    row = _get(session, Member, member_id, "member")
    current = _Address(street=row.street, postcode=row.postcode, city=row.city, country=row.country)
    replace(current, **changes).checked().store(row)
    return row


def set_member_active(session: Session, *, member_id: int, active: bool) -> Member:
    member = _get(session, Member, member_id, "member")
    member.active = active
    bump_acl_version(session)
    return member


def enrol_badge(
    session: Session, *, uid: str, member_id: int, now: datetime | None = None
) -> Badge:
    """Give a badge (typically one just seen at a machine) to a member."""
    _get(session, Member, member_id, "member")
    compact = numbers.badge_uid(uid)
    if session.get(Badge, compact) is not None:
        raise Conflict(f"badge {compact} is already enrolled")
    badge = Badge(uid=compact, member_id=member_id, active=True, enrolled_at=_now(now))
    _insert(session, badge, conflict=f"badge {compact} is already enrolled")
    session.execute(delete(BadgeSighting).where(BadgeSighting.uid == compact))
    return badge


def set_badge_active(session: Session, *, uid: str, active: bool) -> Badge:
    badge = _get(session, Badge, numbers.badge_uid(uid), "badge")
    badge.active = active
    bump_acl_version(session)
    return badge


def create_machine(
    session: Session,
    *,
    machine_id: str,
    site_id: str,
    name: str,
    kind: MachineKind | str = MachineKind.OTHER,
    device_id: str | None = None,
) -> Machine:
    _get(session, Site, site_id, "site")
    try:
        machine_kind = MachineKind(kind)
    except ValueError as exc:
        raise Invalid(f"unknown machine kind {kind!r}") from exc
    row = Machine(
        id=numbers.ident(machine_id, what="machine id"),
        site_id=site_id,
        name=name,
        kind=machine_kind,
        device_id=numbers.ident(device_id, what="device id") if device_id else None,
    )
    return _insert(session, row, conflict=f"machine {machine_id!r} or its device exists")


def live_qualification(
    session: Session, *, member_id: int, machine_id: str
) -> Qualification | None:
    return session.scalar(
        select(Qualification).where(
            Qualification.member_id == member_id,
            Qualification.machine_id == machine_id,
            Qualification.revoked_at.is_(None),
        )
    )


def grant_qualification(
    session: Session,
    *,
    member_id: int,
    machine_id: str,
    role: Role | str,
    granted_by: int | str,
    expires_at: datetime | None = None,
    instructor: bool = False,
    now: datetime | None = None,
) -> Qualification:
    """Qualify a member on a machine; a live qualification there is superseded (a renewal)."""
    _get(session, Member, member_id, "member")
    _get(session, Machine, machine_id, "machine")
    try:
        qualified = QualifiedRole(role)
    except ValueError as exc:
        raise Invalid(f"a qualification grants user or maintainer, not {role!r}") from exc
    at = _now(now)
    previous = live_qualification(session, member_id=member_id, machine_id=machine_id)
    if previous is not None:
        previous.revoked_at = at
        session.flush()  # the partial unique index allows one live row at a time
    row = Qualification(
        member_id=member_id,
        machine_id=machine_id,
        role=qualified,
        granted_by=_granted_by(session, granted_by),
        granted_at=at,
        expires_at=expires_at,
        instructor=instructor,
        revoked_at=None,
    )
    return _insert(session, row, conflict="a live qualification exists already")


def _granted_by(session: Session, granted_by: int | str) -> str:
    if isinstance(granted_by, int):
        _get(session, Member, granted_by, "member")
        return numbers.member_ref(granted_by)
    if not granted_by.strip():
        raise Invalid("say who granted the qualification")
    return granted_by.strip()


def revoke_qualification(
    session: Session, *, member_id: int, machine_id: str, now: datetime | None = None
) -> Qualification:
    live = live_qualification(session, member_id=member_id, machine_id=machine_id)
    if live is None:
        raise NotFound(f"member {member_id} holds no qualification on {machine_id!r}")
    live.revoked_at = _now(now)
    bump_acl_version(session)
    return live
