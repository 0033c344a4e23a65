"""The console's registry pages: organisations, members, badges (enrolling the one just tapped)
and qualifications.

Managers read and write; maintainers read the machines' qualifications. Every write goes through
`hub.registry.service`, is audited in its transaction, and once committed tells the hub to
republish the access lists, as the API's `RegistryWriter` does. Refused input re-renders the page
with the reason and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hub.api.deps import Now, SessionDep
from hub.api.errors import status_of
from hub.api.models import UserRole
from hub.console import audit, i18n
from hub.console import registry_views as views
from hub.console.auth import ManagerPage, SignedForm, Visitor, page_for
from hub.console.web import language, render, see_other
from hub.errors import Conflict, HubError, Invalid, NotFound
from hub.registry import numbers, service
from hub.registry.models import (
    DEFAULT_TIMEZONE,
    Machine,
    Member,
    Organisation,
    OrganisationCategory,
    QualifiedRole,
    Site,
)

router = APIRouter(prefix="/console", include_in_schema=False)
FormText = Annotated[str, Form()]
Refused = (Invalid, Conflict, NotFound)
MAX_NAME = 200
# What a redirect after a write may announce (`?done=`); anything else shows nothing.
DONE = frozenset(
    {
        "organisation_created",
        "member_created",
        "member_deactivated",
        "member_reactivated",
        "badge_enrolled",
        "badge_deactivated",
        "badge_reactivated",
        "qualification_granted",
        "qualification_revoked",
    }
)


def _manager_form(visitor: ManagerPage, _signed: SignedForm) -> Visitor:
    """A manager's form whose CSRF token matches their session."""
    return visitor


ManagerForm = Annotated[Visitor, Depends(_manager_form)]
QualificationReader = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.MAINTAINER)]


# --- organisations ---------------------------------------------------------------------------


@router.get("/organisations")
def organisations_page(
    request: Request, db: SessionDep, visitor: ManagerPage, done: str = ""
) -> Response:
    return _organisations(request, db, visitor, done=done)


def _organisations(
    request: Request, db: SessionDep, visitor: Visitor, *, status: int = 200, **extra: Any
) -> Response:
    return _page(
        request,
        "registry_organisations.html",
        visitor,
        status=status,
        organisations=views.organisations(db),
        categories=[c.value for c in OrganisationCategory],
        **extra,
    )


@router.post("/organisations")
def create_organisation(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    name: FormText = "",
    category: FormText = "",
    enterprise_number: FormText = "",
    vat_number: FormText = "",
) -> Response:
    form = {"name": name, "category": category, "enterprise_number": enterprise_number}
    form["vat_number"] = vat_number
    try:
        org = service.create_organisation(
            db,
            name=_name(name),
            category=category,
            enterprise_number=enterprise_number.strip() or None,
            vat_number=vat_number.strip() or None,
        )
        _done(request, db, visitor, now, action="organisation.create", target=org.name)
    except Refused as exc:
        db.rollback()
        return _organisations(request, db, visitor, status=status_of(exc), error=exc, form=form)
    return _redirect(f"/console/organisations/{org.id}", done="organisation_created")


@router.get("/organisations/{organisation_id}")
def organisation_page(
    request: Request, db: SessionDep, visitor: ManagerPage, organisation_id: str, done: str = ""
) -> Response:
    org = db.get(Organisation, _path_id(organisation_id))
    if org is None:
        return _missing(request, visitor, "registry.organisation_missing")
    rows = views.members(db, organisation_id=org.id)
    return _page(
        request, "registry_organisation.html", visitor, organisation=org, members=rows, done=done
    )


# --- members ---------------------------------------------------------------------------------


@router.get("/members")
def members_page(  # noqa: PLR0917  (the filter's fields)
    request: Request,
    db: SessionDep,
    visitor: ManagerPage,
    organisation: str = "",
    active: str = "",
    done: str = "",
) -> Response:
    try:
        chosen = _optional_id(organisation, "organisation")
        state = _optional_flag(active)
    except Refused as exc:
        return _members(request, db, visitor, status=status_of(exc), error=exc)
    return _members(request, db, visitor, organisation_id=chosen, active=state, done=done)


def _members(
    request: Request,
    db: SessionDep,
    visitor: Visitor,
    *,
    organisation_id: int | None = None,
    active: bool | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    return _page(
        request,
        "registry_members.html",
        visitor,
        status=status,
        members=views.members(db, organisation_id=organisation_id, active=active),
        organisations=views.organisations(db),
        chosen_organisation=organisation_id,
        chosen_active=active,
        **extra,
    )


@router.post("/members")
def create_member(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    name: FormText = "",
    email: FormText = "",
    organisation: FormText = "",
) -> Response:
    form = {"name": name, "email": email, "organisation": organisation}
    try:
        member = service.create_member(
            db,
            name=_name(name),
            email=email.strip() or None,
            organisation_id=_optional_id(organisation, "organisation"),
        )
        target = f"{numbers.member_ref(member.id)} {member.name}"
        _done(request, db, visitor, now, action="member.create", target=target)
    except Refused as exc:
        db.rollback()
        return _members(request, db, visitor, status=status_of(exc), error=exc, form=form)
    return _redirect(f"/console/members/{member.id}", done="member_created")


@router.get("/members/{member_id}")
def member_page(  # noqa: PLR0917  (the address, the query and what the page needs)
    request: Request, db: SessionDep, now: Now, visitor: ManagerPage, member_id: str, done: str = ""
) -> Response:
    return _member(request, db, now, visitor, _path_id(member_id), done=done)


def _member(
    request: Request,
    db: SessionDep,
    now: datetime,
    visitor: Visitor,
    member_id: int,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    member = db.get(Member, member_id)
    if member is None:
        return _missing(request, visitor, "registry.member_missing")
    return _page(
        request,
        "registry_member.html",
        visitor,
        status=status,
        member=views.member_row(db, member),
        badges=views.badges(db, member_id=member.id),
        qualifications=views.qualifications(db, now=now, member_id=member.id),
        **extra,
    )


@router.post("/members/{member_id}/active")
def set_member_active(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    member_id: str,
    active: FormText = "",
) -> Response:
    ident = _path_id(member_id)
    try:
        on = _flag(active)
        member = service.set_member_active(db, member_id=ident, active=on)
        target = f"{numbers.member_ref(member.id)} {member.name}"
        action = "member.reactivate" if on else "member.deactivate"
        _done(request, db, visitor, now, action=action, target=target)
    except Refused as exc:
        db.rollback()
        return _member(request, db, now, visitor, ident, status=status_of(exc), error=exc)
    done = "member_reactivated" if on else "member_deactivated"
    return _redirect(f"/console/members/{ident}", done=done)


# --- badges ----------------------------------------------------------------------------------


@router.get("/badges")
def badges_page(request: Request, db: SessionDep, visitor: ManagerPage, done: str = "") -> Response:
    return _badges(request, db, visitor, done=done)


def _badges(
    request: Request, db: SessionDep, visitor: Visitor, *, status: int = 200, **extra: Any
) -> Response:
    return _page(
        request,
        "registry_badges.html",
        visitor,
        status=status,
        sightings=views.sightings(db),
        badges=views.badges(db),
        member_options=_member_options(db),
        **extra,
    )


@router.post("/badges")
def enrol_badge(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    uid: FormText = "",
    member: FormText = "",
) -> Response:
    """Give a badge to a member: one just tapped at a reader (its sighting row), or one typed in."""
    form = {"uid": uid, "member": member}
    try:
        badge = service.enrol_badge(db, uid=uid, member_id=_id(member, "member"), now=now)
        detail = numbers.member_ref(badge.member_id)
        _done(request, db, visitor, now, action="badge.enrol", target=badge.uid, detail=detail)
    except Refused as exc:
        db.rollback()
        return _badges(request, db, visitor, status=status_of(exc), error=exc, form=form)
    return _redirect("/console/badges", done="badge_enrolled")


@router.post("/badges/{uid}/active")
def set_badge_active(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    uid: str,
    active: FormText = "",
) -> Response:
    try:
        on = _flag(active)
        badge = service.set_badge_active(db, uid=uid, active=on)
        action = "badge.reactivate" if on else "badge.deactivate"
        detail = numbers.member_ref(badge.member_id)
        _done(request, db, visitor, now, action=action, target=badge.uid, detail=detail)
    except Refused as exc:
        db.rollback()
        return _badges(request, db, visitor, status=status_of(exc), error=exc)
    return _redirect("/console/badges", done="badge_reactivated" if on else "badge_deactivated")


# --- qualifications --------------------------------------------------------------------------


@router.get("/qualifications")
def qualifications_page(
    request: Request, db: SessionDep, now: Now, visitor: QualificationReader, done: str = ""
) -> Response:
    return _qualifications(request, db, now, visitor, done=done)


def _qualifications(
    request: Request,
    db: SessionDep,
    now: datetime,
    visitor: Visitor,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    machines = views.machines(db)
    rows = views.qualifications(db, now=now)
    manager = visitor.role is UserRole.MANAGER
    return _page(
        request,
        "registry_qualifications.html",
        visitor,
        status=status,
        sections=views.by_machine(machines, rows),
        machines=machines,
        member_options=_member_options(db) if manager else [],
        roles=[r.value for r in QualifiedRole],
        can_write=manager,
        **extra,
    )


@router.post("/qualifications")
def grant_qualification(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    member: FormText = "",
    machine: FormText = "",
    role: FormText = "",
    instructor: FormText = "",
    expires_on: FormText = "",
) -> Response:
    form = {"member": member, "machine": machine, "role": role, "expires_on": expires_on}
    form["instructor"] = instructor
    try:
        zone = _zone_of(db, machine)
        last_day = _expiry(expires_on, today=views.local_day(now, zone))
        granted = service.grant_qualification(
            db,
            member_id=_id(member, "member"),
            machine_id=machine,
            role=role,
            granted_by=_grantor(visitor),
            expires_at=views.expiry_of(last_day, zone) if last_day else None,
            instructor=_flag(instructor),
            now=now,
        )
        target = f"{numbers.member_ref(granted.member_id)} {granted.machine_id}"
        detail = _grant_detail(granted.role.value, granted.instructor, last_day)
        _done(request, db, visitor, now, action="qualification.grant", target=target, detail=detail)
    except Refused as exc:
        db.rollback()
        status = status_of(exc)
        return _qualifications(request, db, now, visitor, status=status, error=exc, form=form)
    return _redirect("/console/qualifications", done="qualification_granted")


@router.post("/qualifications/revoke")
def revoke_qualification(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    member: FormText = "",
    machine: FormText = "",
) -> Response:
    try:
        member_id = _id(member, "member")
        service.revoke_qualification(db, member_id=member_id, machine_id=machine, now=now)
        target = f"{numbers.member_ref(member_id)} {machine}"
        _done(request, db, visitor, now, action="qualification.revoke", target=target)
    except Refused as exc:
        db.rollback()
        return _qualifications(request, db, now, visitor, status=status_of(exc), error=exc)
    return _redirect("/console/qualifications", done="qualification_revoked")


# --- shared ----------------------------------------------------------------------------------


def _page(
    request: Request, template: str, visitor: Visitor, *, status: int = 200, **context: Any
) -> Response:
    """A registry page, with the refusal (an error) or the last write (`done`) explained."""
    t = i18n.translator(language(request))
    error = context.pop("error", None)
    done = context.pop("done", "")
    return render(
        request,
        template,
        visitor=visitor,
        status_code=status,
        error=_explain(t, error) if error else "",
        done=t(f"registry.done.{done}") if done in DONE else "",
        form=context.pop("form", {}),
        **context,
    )


def _explain(t: i18n.Translate, error: HubError) -> str:
    kind = {404: "not_found", 409: "conflict"}.get(status_of(error), "invalid")
    return t(f"registry.error.{kind}", detail=str(error))


def _done(
    request: Request,
    db: SessionDep,
    visitor: Visitor,
    now: datetime,
    *,
    action: str,
    target: str,
    detail: str = "",
) -> None:
    """Audit and commit a registry write, then have the access lists republished."""
    principal = visitor.principal
    audit.record(
        db,
        username=principal.username,
        role=visitor.role,
        action=action,
        target=target,
        detail=detail,
        at=now,
    )
    db.commit()
    request.app.state.on_registry_change()


def _member_options(db: SessionDep) -> list[tuple[int, str]]:
    """Active members, by name, as a select's (value, label) with the reference for namesakes."""
    query = select(Member.id, Member.name).where(Member.active.is_(True))
    rows = db.execute(query.order_by(Member.name, Member.id))
    return [(ident, f"{name} ({numbers.member_ref(ident)})") for ident, name in rows]


def _zone_of(db: SessionDep, machine_id: str) -> str:
    query = select(Site.timezone).join(Machine, Machine.site_id == Site.id)
    zone = db.scalar(query.where(Machine.id == machine_id))
    return zone or DEFAULT_TIMEZONE


def _grantor(visitor: Visitor) -> int | str:
    # As the API records it: a manager who is also a member is named as that member.
    principal = visitor.principal
    return principal.member_id if principal.member_id is not None else f"user {principal.username}"


def _grant_detail(role: str, instructor: bool, last_day: date | None) -> str:
    parts = [role, *(["instructor"] if instructor else [])]
    if last_day is not None:
        parts.append(f"until {last_day.isoformat()}")
    return ", ".join(parts)


def _name(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_NAME or "\x00" in cleaned:
        raise Invalid(f"a name is 1 to {MAX_NAME} characters, without NUL")
    return cleaned


def _id(value: str, what: str) -> int:
    cleaned = value.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 9:
        raise (NotFound(f"no {what} {value!r}") if value else Invalid(f"choose a {what}"))
    return int(cleaned)


def _path_id(value: str) -> int:
    """A registry id from the address; anything else names nothing (id 0 is never issued)."""
    cleaned = value.strip()
    return int(cleaned) if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 9 else 0


def _missing(request: Request, visitor: Visitor, message_id: str) -> Response:
    t = i18n.translator(language(request))
    return render(
        request,
        "note.html",
        visitor=visitor,
        status_code=404,
        title_id="registry.missing",
        message=t(message_id),
    )


def _optional_id(value: str, what: str) -> int | None:
    return _id(value, what) if value.strip() else None


def _flag(value: str) -> bool:
    if value in {"1", "true", "on"}:
        return True
    if value in {"", "0", "false"}:
        return False
    raise Invalid(f"{value!r} is neither yes nor no")


def _optional_flag(value: str) -> bool | None:
    return None if value == "" else _flag(value)


def _expiry(value: str, *, today: date) -> date | None:
    """The last day a qualification is valid (`YYYY-MM-DD`, from a date field), or no expiry."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise Invalid(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if day < today:
        raise Invalid(f"the expiry date {day.isoformat()} is already past")
    return day


def _redirect(path: str, *, done: str) -> RedirectResponse:
    return see_other(f"{path}?done={done}")
