"""Telemetry as InfluxDB line protocol: `machine`, `session`, `usage`, `maintenance`, `alert`.

Pure functions, one line per point. Timestamps are whole milliseconds since the Unix epoch
everywhere (`PRECISION`): the telemetry contract carries milliseconds, and the shorter line is
cheaper to buffer than nanoseconds. Every number is written as a float (no `i` suffix), so a field
never changes type between points, which InfluxDB would refuse. Documented in docs/telemetry.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.models import Alert, MachineState, Telemetry
from hub.errors import Invalid
from hub.ledger.service import badge_seconds

PRECISION = "ms"
MACHINE = "machine"
SESSION = "session"
USAGE = "usage"
MAINTENANCE = "maintenance"
ALERT = "alert"
# The organisation tag of a member billed privately (the ledger's usage reports say the same).
PRIVATE = "private"
# The machine state's field; a metric of that name is not written, it would change its type.
STATE_FIELD = "state"
# The state as a number too: Grafana maps numbers to colours, and stores without strings
# (VictoriaMetrics) keep it.
STATE_CODE_FIELD = "state_code"
STATE_CODES: dict[MachineState, float] = {
    MachineState.OFFLINE: 0.0,
    MachineState.IDLE: 1.0,
    MachineState.RUNNING: 2.0,
    MachineState.PAUSED: 3.0,
    MachineState.ALARM: 4.0,
}
_HOUR = timedelta(hours=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Tag keys, tag values and field keys: a backslash escapes the next character (InfluxDB 2 and 3,
# VictoriaMetrics). A line break cannot be escaped in a tag: it becomes a space.
_KEY_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        ",": "\\,",
        "=": "\\=",
        " ": "\\ ",
        "\n": "\\ ",
        "\r": "\\ ",
        "\t": "\\ ",
    }
)
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def timestamp_ms(at: datetime) -> int:
    """Milliseconds since the epoch, exact (integer arithmetic, no float rounding)."""
    if at.tzinfo is None:
        raise Invalid(f"a telemetry time must carry its time zone: {at.isoformat()}")
    return (at - _EPOCH) // _MS


def escape_key(text: str) -> str:
    """A tag key, tag value or field key, escaped for line protocol."""
    return text.translate(_KEY_ESCAPES)


def string_field(value: str) -> str:
    return '"' + value.translate(_STRING_ESCAPES) + '"'


def float_field(value: float) -> str | None:
    """The shortest exact text of a float; None for NaN and infinities (not in line protocol)."""
    number = float(value)
    return repr(number) if math.isfinite(number) else None


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, str], ms: int) -> str:
    """One point from already formatted field values; empty tag values are left out (line
    protocol has no empty tag), tags sorted by key as InfluxDB prefers."""
    tag_text = "".join(
        f",{escape_key(key)}={escape_key(value)}" for key, value in sorted(tags.items()) if value
    )
    field_text = ",".join(f"{escape_key(key)}={value}" for key, value in fields.items())
    return f"{measurement}{tag_text} {field_text} {ms}"


def machine_point(t: Telemetry) -> list[str]:
    """The `machine` point of one telemetry sample: its state and metrics; none when it has
    neither (a point needs one field at least)."""
    fields: dict[str, str] = {}
    if t.state is not None:
        fields[STATE_FIELD] = string_field(t.state.value)
        fields[STATE_CODE_FIELD] = repr(STATE_CODES[t.state])
    for name, value in sorted(t.metrics.items()):
        text = float_field(value)
        if text is not None and name not in (STATE_FIELD, STATE_CODE_FIELD):
            fields[name] = text
    if not fields:
        return []
    tags = {"site": t.site, "machine_id": t.machine_id, "device_id": t.device_id}
    return [line(MACHINE, tags, fields, timestamp_ms(t.time))]


def session_point(
    *,
    site: str,
    machine_id: str,
    member_id: str,
    organisation: str | None,
    started_at: datetime,
    ended_at: datetime,
    zone: ZoneInfo,
    busy_s: float | None = None,
    energy_wh: float | None = None,
) -> str:
    """The `session` point of one closed session, at its end.

    `badge_s` is the ledger's billed whole seconds, so dashboards and invoices agree;
    `organisation` is the organisation's name, or None for a member billed privately; `month`
    (`2026-11`) is the site's local month the session started in, the month that bills it
    (InfluxQL cannot group by calendar month).
    """
    fields = {"badge_s": repr(float(badge_seconds(started_at, ended_at)))}
    for name, value in (("busy_s", busy_s), ("energy_wh", energy_wh)):
        text = None if value is None else float_field(value)
        if text is not None:
            fields[name] = text
    tags = {
        "site": site,
        "machine_id": machine_id,
        "member_id": member_id,
        "organisation": organisation or PRIVATE,
        "month": started_at.astimezone(zone).strftime("%Y-%m"),
    }
    return line(SESSION, tags, fields, timestamp_ms(ended_at))


def usage_points(
    *, site: str, machine_id: str, started_at: datetime, ended_at: datetime, zone: ZoneInfo
) -> list[str]:
    """A closed session cut at the site's local hour boundaries: one `usage` point per slice.

    Tags `weekday` (`1` Monday to `7` Sunday) and `hour` (`00` to `23`) of the local time let
    InfluxQL group by hour of the week, which it cannot compute. Each point is stamped at its
    slice's start, so two sessions of one machine never share a timestamp (they do not overlap).
    """
    # Arithmetic in UTC: Python subtracts two times of one zone on the wall clock, which
    # would count the hour repeated when clocks go back once only.
    start = started_at.astimezone(UTC)
    end = ended_at.astimezone(UTC)
    lines: list[str] = []
    while start < end:
        local = start.astimezone(zone)
        boundary = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC) + _HOUR
        stop = min(boundary, end)
        tags = {
            "site": site,
            "machine_id": machine_id,
            "weekday": str(local.isoweekday()),
            "hour": f"{local.hour:02d}",
        }
        seconds = repr((stop - start).total_seconds())
        lines.append(line(USAGE, tags, {"badge_s": seconds}, timestamp_ms(start)))
        start = stop
    return lines


def maintenance_point(
    *,
    site: str,
    machine_id: str,
    plan: str,
    counter: str,
    value: float,
    warning: float | None,
    limit: float,
    at: datetime,
    due_at: datetime | None = None,
) -> str:
    """One counter of one maintenance plan: its value since the last intervention against its
    thresholds (`ratio` is value / limit), and days until the forecast due date when known."""
    fields: dict[str, str] = {"value": repr(float(value)), "limit": repr(float(limit))}
    if warning is not None:
        fields["warning"] = repr(float(warning))
    if limit > 0:
        fields["ratio"] = repr(float(value) / float(limit))
    if due_at is not None:
        fields["due_in_days"] = repr((due_at - at).total_seconds() / 86400)
    tags = {"site": site, "machine_id": machine_id, "plan": plan, "counter": counter}
    return line(MAINTENANCE, tags, fields, timestamp_ms(at))


def alert_point(alert: Alert) -> str:
    """One maintenance alert, at the time it was raised."""
    fields = {
        "value": repr(float(alert.value)),
        "threshold": repr(float(alert.threshold)),
        "message": string_field(alert.message),
    }
    tags = {
        "site": alert.site,
        "machine_id": alert.machine_id,
        "plan": alert.plan,
        "counter": alert.counter.value,
        "level": alert.level.value,
    }
    return line(ALERT, tags, fields, timestamp_ms(alert.raised_at))
