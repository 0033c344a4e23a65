"""The demo's maintenance: the shipped plans on every machine, and where they stand at the end.

A day of use moves the busy-hour counters by a few hours, far from a laser tube's 1,500, so the
demo adds one plan a day can reach: the laser's air-assist filter, checked every few jobs. It
only warns (no lock), so the day goes on; the alert goes out on the embedded broker.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from contracts.models import AlertCounter
from hub.maintenance import service
from hub.maintenance.counters import PlanStatus
from machinerie.cooperative import MACHINES

FILTER_PLAN = "air-assist filter"
FILTER_MACHINE = "laser-1"


def prepare(session: Session, *, now: datetime) -> None:
    for machine in MACHINES:
        service.apply_defaults(session, machine_id=machine.machine_id, now=now)
    service.create_plan(
        session,
        machine_id=FILTER_MACHINE,
        name=FILTER_PLAN,
        counter=AlertCounter.JOBS,
        warning=3,
        limit=6,
        lock_at_limit=False,
        now=now,
    )


def statuses(sessions: sessionmaker[Session], *, now: datetime) -> list[PlanStatus]:
    with sessions() as session:
        return service.plan_status(session, now=now)


def alerts_raised(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(service.list_alerts(session, limit=1000))


def status_table(found: list[PlanStatus]) -> Table:
    table = Table(title="Maintenance counters (since the plans began)", title_justify="left")
    for column in ("machine", "plan", "counter", "value", "warning", "limit", "state"):
        right = column in ("value", "warning", "limit")
        table.add_column(column, justify="right" if right else "left", no_wrap=right)
    for status in found:
        table.add_row(
            status.machine_id,
            status.name,
            status.counter.value,
            _number(status.value),
            _number(status.warning),
            _number(status.limit),
            status.state.value,
        )
    return table


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
