"""What the registry's pages share: rendering with the refusal or the last write explained, the
one way a write ends (audit, commit, republish the access lists, 303), and the forms' fields read
into typed values.

A field the page cannot use raises `forms.Refused` with the message id that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.console import forms, i18n
from hub.console.auth import ManagerPage, SignedForm, Visitor
from hub.console.web import language, render
from hub.registry import numbers
from hub.registry.models import DEFAULT_TIMEZONE, Machine, Member, Site

FormText = Annotated[str, Form()]
SECTION = forms.Section(name="registry", prefix="registry.error")
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


def page(
    request: Request, template: str, visitor: Visitor, *, status: int = 200, **context: Any
) -> Response:
    """A registry page, with the refusal (`problem`) or the last write (`done`) explained."""
    t = i18n.translator(language(request))
    problem: forms.Problem | None = context.pop("problem", None)
    done = context.pop("done", "")
    return render(
        request,
        template,
        visitor=visitor,
        status_code=problem.status if problem else status,
        error=problem.message if problem else "",
        error_detail=problem.detail if problem else "",
        done=t(f"registry.done.{done}") if done in DONE else "",
        form=context.pop("form", {}),
        **context,
    )


def write(
    sent: forms.Sent,
    *,
    form: str,
    change: Callable[[], forms.Done],
    refused: Callable[[forms.Problem], Response],
) -> Response:
    """A registry write: once committed with its audit entry, the access lists are republished
    (as the API's `RegistryWriter` does)."""
    return forms.act(
        sent,
        section=SECTION,
        form=form,
        change=change,
        refused=refused,
        wake=sent.request.app.state.on_registry_change,
    )


def done(path: str, word: str) -> str:
    """Where a write sends the browser: the page, told what was done."""
    return f"{path}?done={word}"


def missing(request: Request, visitor: Visitor, message_id: str) -> Response:
    return forms.missing(request, visitor, title_id="registry.missing", message_id=message_id)


def member_options(db: Session) -> list[tuple[int, str]]:
    """Active members, by name, as a select's (value, label) with the reference for namesakes."""
    query = select(Member.id, Member.name).where(Member.active.is_(True))
    rows = db.execute(query.order_by(Member.name, Member.id))
    return [(ident, f"{name} ({numbers.member_ref(ident)})") for ident, name in rows]


def zone_of(db: Session, machine_id: str) -> str:
    """The time zone of the machine's site; refused when the registry has no such machine."""
    if not machine_id.strip():
        raise forms.Refused("registry.error.choose_machine")
    query = select(Site.timezone).join(Machine, Machine.site_id == Site.id)
    found = db.execute(query.where(Machine.id == machine_id)).first()
    if found is None:
        raise forms.Refused("registry.error.no_machine", 404)
    zone: str | None = found[0]
    return zone or DEFAULT_TIMEZONE


def name(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_NAME or "\x00" in cleaned:
        raise forms.Refused("registry.error.name", max=MAX_NAME)
    return cleaned


def member_id(value: str) -> int:
    """A member chosen in a select: none chosen and a value naming nobody are told apart."""
    if not value.strip():
        raise forms.Refused("registry.error.choose_member")
    ident = path_id(value)
    if not ident:
        raise forms.Refused("registry.error.no_member", 404)
    return ident


def optional_organisation(value: str) -> int | None:
    if not value.strip():
        return None
    ident = path_id(value)
    if not ident:
        raise forms.Refused("registry.error.no_organisation", 404)
    return ident


def path_id(value: str) -> int:
    """A registry id from the address or a select; anything else names nothing (id 0 is never
    issued)."""
    cleaned = value.strip()
    return int(cleaned) if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 9 else 0


def flag(value: str) -> bool:
    if value in {"1", "true", "on"}:
        return True
    if value in {"", "0", "false"}:
        return False
    raise forms.Refused("registry.error.flag")


def optional_flag(value: str) -> bool | None:
    return None if value == "" else flag(value)


def expiry(value: str, *, today: date) -> date | None:
    """The last day a qualification is valid (`YYYY-MM-DD`, from a date field), or no expiry."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise forms.Refused("registry.error.date", value=value.strip()) from None
    if day < today:
        raise forms.Refused("registry.error.past", day=day.isoformat())
    return day
