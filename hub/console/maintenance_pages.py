"""The console's maintenance pages, for managers and maintainers: every plan's counter against
its thresholds (the due ones first), open alerts to acknowledge, each plan's service history with
the form that logs an intervention, manual locks, the shipped default plans, a new plan.

The rules are the API's (`hub.api.maintenance`): whoever logs or acknowledges is recorded, and
after a plan change or an intervention the monitor is woken, so an unlock follows at once.
Manual locks go through the running hub's `MaintenanceMonitor`, which sends the command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from contracts.models import AlertCounter
from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.console import forms, i18n
from hub.console.auth import Visitor, checked_form, page_for
from hub.console.forms import Refused
from hub.console.maintenance_view import (
    MAX_REASON,
    PlanForm,
    local_input,
    machines,
    moment,
    overview,
    plan_form,
    text,
)
from hub.console.web import language, render
from hub.errors import Conflict, Invalid, NotFound
from hub.maintenance import service
from hub.maintenance.monitor import MaintenanceMonitor

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/maintenance"
# The confirmations a redirect may ask the page to show (`?done=`); anything else shows none.
DONE = frozenset({"acknowledged", "defaults", "plan_added", "logged", "locked", "unlocked"})
FormText = Annotated[str, Form()]
MaintenancePage = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.MAINTAINER)]
SECTION = forms.Section(name="maintenance", prefix="maint.error")


def _signed(visitor: MaintenancePage, csrf: FormText = "") -> Visitor:
    """The role first (a member gets the 403 page), then the form's CSRF token."""
    checked = checked_form(visitor, csrf)
    assert checked is not None  # the guard let only a logged-in visitor through
    return checked


MaintenanceForm = Annotated[Visitor, Depends(_signed)]


# ------------------------------------------------------------ the overview


@router.get("/maintenance")
def overview_page(
    *,
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: MaintenancePage,
    done: str = "",
    count: int = 0,
) -> Response:
    return _overview(request, db, now, visitor, done=done, count=count)


def _overview(
    request: Request,
    db: SessionDep,
    now: datetime,
    visitor: Visitor,
    *,
    done: str = "",
    count: int = 0,
    problem: forms.Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "maintenance_overview.html",
        visitor=visitor,
        status_code=problem.status if problem else 200,
        view=overview(db, now=now),
        can_lock=_monitor(request) is not None,
        done=done if done in DONE else "",
        count=count,
        error=problem.message if problem else "",
        error_detail=problem.detail if problem else "",
        form=form or {},
        counters=list(AlertCounter),
    )


def _act(  # noqa: PLR0917  (the form, its page and what follows)
    sent: forms.Sent,
    form: str,
    change: Callable[[], forms.Done],
    fields: dict[str, str] | None = None,
    wake: bool = False,
    refused: Callable[[forms.Problem], Response] | None = None,
) -> Response:
    """A maintenance form; refused, the overview comes back with what was typed."""
    request, db, now, visitor = sent.request, sent.db, sent.now, sent.visitor

    def overview_again(problem: forms.Problem) -> Response:
        return _overview(request, db, now, visitor, problem=problem, form=fields)

    return forms.act(
        sent,
        section=SECTION,
        form=form,
        change=change,
        refused=refused or overview_again,
        wake=request.app.state.maintenance_changed if wake else None,
    )


@router.post("/maintenance/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: UUID, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    def change() -> forms.Done:
        by = visitor.principal.username
        with forms.saying({NotFound: "maint.error.alert"}):
            alert = service.acknowledge_alert(db, alert_id=alert_id, by=by, now=now)
        plan = service.plan(db, alert.plan_id)
        trace = _trace("acknowledge", f"{plan.machine_id}: {plan.name}")
        return forms.Done(f"{HOME}?done=acknowledged", trace)

    return _act(forms.Sent(request, db, visitor, now), "acknowledge", change)


@router.post("/maintenance/plans")
def add_plan(  # noqa: PLR0917  (a form's fields and the services it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: MaintenanceForm,
    machine_id: FormText = "",
    name: FormText = "",
    counter: FormText = "",
    warning: FormText = "",
    limit: FormText = "",
    lock_at_limit: FormText = "",
) -> Response:
    typed = {"machine_id": machine_id, "name": name, "counter": counter, "warning": warning}
    typed |= {"limit": limit, "lock_at_limit": lock_at_limit or "", "sent": "1"}

    def change() -> forms.Done:
        fields = plan_form(
            machine_id=machine_id,
            name=name,
            counter=counter,
            warning=warning,
            limit=limit,
            lock_at_limit=bool(lock_at_limit),
        )
        created = _create_plan(db, fields, now=now)
        trace = _trace("plan_add", f"{fields.machine_id}: {fields.name}")
        return forms.Done(f"{HOME}/plans/{created}?done=plan_added", trace)

    sent = forms.Sent(request, db, visitor, now)
    return _act(sent, "plan", change, typed, wake=True)


def _create_plan(db: SessionDep, fields: PlanForm, *, now: datetime) -> int:
    words = {
        NotFound: "maint.error.machine",
        Conflict: "maint.error.duplicate",
        Invalid: "maint.error.thresholds",
    }
    with forms.saying(words, name=fields.name):
        row = service.create_plan(
            db,
            machine_id=fields.machine_id,
            name=fields.name,
            counter=fields.counter,
            warning=fields.warning,
            limit=fields.limit,
            lock_at_limit=fields.lock_at_limit,
            now=now,
        )
    return row.id


@router.post("/maintenance/machines/{machine_id}/defaults")
def apply_defaults(
    machine_id: str, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    def change() -> forms.Done:
        with forms.saying({NotFound: "maint.error.machine"}):
            added = service.apply_defaults(db, machine_id=machine_id, now=now)
        trace = _trace("defaults", machine_id, ", ".join(p.name for p in added))
        return forms.Done(f"{HOME}?done=defaults&count={len(added)}", trace)

    return _act(forms.Sent(request, db, visitor, now), "defaults", change, wake=True)


# ------------------------------------------------------------ manual locks


def _monitor(request: Request) -> MaintenanceMonitor | None:
    """The running hub's monitor; None when this app runs without one (no commands to send)."""
    monitor: MaintenanceMonitor | None = request.app.state.maintenance_monitor
    return monitor


def _lock_target(request: Request, db: SessionDep, machine_id: str) -> MaintenanceMonitor:
    monitor = _monitor(request)
    if monitor is None:
        raise Refused("maint.error.no_monitor", 409)
    if machine_id not in machines(db):
        raise Refused("maint.error.machine", 404)
    # The monitor writes in its own transaction: this request must let go of SQLite's write
    # lock first, or each would wait for the other.
    db.rollback()
    return monitor


@router.post("/maintenance/machines/{machine_id}/lock")
def lock(  # noqa: PLR0917  (a form's field and the services it needs)
    machine_id: str,
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: MaintenanceForm,
    reason: FormText = "",
) -> Response:
    sent = forms.Sent(request, db, visitor, now)

    def change() -> forms.Done:
        why = text(reason, required="maint.error.reason", max_length=MAX_REASON)
        monitor = _lock_target(request, db, machine_id)
        trace = _trace("lock", machine_id, why)
        with forms.saying({NotFound: "maint.error.machine"}):  # removed since the check
            monitor.lock_manually(
                machine_id,
                by=visitor.principal.username,
                reason=why,
                also=lambda session: sent.record(session, trace),
            )
        return forms.Done(f"{HOME}?done=locked")  # traced in the lock's own transaction

    return _act(sent, "lock", change, {"machine_id": machine_id, "reason": reason})


@router.post("/maintenance/machines/{machine_id}/unlock")
def unlock(
    machine_id: str, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    sent = forms.Sent(request, db, visitor, now)

    def change() -> forms.Done:
        monitor = _lock_target(request, db, machine_id)
        trace = _trace("unlock", machine_id)
        with forms.saying({NotFound: "maint.error.machine"}):  # removed since the check
            monitor.unlock_manually(
                machine_id,
                by=visitor.principal.username,
                also=lambda session: sent.record(session, trace),
            )
        return forms.Done(f"{HOME}?done=unlocked")  # traced in the unlock's own transaction

    return _act(sent, "unlock", change)


# ------------------------------------------------------------ one plan


@router.get("/maintenance/plans/{plan_id}")
def plan_page(
    *,
    plan_id: int,
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: MaintenancePage,
    done: str = "",
) -> Response:
    return _plan_page(request, db, now, visitor, plan_id, done=done)


def _plan_page(
    request: Request,
    db: SessionDep,
    now: datetime,
    visitor: Visitor,
    plan_id: int,
    *,
    done: str = "",
    problem: forms.Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    try:
        [status] = service.plan_status(db, plan_id=plan_id, now=now)
    except NotFound:
        return _plan_not_found(request, visitor)
    machine = machines(db)[status.machine_id]
    history = list(reversed(service.interventions(db, plan_id=plan_id)))
    form = form or {}
    return render(
        request,
        "maintenance_plan.html",
        visitor=visitor,
        status_code=problem.status if problem else 200,
        status=status,
        machine=machine,
        history=history,
        done=done if done in DONE else "",
        error=problem.message if problem else "",
        error_detail=problem.detail if problem else "",
        form=form,
        at=form.get("at") or local_input(now, machine.timezone),
    )


def _plan_not_found(request: Request, visitor: Visitor) -> Response:
    return forms.missing(request, visitor, title_id="maint.title", message_id="maint.not_found")


@router.post("/maintenance/plans/{plan_id}/interventions")
def log_intervention(  # noqa: PLR0917  (a form's fields and the services it needs)
    plan_id: int,
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: MaintenanceForm,
    what: FormText = "",
    parts: FormText = "",
    at: FormText = "",
) -> Response:
    try:
        plan = service.plan(db, plan_id)
    except NotFound:
        return _plan_not_found(request, visitor)
    machine = machines(db)[plan.machine_id]
    typed = {"what": what, "parts": parts, "at": at}

    def change() -> forms.Done:
        work = text(what, required="maint.error.what")
        used = text(parts)
        when = moment(at, timezone=machine.timezone, now=now)
        # The text is checked already: what the service refuses is a time outside the cycle.
        start = i18n.when(plan.cycle_started_at, language(request), machine.timezone)
        with forms.saying({Invalid: "maint.error.window"}, start=start):
            service.record_intervention(
                db,
                plan_id=plan_id,
                by=visitor.principal.username,
                what=work,
                parts=used,
                at=when,
                now=now,
            )
        trace = _trace("intervention", f"{plan.machine_id}: {plan.name}", work)
        return forms.Done(f"{HOME}/plans/{plan_id}?done=logged", trace)

    def plan_again(problem: forms.Problem) -> Response:
        return _plan_page(request, db, now, visitor, plan_id, problem=problem, form=typed)

    sent = forms.Sent(request, db, visitor, now)
    return _act(sent, "intervention", change, wake=True, refused=plan_again)


def _trace(action: str, target: str, detail: str = "") -> forms.Trace:
    """What the audit log keeps of a manager's maintenance action (maintainers act on their own
    work, untraced)."""
    return forms.Trace(f"maintenance.{action}", target, detail)
