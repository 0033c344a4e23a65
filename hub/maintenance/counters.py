"""Reading plan counters from the ledger: one grouped query per source for all plans at once.

A session counts toward a plan when it ENDED after the plan's cycle began (so a session that
straddles an intervention counts wholly in the new cycle) and by `now`; a job when its
`job_ended` event is in that span.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from contracts.models import AlertCounter, EventType
from hub.ledger.models import EventRecord, MachineSession
from hub.maintenance.models import MaintenancePlan
from hub.maintenance.plans import (
    PlanState,
    Thresholds,
    Usage,
    days_value,
    forecast_due,
    state_of,
)

SESSION_COUNTERS: dict[AlertCounter, tuple[Any, float]] = {
    # counter: (the session column it sums, what one unit of the column is worth)
    AlertCounter.BUSY_HOURS: (MachineSession.busy_seconds, 1 / 3600),
    AlertCounter.BADGE_HOURS: (MachineSession.badge_seconds, 1 / 3600),
    AlertCounter.ENERGY_KWH: (MachineSession.energy_wh, 1 / 1000),
}


@dataclass(frozen=True)
class PlanStatus:
    """Where one plan stands now: its counter against its thresholds, and the forecast."""

    plan_id: int
    machine_id: str
    name: str
    counter: AlertCounter
    warning: float | None
    limit: float
    lock_at_limit: bool
    active: bool
    cycle: int
    cycle_started_at: datetime
    value: float
    state: PlanState
    due_at: datetime | None

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(warning=self.warning, limit=self.limit)


def statuses(
    session: Session, plans: Collection[MaintenancePlan], *, now: datetime, window_days: float
) -> list[PlanStatus]:
    """The status of each of `plans` at `now` (three queries whatever the number of plans)."""
    usage = usages(session, plans, now=now, window_days=window_days)
    return [status_of(plan, usage[plan.id], now=now) for plan in plans]


def status_of(plan: MaintenancePlan, usage: Usage, *, now: datetime) -> PlanStatus:
    thresholds = Thresholds(warning=plan.warning, limit=plan.limit)
    due = forecast_due(
        plan.counter, usage, plan.limit, cycle_started_at=plan.cycle_started_at, now=now
    )
    return PlanStatus(
        plan_id=plan.id,
        machine_id=plan.machine_id,
        name=plan.name,
        counter=plan.counter,
        warning=plan.warning,
        limit=plan.limit,
        lock_at_limit=plan.lock_at_limit,
        active=plan.active,
        cycle=plan.cycle,
        cycle_started_at=plan.cycle_started_at,
        value=usage.value,
        state=state_of(usage.value, thresholds),
        due_at=due,
    )


def usages(
    session: Session, plans: Collection[MaintenancePlan], *, now: datetime, window_days: float
) -> dict[int, Usage]:
    """Each plan's counter since its cycle began, and its increase over the forecast window."""
    floor = now - timedelta(days=window_days)
    ids = [plan.id for plan in plans]
    from_sessions = _session_sums(session, ids, now=now, floor=floor) if ids else {}
    from_jobs = _job_counts(session, ids, now=now, floor=floor) if ids else {}
    found: dict[int, Usage] = {}
    for plan in plans:
        window_s = (now - max(plan.cycle_started_at, floor)).total_seconds()
        if plan.counter is AlertCounter.DAYS:
            value = days_value(plan.cycle_started_at, now)
            found[plan.id] = Usage(value=value, recent=0.0, window_s=window_s)
            continue
        sums = from_jobs if plan.counter is AlertCounter.JOBS else from_sessions
        total, recent = sums.get((plan.id, plan.counter), (0.0, 0.0))
        found[plan.id] = Usage(value=total, recent=recent, window_s=max(window_s, 0.0))
    return found


Sums = dict[tuple[int, AlertCounter], tuple[float, float]]


def _recent(column: Any, when: Any, floor: datetime) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((when > floor, column), else_=0)), 0)


def _session_sums(session: Session, ids: list[int], *, now: datetime, floor: datetime) -> Sums:
    plan, s = MaintenancePlan, MachineSession
    columns = []
    for column, _scale in SESSION_COUNTERS.values():
        columns += [func.coalesce(func.sum(column), 0), _recent(column, s.ended_at, floor)]
    query = (
        select(plan.id, plan.counter, *columns)
        .join(s, s.machine_id == plan.machine_id)
        .where(
            plan.id.in_(ids),
            plan.counter.in_(list(SESSION_COUNTERS)),
            s.ended_at.is_not(None),
            s.ended_at > plan.cycle_started_at,
            s.ended_at <= now,
        )
        .group_by(plan.id, plan.counter)
    )
    sums: Sums = {}
    for plan_id, counter, *values in session.execute(query):
        index = list(SESSION_COUNTERS).index(counter)
        scale = SESSION_COUNTERS[counter][1]
        total, recent = values[2 * index], values[2 * index + 1]
        sums[(plan_id, counter)] = (float(total) * scale, float(recent) * scale)
    return sums


def _job_counts(session: Session, ids: list[int], *, now: datetime, floor: datetime) -> Sums:
    plan, e = MaintenancePlan, EventRecord
    query = (
        select(plan.id, func.count(e.id), _recent(1, e.time, floor))
        .join(e, e.machine_id == plan.machine_id)
        .where(
            plan.id.in_(ids),
            plan.counter == AlertCounter.JOBS,
            e.type == EventType.JOB_ENDED.value,
            e.time > plan.cycle_started_at,
            e.time <= now,
        )
        .group_by(plan.id)
    )
    return {
        (plan_id, AlertCounter.JOBS): (float(total), float(recent))
        for plan_id, total, recent in session.execute(query)
    }
