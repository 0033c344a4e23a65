"""The console's registry pages for organisations and members (badges and qualifications are in
`badge_pages`).

Managers read and write. Every write goes through `hub.registry.service`, is audited in its
transaction, and once committed tells the hub to republish the access lists, as the API's
`RegistryWriter` does. Refused input re-renders the page with the reason and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.deps import Now, SessionDep
from hub.console import forms
from hub.console import registry_forms as fields
from hub.console import registry_views as views
from hub.console.auth import ManagerPage, Visitor
from hub.console.registry_forms import FormText, ManagerForm
from hub.errors import Conflict, HubError, Invalid, NotFound
from hub.registry import numbers, service
from hub.registry.models import Member, Organisation, OrganisationCategory

router = APIRouter(prefix="/console", include_in_schema=False)
CATEGORIES = frozenset(c.value for c in OrganisationCategory)


# --- organisations ---------------------------------------------------------------------------


@router.get("/organisations")
def organisations_page(
    request: Request, db: SessionDep, visitor: ManagerPage, done: str = ""
) -> Response:
    return _organisations(request, db, visitor, done=done)


def _organisations(request: Request, db: SessionDep, visitor: Visitor, **extra: Any) -> Response:
    return fields.page(
        request,
        "registry_organisations.html",
        visitor,
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

    def change() -> forms.Done:
        org = _new_organisation(db, form)
        path = fields.done(f"/console/organisations/{org.id}", "organisation_created")
        return forms.Done(path, forms.Trace("organisation.create", org.name))

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="organisation",
        change=change,
        refused=lambda problem: _organisations(request, db, visitor, problem=problem, form=form),
    )


def _new_organisation(db: SessionDep, form: dict[str, str]) -> Organisation:
    """Each field checked on its own first, so the page can say which one is wrong."""
    cleaned = fields.name(form["name"])
    enterprise = form["enterprise_number"].strip() or None
    vat = form["vat_number"].strip() or None
    with forms.saying({Invalid: "registry.error.enterprise"}, value=enterprise):
        if enterprise:
            numbers.enterprise_number(enterprise)
    with forms.saying({Invalid: "registry.error.vat"}, value=vat):
        if vat:
            numbers.vat_number(vat)
    if form["category"] not in CATEGORIES:
        raise forms.Refused("registry.error.category")
    words: dict[type[HubError], str] = {Conflict: "registry.error.enterprise_taken"}
    if enterprise and vat:  # both well formed: what is left to refuse is their mismatch
        words[Invalid] = "registry.error.vat_mismatch"
    with forms.saying(words):
        return service.create_organisation(
            db,
            name=cleaned,
            category=form["category"],
            enterprise_number=enterprise,
            vat_number=vat,
        )


@router.get("/organisations/{organisation_id}")
def organisation_page(
    request: Request, db: SessionDep, visitor: ManagerPage, organisation_id: str, done: str = ""
) -> Response:
    org = db.get(Organisation, fields.path_id(organisation_id))
    if org is None:
        return fields.missing(request, visitor, "registry.organisation_missing")
    rows = views.members(db, organisation_id=org.id)
    return fields.page(
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
        chosen = fields.optional_organisation(organisation)
        state = fields.optional_flag(active)
    except forms.Refused as exc:
        problem = forms.problem_of(request, exc, section=fields.SECTION, form="members_filter")
        return _members(request, db, visitor, problem=problem)
    return _members(request, db, visitor, organisation_id=chosen, active=state, done=done)


def _members(
    request: Request,
    db: SessionDep,
    visitor: Visitor,
    *,
    organisation_id: int | None = None,
    active: bool | None = None,
    **extra: Any,
) -> Response:
    return fields.page(
        request,
        "registry_members.html",
        visitor,
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

    def change() -> forms.Done:
        member = _new_member(db, form)
        target = f"{numbers.member_ref(member.id)} {member.name}"
        path = fields.done(f"/console/members/{member.id}", "member_created")
        return forms.Done(path, forms.Trace("member.create", target))

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="member",
        change=change,
        refused=lambda problem: _members(request, db, visitor, problem=problem, form=form),
    )


def _new_member(db: SessionDep, form: dict[str, str]) -> Member:
    cleaned = fields.name(form["name"])
    organisation_id = fields.optional_organisation(form["organisation"])
    email = form["email"].strip() or None
    with forms.saying({Invalid: "registry.error.email"}, value=email):
        mail = numbers.email(email) if email else None
    words = {NotFound: "registry.error.no_organisation", Conflict: "registry.error.email_taken"}
    with forms.saying(words, value=mail):
        return service.create_member(db, name=cleaned, email=mail, organisation_id=organisation_id)


@router.get("/members/{member_id}")
def member_page(  # noqa: PLR0917  (the address, the query and what the page needs)
    request: Request, db: SessionDep, now: Now, visitor: ManagerPage, member_id: str, done: str = ""
) -> Response:
    return _member(request, db, now, visitor, fields.path_id(member_id), done=done)


def _member(
    request: Request,
    db: SessionDep,
    now: datetime,
    visitor: Visitor,
    member_id: int,
    **extra: Any,
) -> Response:
    member = db.get(Member, member_id)
    if member is None:
        return fields.missing(request, visitor, "registry.member_missing")
    return fields.page(
        request,
        "registry_member.html",
        visitor,
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
    ident = fields.path_id(member_id)

    def change() -> forms.Done:
        on = fields.flag(active)
        with forms.saying({NotFound: "registry.error.no_member"}):
            member = service.set_member_active(db, member_id=ident, active=on)
        target = f"{numbers.member_ref(member.id)} {member.name}"
        trace = forms.Trace("member.reactivate" if on else "member.deactivate", target)
        word = "member_reactivated" if on else "member_deactivated"
        return forms.Done(fields.done(f"/console/members/{ident}", word), trace)

    return fields.write(
        forms.Sent(request, db, visitor, now),
        form="member_active",
        change=change,
        refused=lambda problem: _member(request, db, now, visitor, ident, problem=problem),
    )
