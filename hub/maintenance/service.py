"""Maintenance plans, interventions and alerts: what the API, the CLI and the monitor call.

Functions take a `Session` and keyword arguments; the caller commits (on SQLite inside
`hub.db.writing` when it writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.models import AlertCounter
from hub.errors import Conflict, Invalid, NotFound
from hub.maintenance.counters import PlanStatus, status_of, statuses, usages
from hub.maintenance.defaults import defaults_for
from hub.maintenance.models import Intervention, MachineLock, MaintenanceAlert, MaintenancePlan
from hub.maintenance.plans import DEFAULT_FORECAST_WINDOW_DAYS, check_thresholds
from hub.registry.models import Machine

MAX_NAME = 64


class Keep(Enum):
    """Leave a field of `update_plan` as it is (None means "no warning" there)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def machine(session: Session, machine_id: str) -> Machine:
    found = session.get(Machine, machine_id)
    if found is None:
        raise NotFound(f"no machine {machine_id!r}")
    return found


def plan(session: Session, plan_id: int) -> MaintenancePlan:
    found = session.get(MaintenancePlan, plan_id)
    if found is None:
        raise NotFound(f"no maintenance plan {plan_id}")
    return found


def create_plan(
    session: Session,
    *,
    machine_id: str,
    name: str,
    counter: AlertCounter,
    limit: float,
    warning: float | None = None,
    lock_at_limit: bool = True,
    now: datetime,
) -> MaintenancePlan:
    """A new plan whose counters start now; Conflict if the machine has a plan of that name."""
    machine(session, machine_id)
    name = _plan_name(name)
    check_thresholds(warning, limit)
    row = MaintenancePlan(
        machine_id=machine_id,
        name=name,
        counter=counter,
        warning=warning,
        limit=limit,
        lock_at_limit=lock_at_limit,
        active=True,
        created_at=now,
        cycle=0,
        cycle_started_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(f"machine {machine_id!r} already has a plan named {name!r}") from None
    return row


def update_plan(
    session: Session,
    *,
    plan_id: int,
    warning: float | Keep | None = KEEP,
    limit: float | None = None,
    lock_at_limit: bool | None = None,
    active: bool | None = None,
) -> MaintenancePlan:
    """Change thresholds or switch a plan on or off; the counter and its cycle stay."""
    row = plan(session, plan_id)
    new_warning = row.warning if isinstance(warning, Keep) else warning
    new_limit = row.limit if limit is None else limit
    check_thresholds(new_warning, new_limit)
    row.warning, row.limit = new_warning, new_limit
    if lock_at_limit is not None:
        row.lock_at_limit = lock_at_limit
    if active is not None:
        row.active = active
    return row


def list_plans(session: Session, *, machine_id: str | None = None) -> list[MaintenancePlan]:
    query = select(MaintenancePlan).order_by(MaintenancePlan.machine_id, MaintenancePlan.name)
    if machine_id is not None:
        machine(session, machine_id)
        query = query.where(MaintenancePlan.machine_id == machine_id)
    return list(session.scalars(query))


def plan_status(
    session: Session,
    *,
    now: datetime,
    machine_id: str | None = None,
    plan_id: int | None = None,
    window_days: float = DEFAULT_FORECAST_WINDOW_DAYS,
) -> list[PlanStatus]:
    """Counters, thresholds, state and forecast of one plan, a machine's plans, or all plans."""
    plans = (
        [plan(session, plan_id)]
        if plan_id is not None
        else list_plans(session, machine_id=machine_id)
    )
    return statuses(session, plans, now=now, window_days=window_days)


def apply_defaults(session: Session, *, machine_id: str, now: datetime) -> list[MaintenancePlan]:
    """Add the shipped plans of the machine's kind it does not have yet (by name)."""
    kind = machine(session, machine_id).kind
    have = {p.name for p in list_plans(session, machine_id=machine_id)}
    added = []
    for default in defaults_for(kind):
        if default.name in have:
            continue
        added.append(
            create_plan(
                session,
                machine_id=machine_id,
                name=default.name,
                counter=default.counter,
                warning=default.thresholds.warning,
                limit=default.thresholds.limit,
                lock_at_limit=default.lock_at_limit,
                now=now,
            )
        )
    return added


def record_intervention(
    session: Session,
    *,
    plan_id: int,
    by: str,
    what: str,
    parts: str = "",
    at: datetime,
    now: datetime | None = None,
    window_days: float = DEFAULT_FORECAST_WINDOW_DAYS,
) -> PlanStatus:
    """Log maintenance done at `at`: the plan's counter restarts from there, its alerts are
    acknowledged by `by`. Returns the plan's new status (the monitor unlocks the machine)."""
    now = now or at
    row = _locked_plan(session, plan_id)
    if not what.strip():
        raise Invalid("say what was done")
    if not row.cycle_started_at < at <= now:
        raise Invalid(
            f"an intervention at {at.isoformat()} must be after the current cycle began "
            f"({row.cycle_started_at.isoformat()}) and not in the future"
        )
    value = usages(session, [row], now=at, window_days=window_days)[row.id].value
    done = Intervention(
        plan_id=row.id,
        at=at,
        by=by,
        what=what.strip(),
        parts=parts.strip(),
        value=value,
        recorded_at=now,
    )
    session.add(done)
    session.flush()
    _acknowledge_cycle(session, row, by=by, now=now)
    row.cycle, row.cycle_started_at = done.id, at
    session.flush()
    return status_of(row, usages(session, [row], now=now, window_days=window_days)[row.id], now=now)


def _locked_plan(session: Session, plan_id: int) -> MaintenancePlan:
    # FOR UPDATE: two maintainers logging the same plan at once must not both reset it from
    # the same cycle (SQLite serialises writers anyway and ignores the clause).
    found = session.scalar(
        select(MaintenancePlan).where(MaintenancePlan.id == plan_id).with_for_update()
    )
    if found is None:
        raise NotFound(f"no maintenance plan {plan_id}")
    return found


def _acknowledge_cycle(session: Session, row: MaintenancePlan, *, by: str, now: datetime) -> None:
    session.execute(
        update(MaintenanceAlert)
        .where(
            MaintenanceAlert.plan_id == row.id,
            MaintenanceAlert.cycle == row.cycle,
            MaintenanceAlert.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now, acknowledged_by=by)
    )


def interventions(session: Session, *, plan_id: int) -> list[Intervention]:
    plan(session, plan_id)
    query = select(Intervention).where(Intervention.plan_id == plan_id).order_by(Intervention.id)
    return list(session.scalars(query))


def list_alerts(
    session: Session,
    *,
    machine_id: str | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[tuple[MaintenanceAlert, MaintenancePlan]]:
    """The newest alerts first, each with its plan."""
    query = (
        select(MaintenanceAlert, MaintenancePlan)
        .join(MaintenancePlan, MaintenancePlan.id == MaintenanceAlert.plan_id)
        .order_by(MaintenanceAlert.raised_at.desc(), MaintenanceAlert.level)
        .limit(limit)
    )
    if machine_id is not None:
        query = query.where(MaintenancePlan.machine_id == machine_id)
    if open_only:
        query = query.where(MaintenanceAlert.acknowledged_at.is_(None))
    return [(alert, owner) for alert, owner in session.execute(query)]


def acknowledge_alert(
    session: Session, *, alert_id: UUID, by: str, now: datetime
) -> MaintenanceAlert:
    """Someone has seen the alert; acknowledging twice keeps the first acknowledgement."""
    alert = session.get(MaintenanceAlert, alert_id)
    if alert is None:
        raise NotFound(f"no maintenance alert {alert_id}")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, by
    return alert


def lock_row(session: Session, machine_id: str) -> MachineLock | None:
    return session.get(MachineLock, machine_id)


def locks(session: Session) -> Sequence[MachineLock]:
    return session.scalars(select(MachineLock).order_by(MachineLock.machine_id)).all()


def _plan_name(name: str) -> str:
    name = " ".join(name.split())
    if not 0 < len(name) <= MAX_NAME:
        raise Invalid(f"a plan name has 1 to {MAX_NAME} characters")
    return name
