"""What the maintenance pages show and accept: plans with the due ones first, open alerts,
machines with their locks, and the forms' fields read into typed values.

A field the page cannot use raises `forms.Refused` with the message id to show and the HTTP
status, so the page says what is wrong in the visitor's language and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.models import AlertCounter
from hub.console.forms import Refused
from hub.maintenance import service
from hub.maintenance.counters import PlanStatus
from hub.maintenance.models import MachineLock, MaintenanceAlert, MaintenancePlan
from hub.maintenance.plans import PlanState
from hub.registry.models import Machine, Site

MAX_TEXT = 2000  # what the API accepts for an intervention's text
MAX_REASON = 500  # what the lock table keeps
MAX_THRESHOLD = 1e9
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">
_STATE_ORDER = {PlanState.LIMIT: 0, PlanState.WARNING: 1, PlanState.OK: 2}
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MachineInfo:
    machine_id: str
    name: str
    kind: str
    timezone: str


@dataclass(frozen=True)
class Overview:
    plans: list[PlanStatus]
    alerts: list[tuple[MaintenanceAlert, MaintenancePlan]]
    machines: dict[str, MachineInfo]
    locks: dict[str, MachineLock]


@dataclass(frozen=True)
class PlanForm:
    machine_id: str
    name: str
    counter: AlertCounter
    warning: float | None
    limit: float
    lock_at_limit: bool


def machines(session: Session) -> dict[str, MachineInfo]:
    """Every machine of the registry by site and name, with its site's time zone."""
    rows = session.execute(
        select(Machine, Site.timezone)
        .join(Site, Site.id == Machine.site_id)
        .order_by(Site.id, Machine.name)
    ).all()
    return {
        m.id: MachineInfo(machine_id=m.id, name=m.name, kind=str(m.kind), timezone=tz)
        for m, tz in rows
    }


def overview(session: Session, *, now: datetime) -> Overview:
    return Overview(
        plans=due_first(service.plan_status(session, now=now)),
        alerts=service.list_alerts(session, open_only=True),
        machines=machines(session),
        locks={row.machine_id: row for row in service.locks(session)},
    )


def due_first(found: Iterable[PlanStatus]) -> list[PlanStatus]:
    """Overdue, then due soon, then the rest; the nearest forecast first; switched-off last."""

    def key(s: PlanStatus) -> tuple[bool, int, bool, datetime, str]:
        return (
            not s.active,
            _STATE_ORDER[s.state],
            s.due_at is None,
            s.due_at or _EARLIEST,
            s.name,
        )

    return sorted(found, key=key)


def text(value: str, *, required: str | None = None, max_length: int = MAX_TEXT) -> str:
    """A text field, trimmed; `required` is the message shown when it is empty."""
    value = value.strip()
    if required is not None and not value:
        raise Refused(required)
    if len(value) > max_length:
        raise Refused("maint.error.too_long", max=max_length)
    if "\x00" in value:  # PostgreSQL refuses NUL in text
        raise Refused("maint.error.control")
    return value


def number(value: str, *, error: str) -> float:
    """A positive threshold as people type it, with a decimal point or a comma."""
    try:
        found = float(value.strip().replace(",", "."))
    except ValueError:
        raise Refused(error) from None
    if not math.isfinite(found) or not 0 < found <= MAX_THRESHOLD:
        raise Refused(error)
    return found


def plan_form(
    *, machine_id: str, name: str, counter: str, warning: str, limit: str, lock_at_limit: bool
) -> PlanForm:
    name = " ".join(name.split())
    if not 0 < len(name) <= service.MAX_NAME or "\x00" in name:
        raise Refused("maint.error.name")
    try:
        kind = AlertCounter(counter)
    except ValueError:
        raise Refused("maint.error.counter") from None
    found_limit = number(limit, error="maint.error.limit")
    found_warning = number(warning, error="maint.error.warning") if warning.strip() else None
    if found_warning is not None and found_warning >= found_limit:
        raise Refused("maint.error.thresholds")
    return PlanForm(machine_id, name, kind, found_warning, found_limit, lock_at_limit)


def moment(value: str, *, timezone: str, now: datetime) -> datetime:
    """When the work was done, typed in the site's local time; empty or this minute is now."""
    value = value.strip()
    if not value:
        return now
    try:
        given = datetime.fromisoformat(value)
    except ValueError:
        raise Refused("maint.error.when") from None
    if given.tzinfo is None:
        given = given.replace(tzinfo=ZoneInfo(timezone))
    # The form is filled with the current minute; sent within it, it means "now", not the
    # minute's start, which may lie before a plan created a few seconds ago.
    if local_input(given, timezone) == local_input(now, timezone):
        return now
    return given.astimezone(UTC)


def local_input(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime(LOCAL_INPUT)
