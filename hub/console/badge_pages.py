"""The console's registry pages for badges (enrolling the one just tapped at a reader) and
qualifications.

Managers read and write; maintainers read the machines' qualifications. Writes go through
`hub.registry.service` the way `registry_pages` describes: audited in their transaction, the
access lists republished once committed, a refusal explained with nothing changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.console import forms
from hub.console import registry_forms as fields
from hub.console import registry_views as views
from hub.console.auth import ManagerPage, Visitor, page_for
from hub.console.registry_forms import FormText, ManagerForm
from hub.errors import Conflict, Invalid, NotFound
from hub.registry import numbers, service
from hub.registry.models import QualifiedRole

router = APIRouter(prefix="/console", include_in_schema=False)
QualificationReader = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.MAINTAINER)]
ROLES = [r.value for r in QualifiedRole]


# --- badges ----------------------------------------------------------------------------------


@router.get("/badges")
def badges_page(request: Request, db: SessionDep, visitor: ManagerPage, done: str = "") -> Response:
    return _badges(request, db, visitor, done=done)


def _badges(request: Request, db: SessionDep, visitor: Visitor, **extra: Any) -> Response:
    return fields.page(
        request,
        "registry_badges.html",
        visitor,
        sightings=views.sightings(db),
        badges=views.badges(db),
        member_options=fields.member_options(db),
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

    def change() -> forms.Done:
        owner = fields.member_id(member)
        with forms.saying({Invalid: "registry.error.uid"}, value=uid.strip()):
            compact = numbers.badge_uid(uid)
        words = {NotFound: "registry.error.no_member", Conflict: "registry.error.badge_taken"}
        with forms.saying(words, uid=compact):
            badge = service.enrol_badge(db, uid=compact, member_id=owner, now=now)
        trace = forms.Trace("badge.enrol", badge.uid, numbers.member_ref(badge.member_id))
        return forms.Done(fields.done("/console/badges", "badge_enrolled"), trace)

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="badge",
        change=change,
        refused=lambda problem: _badges(request, db, visitor, problem=problem, form=form),
    )


@router.post("/badges/{uid}/active")
def set_badge_active(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    uid: str,
    active: FormText = "",
) -> Response:
    def change() -> forms.Done:
        on = fields.flag(active)
        unknown = "registry.error.no_badge"
        with forms.saying({NotFound: unknown, Invalid: unknown}):
            badge = service.set_badge_active(db, uid=uid, active=on)
        action = "badge.reactivate" if on else "badge.deactivate"
        trace = forms.Trace(action, badge.uid, numbers.member_ref(badge.member_id))
        word = "badge_reactivated" if on else "badge_deactivated"
        return forms.Done(fields.done("/console/badges", word), trace)

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="badge_active",
        change=change,
        refused=lambda problem: _badges(request, db, visitor, problem=problem),
    )


# --- qualifications --------------------------------------------------------------------------


@router.get("/qualifications")
def qualifications_page(
    request: Request, db: SessionDep, now: Now, visitor: QualificationReader, done: str = ""
) -> Response:
    return _qualifications(request, db, now, visitor, done=done)


def _qualifications(
    request: Request, db: SessionDep, now: datetime, visitor: Visitor, **extra: Any
) -> Response:
    machines = views.machines(db)
    rows = views.qualifications(db, now=now)
    manager = visitor.role is UserRole.MANAGER
    return fields.page(
        request,
        "registry_qualifications.html",
        visitor,
        sections=views.by_machine(machines, rows),
        machines=machines,
        member_options=fields.member_options(db) if manager else [],
        roles=ROLES,
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

    def change() -> forms.Done:
        owner = fields.member_id(member)
        zone = fields.zone_of(db, machine)
        if role not in ROLES:
            raise forms.Refused("registry.error.role")
        last_day = fields.expiry(expires_on, today=views.local_day(now, zone))
        words = {NotFound: "registry.error.no_member", Conflict: "registry.error.qualified"}
        with forms.saying(words):
            granted = service.grant_qualification(
                db,
                member_id=owner,
                machine_id=machine,
                role=role,
                granted_by=_grantor(visitor),
                expires_at=views.expiry_of(last_day, zone) if last_day else None,
                instructor=fields.flag(instructor),
                now=now,
            )
        target = f"{numbers.member_ref(granted.member_id)} {granted.machine_id}"
        detail = _grant_detail(granted.role.value, granted.instructor, last_day)
        trace = forms.Trace("qualification.grant", target, detail)
        return forms.Done(fields.done("/console/qualifications", "qualification_granted"), trace)

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="qualification",
        change=change,
        refused=lambda problem: _qualifications(
            request, db, now, visitor, problem=problem, form=form
        ),
    )


@router.post("/qualifications/revoke")
def revoke_qualification(  # noqa: PLR0917  (a form's fields and what it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: ManagerForm,
    member: FormText = "",
    machine: FormText = "",
) -> Response:
    def change() -> forms.Done:
        owner = fields.member_id(member)
        with forms.saying({NotFound: "registry.error.not_qualified"}):
            service.revoke_qualification(db, member_id=owner, machine_id=machine, now=now)
        trace = forms.Trace("qualification.revoke", f"{numbers.member_ref(owner)} {machine}")
        return forms.Done(fields.done("/console/qualifications", "qualification_revoked"), trace)

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="qualification_revoke",
        change=change,
        refused=lambda problem: _qualifications(request, db, now, visitor, problem=problem),
    )


def _grantor(visitor: Visitor) -> int | str:
    # As the API records it: a manager who is also a member is named as that member.
    principal = visitor.principal
    return principal.member_id if principal.member_id is not None else f"user {principal.username}"


def _grant_detail(role: str, instructor: bool, last_day: date | None) -> str:
    parts = [role, *(["instructor"] if instructor else [])]
    if last_day is not None:
        parts.append(f"until {last_day.isoformat()}")
    return ", ".join(parts)
