"""A small workshop's telemetry, small enough to compute every dashboard number by hand.

Two sites. Dony (Brussels time, UTC+1 in winter) has three machines, four members, two
organisations and a private member, six sessions in November and December 2026; Kultura has one
laser and twelve members (for the top-10 limit). The lines come from hub/telemetry/points.py,
exactly as the hub's writer sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.models import Alert, AlertCounter, AlertLevel, MachineState, Telemetry
from hub.telemetry.points import (
    alert_point,
    machine_point,
    maintenance_point,
    session_point,
    usage_points,
)

ZONE = ZoneInfo("Europe/Brussels")
DATABASE = "machinerie"


def local(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE)


@dataclass(frozen=True)
class Session:
    site: str
    machine_id: str
    member_id: str
    organisation: str | None
    started_at: datetime
    ended_at: datetime
    busy_s: float | None = None
    energy_wh: float | None = None


DONY_SESSIONS = (
    # Monday 23 November: 10:00-11:30 and 14:30-15:00.
    Session("dony", "laser-1", "m-1", "Atelier Bois", local(11, 23, 10), local(11, 23, 11, 30),
            3600, 1200),
    Session("dony", "laser-1", "m-2", "Studio Nord", local(11, 23, 14, 30), local(11, 23, 15),
            900, 400),
    # Tuesday 24 November, 09:15-10:45.
    Session("dony", "cnc-1", "m-1", "Atelier Bois", local(11, 24, 9, 15), local(11, 24, 10, 45),
            4500, 3000),
    # Sunday 29 November 23:30 to Monday 01:00: two weekdays, billed in November.
    Session("dony", "printer-1", "m-3", None, local(11, 29, 23, 30), local(11, 30, 1), 5000),
    # Tuesday 1 December, 10:00-12:00.
    Session("dony", "laser-1", "m-4", "Studio Nord", local(12, 1, 10), local(12, 1, 12),
            6000, 2000),
    # Monday 7 December, 10:30-11:00: no busy time measured.
    Session("dony", "cnc-1", "m-2", "Studio Nord", local(12, 7, 10, 30), local(12, 7, 11),
            energy_wh=500),
)  # fmt: skip

# Kultura member k-NN badges NN times 10 minutes, on day NN + 1 of November at 18:00.
KULTURA_SESSIONS = tuple(
    Session(
        "kultura",
        "laser-k",
        f"k-{n:02d}",
        "Kultura asbl",
        local(11, n + 1, 18),
        local(11, n + 1, 18) + timedelta(minutes=10 * n),
    )
    for n in range(1, 13)
)

# The live telemetry: 12:00 local on Monday 7 December, on a 5-minute boundary.
LIVE_AT = local(12, 7, 12)


def _sample(
    site: str, machine: str, minutes: int, state: MachineState, **metrics: float
) -> Telemetry:
    return Telemetry(
        site=site,
        device_id=f"{machine}-pi",
        machine_id=machine,
        time=LIVE_AT + timedelta(minutes=minutes),
        state=state,
        metrics=metrics,
    )


SAMPLES = (
    _sample("dony", "laser-1", 0, MachineState.IDLE, power_w=50),
    _sample("dony", "laser-1", 5, MachineState.RUNNING, power_w=1800, progress_pct=10),
    _sample("dony", "laser-1", 10, MachineState.RUNNING, power_w=1900, progress_pct=60),
    _sample("dony", "cnc-1", 0, MachineState.RUNNING, power_w=3000, progress_pct=20),
    _sample("dony", "cnc-1", 10, MachineState.ALARM, power_w=0),
    # An offline machine reports its state alone.
    _sample("dony", "printer-1", 5, MachineState.OFFLINE),
    _sample("kultura", "laser-k", 0, MachineState.RUNNING, power_w=500),
)

DUE_AT = datetime(2027, 2, 14, 9, 0, tzinfo=UTC)


def maintenance_lines() -> list[str]:
    return [
        maintenance_point(site="dony", machine_id="laser-1", plan="laser-tube",
                          counter="busy_hours", value=1500, warning=1800, limit=2000,
                          at=local(11, 1, 9)),
        maintenance_point(site="dony", machine_id="laser-1", plan="laser-tube",
                          counter="busy_hours", value=1803.5, warning=1800, limit=2000,
                          at=LIVE_AT, due_at=DUE_AT),
        maintenance_point(site="dony", machine_id="cnc-1", plan="spindle-bearings",
                          counter="badge_hours", value=510, warning=450, limit=500,
                          at=local(12, 6, 9)),
        maintenance_point(site="dony", machine_id="printer-1", plan="nozzle", counter="jobs",
                          value=12, warning=None, limit=100, at=local(12, 1, 12)),
        maintenance_point(site="kultura", machine_id="laser-k", plan="laser-tube",
                          counter="busy_hours", value=10, warning=1800, limit=2000,
                          at=local(12, 1, 12)),
    ]  # fmt: skip


def _alert(number: int, at: datetime, message: str, **fields: Any) -> Alert:
    return Alert(alert_id=UUID(int=number), raised_at=at, message=message,
                 **{"site": "dony", **fields})  # fmt: skip


BUSY, BADGE = AlertCounter.BUSY_HOURS, AlertCounter.BADGE_HOURS
WARNING, LIMIT = AlertLevel.WARNING, AlertLevel.LIMIT
BEARINGS = {"machine_id": "cnc-1", "plan": "spindle-bearings", "counter": BADGE}
TUBE = {"machine_id": "laser-1", "plan": "laser-tube", "counter": BUSY}
ALERTS = (
    _alert(1, local(11, 28, 9), "Spindle bearings: 452 badge hours of 500", **BEARINGS,
           level=WARNING, value=452, threshold=450),
    # A comma, quotes and a backslash: the message survives line protocol's escaping.
    _alert(2, local(12, 6, 9), 'Spindle bearings: 510 h of 500, "locked" \\ maintainers only',
           **BEARINGS, level=LIMIT, value=510, threshold=500),
    _alert(3, LIVE_AT, "Laser tube: 1803.5 busy hours of 2000", **TUBE, level=WARNING,
           value=1803.5, threshold=1800),
    _alert(4, local(12, 2, 9), "Kultura tube", **{**TUBE, "machine_id": "laser-k"},
           site="kultura", level=WARNING, value=1801, threshold=1800),
)  # fmt: skip


def session_lines(session: Session) -> list[str]:
    point = session_point(
        site=session.site,
        machine_id=session.machine_id,
        member_id=session.member_id,
        organisation=session.organisation,
        started_at=session.started_at,
        ended_at=session.ended_at,
        zone=ZONE,
        busy_s=session.busy_s,
        energy_wh=session.energy_wh,
    )
    slices = usage_points(
        site=session.site,
        machine_id=session.machine_id,
        started_at=session.started_at,
        ended_at=session.ended_at,
        zone=ZONE,
    )
    return [point, *slices]


def lines() -> list[str]:
    """Every point of the workshop, as the hub writes them."""
    found: list[str] = []
    for session in DONY_SESSIONS + KULTURA_SESSIONS:
        found += session_lines(session)
    for sample in SAMPLES:
        found += machine_point(sample)
    found += maintenance_lines()
    found += [alert_point(alert) for alert in ALERTS]
    return found
