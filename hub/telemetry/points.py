"""Telemetry as InfluxDB line protocol: the `machine` and `session` measurements.

Pure functions, one line per point. Timestamps are whole milliseconds since the Unix epoch
everywhere (`PRECISION`): the telemetry contract carries milliseconds, and the shorter line is
cheaper to buffer than nanoseconds. Every number is written as a float (no `i` suffix), so a field
never changes type between points, which InfluxDB would refuse. Documented in docs/telemetry.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from contracts.models import Telemetry
from hub.errors import Invalid
from hub.ledger.service import badge_seconds

PRECISION = "ms"
MACHINE = "machine"
SESSION = "session"
# The organisation tag of a member billed privately (the ledger's usage reports say the same).
PRIVATE = "private"
# The machine state's field; a metric of that name is not written, it would change its type.
STATE_FIELD = "state"

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
    for name, value in sorted(t.metrics.items()):
        text = float_field(value)
        if text is not None and name != STATE_FIELD:
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
    busy_s: float | None = None,
    energy_wh: float | None = None,
) -> str:
    """The `session` point of one closed session, at its end.

    `badge_s` is the ledger's billed whole seconds, so dashboards and invoices agree;
    `organisation` is the organisation's name, or None for a member billed privately.
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
    }
    return line(SESSION, tags, fields, timestamp_ms(ended_at))
