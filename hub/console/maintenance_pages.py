"""The console's maintenance pages, for managers and maintainers: every plan's counter against
its thresholds (the due ones first), open alerts to acknowledge, each plan's service history with
the form that logs an intervention, manual locks, the shipped default plans, a new plan.

The rules are the API's (`hub.api.maintenance`): whoever logs or acknowledges is recorded, and
after a plan change or an intervention the monitor is woken, so an unlock follows at once.
Manual locks go through the running hub's `MaintenanceMonitor`, which sends the command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from contracts.models import AlertCounter
from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.console import audit, i18n
from hub.console.auth import Visitor, checked_form, page_for
from hub.console.maintenance_view import (
    MAX_REASON,
    PlanForm,
    Refused,
    figure,
    local_input,
    machines,
    moment,
    overview,
    plan_form,
    text,
)
from hub.console.web import language, render, see_other
from hub.errors import Conflict, Invalid, NotFound
from hub.maintenance import service
from hub.maintenance.monitor import MaintenanceMonitor

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/maintenance"
# The confirmations a redirect may ask the page to show (`?done=`); anything else shows none.
DONE = frozenset({"acknowledged", "defaults", "plan_added", "logged", "locked", "unlocked"})
FormText = Annotated[str, Form()]
MaintenancePage = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.MAINTAINER)]


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
    error: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "maintenance_overview.html",
        visitor=visitor,
        status_code=status_code,
        view=overview(db, now=now),
        can_lock=_monitor(request) is not None,
        done=done if done in DONE else "",
        count=count,
        error=error,
        form=form or {},
        figure=figure,
        counters=list(AlertCounter),
    )


@router.post("/maintenance/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: UUID, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    try:
        alert = service.acknowledge_alert(
            db, alert_id=alert_id, by=visitor.principal.username, now=now
        )
    except NotFound:
        problem = Refused("maint.error.alert", 404)
        error = _refused(request, db, problem, "acknowledge")
        return _overview(request, db, now, visitor, error=error, status_code=problem.status)
    plan = service.plan(db, alert.plan_id)
    _audit(db, visitor, "acknowledge", target=f"{plan.machine_id}: {plan.name}", now=now)
    db.commit()
    return see_other(f"{HOME}?done=acknowledged")


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
    form = {"machine_id": machine_id, "name": name, "counter": counter, "warning": warning}
    form |= {"limit": limit, "lock_at_limit": lock_at_limit or "", "sent": "1"}
    try:
        fields = plan_form(
            machine_id=machine_id,
            name=name,
            counter=counter,
            warning=warning,
            limit=limit,
            lock_at_limit=bool(lock_at_limit),
        )
        created = _create_plan(db, fields, now=now)
    except Refused as problem:
        error = _refused(request, db, problem, "plan")
        return _overview(
            request, db, now, visitor, error=error, form=form, status_code=problem.status
        )
    _audit(db, visitor, "plan_add", target=f"{fields.machine_id}: {fields.name}", now=now)
    db.commit()
    request.app.state.maintenance_changed()
    return see_other(f"{HOME}/plans/{created}?done=plan_added")


def _create_plan(db: SessionDep, fields: PlanForm, *, now: datetime) -> int:
    try:
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
    except NotFound:
        raise Refused("maint.error.machine", 404) from None
    except Conflict:
        raise Refused("maint.error.duplicate", 409, name=fields.name) from None
    except Invalid:
        raise Refused("maint.error.thresholds") from None
    return row.id


@router.post("/maintenance/machines/{machine_id}/defaults")
def apply_defaults(
    machine_id: str, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    try:
        added = service.apply_defaults(db, machine_id=machine_id, now=now)
    except NotFound:
        problem = Refused("maint.error.machine", 404)
        error = _refused(request, db, problem, "defaults")
        return _overview(request, db, now, visitor, error=error, status_code=problem.status)
    names = ", ".join(p.name for p in added)
    _audit(db, visitor, "defaults", target=machine_id, detail=names, now=now)
    db.commit()
    request.app.state.maintenance_changed()
    return see_other(f"{HOME}?done=defaults&count={len(added)}")


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
    username = visitor.principal.username
    try:
        why = text(reason, required="maint.error.reason", max_length=MAX_REASON)
        monitor = _lock_target(request, db, machine_id)
        _by_hand(lambda: monitor.lock_manually(machine_id, by=username, reason=why))
    except Refused as problem:
        error = _refused(request, db, problem, "lock")
        form = {"machine_id": machine_id, "reason": reason}
        return _overview(
            request, db, now, visitor, error=error, form=form, status_code=problem.status
        )
    _audit(db, visitor, "lock", target=machine_id, detail=why, now=now)
    db.commit()
    return see_other(f"{HOME}?done=locked")


@router.post("/maintenance/machines/{machine_id}/unlock")
def unlock(
    machine_id: str, request: Request, db: SessionDep, now: Now, visitor: MaintenanceForm
) -> Response:
    username = visitor.principal.username
    try:
        monitor = _lock_target(request, db, machine_id)
        _by_hand(lambda: monitor.unlock_manually(machine_id, by=username))
    except Refused as problem:
        error = _refused(request, db, problem, "unlock")
        return _overview(request, db, now, visitor, error=error, status_code=problem.status)
    _audit(db, visitor, "unlock", target=machine_id, now=now)
    db.commit()
    return see_other(f"{HOME}?done=unlocked")


def _by_hand(change: Callable[[], None]) -> None:
    try:
        change()
    except NotFound:  # removed from the registry since the check
        raise Refused("maint.error.machine", 404) from None


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
    error: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
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
        status_code=status_code,
        status=status,
        machine=machine,
        history=history,
        done=done if done in DONE else "",
        error=error,
        form=form,
        at=form.get("at") or local_input(now, machine.timezone),
        figure=figure,
    )


def _plan_not_found(request: Request, visitor: Visitor) -> Response:
    t = i18n.translator(language(request))
    return render(
        request,
        "note.html",
        visitor=visitor,
        status_code=404,
        title_id="maint.title",
        message=t("maint.not_found"),
    )


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
    try:
        work = text(what, required="maint.error.what")
        used = text(parts)
        when = moment(at, timezone=machine.timezone, now=now)
        _record(db, plan_id, by=visitor.principal.username, what=work, parts=used, at=when, now=now)
    except Refused as problem:
        if problem.message_id == "maint.error.window":
            start = i18n.when(plan.cycle_started_at, language(request), machine.timezone)
            problem.values["start"] = start
        error = _refused(request, db, problem, "intervention")
        form = {"what": what, "parts": parts, "at": at}
        return _plan_page(
            request, db, now, visitor, plan_id, error=error, form=form, status_code=problem.status
        )
    _audit(
        db, visitor, "intervention", target=f"{plan.machine_id}: {plan.name}", detail=work, now=now
    )
    db.commit()
    request.app.state.maintenance_changed()
    return see_other(f"{HOME}/plans/{plan_id}?done=logged")


def _record(
    db: SessionDep, plan_id: int, *, by: str, what: str, parts: str, at: datetime, now: datetime
) -> None:
    try:
        service.record_intervention(
            db, plan_id=plan_id, by=by, what=what, parts=parts, at=at, now=now
        )
    except Invalid:  # the text is checked already: the time is outside the current cycle
        raise Refused("maint.error.window") from None


# ------------------------------------------------------------ shared


def _refused(request: Request, db: SessionDep, problem: Refused, form: str) -> str:
    """Undo whatever the form began, count and log the refusal, and say why in words."""
    db.rollback()
    metrics = request.app.state.metrics
    metrics.describe("console_maintenance_refused", "Maintenance console forms refused, by form")
    metrics.inc("console_maintenance_refused", form=form)
    log.info("maintenance form %r refused: %s %s", form, problem.message_id, problem.values)
    t = i18n.translator(language(request))
    return t(problem.message_id, **problem.values)


def _audit(
    db: SessionDep,
    visitor: Visitor,
    action: str,
    *,
    target: str,
    detail: str = "",
    now: datetime,
) -> None:
    """Managers' actions are traced, in the same transaction as the change."""
    if audit.is_audited(visitor.role):
        audit.record(
            db,
            username=visitor.principal.username,
            role=visitor.role,
            action=f"maintenance.{action}",
            target=target,
            detail=detail,
            at=now,
        )
