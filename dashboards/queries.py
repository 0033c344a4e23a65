"""Every panel's InfluxQL, as data: the dashboards send exactly these texts, and the tests run
exactly these texts against a real InfluxDB after substituting Grafana's macros.

InfluxQL runs on InfluxDB 1.8+, on 2.x through a DBRP mapping and on 3.x. Measurements, tags and
fields are those of hub/telemetry/points.py. Grafana replaces `$timeFilter`, `$__interval` and
the template variables (`$site`, `$machine`) before sending a query.
"""

# The f-strings below splice this module's own constant filters, never outside input.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Format(StrEnum):
    """Grafana's InfluxQL result formats: one series per tag set, or one table row each."""

    TIME_SERIES = "time_series"
    TABLE = "table"


@dataclass(frozen=True)
class Query:
    """One panel target: its stable name (the tests' key), its InfluxQL with Grafana's macros,
    the result format, and the legend alias (`$tag_<key>`) of a time series."""

    name: str
    influxql: str
    format: Format = Format.TABLE
    alias: str = ""


SITE = '"site" =~ /^$site$/'
MACHINE = '"machine_id" =~ /^$machine$/'
IN_RANGE = f"$timeFilter AND {SITE} AND {MACHINE}"


def site_values(measurement: str) -> str:
    """The `site` template variable: every site that wrote to the measurement."""
    return f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site"'


def machine_values(measurement: str) -> str:
    """The `machine` template variable: the machines of the chosen sites."""
    return f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "machine_id" WHERE {SITE}'


# ---------------------------------------------------------------- live machines
# Each last() is the last value of that field, taken on its own: a sample without a metric
# (an offline machine reports a state alone) leaves that metric's previous value standing. The
# state is read as its code, which every store keeps (VictoriaMetrics keeps no strings).
LIVE_STATE = Query(
    "live_state",
    'SELECT last("state_code") AS "state_code", last("power_w") AS "power_w", '
    'last("progress_pct") AS "progress_pct" '
    f'FROM "machine" WHERE {IN_RANGE} GROUP BY "machine_id"',
)


def _machines_in_state(name: str, code: int) -> Query:
    return Query(
        name,
        'SELECT count("state_code") AS "machines" FROM (SELECT last("state_code") AS "state_code" '
        f'FROM "machine" WHERE {IN_RANGE} GROUP BY "machine_id") WHERE "state_code" = {code}',
        Format.TIME_SERIES,
    )


# Codes of hub/telemetry/points.py STATE_CODES.
MACHINES_RUNNING = _machines_in_state("machines_running", 2)
MACHINES_IN_ALARM = _machines_in_state("machines_in_alarm", 4)
STATE_TIMELINE = Query(
    "state_timeline",
    'SELECT last("state_code") AS "state" FROM "machine" '
    f'WHERE {IN_RANGE} GROUP BY time($__interval), "machine_id" fill(previous)',
    Format.TIME_SERIES,
    "$tag_machine_id",
)
POWER = Query(
    "power",
    'SELECT mean("power_w") AS "power_w" FROM "machine" '
    f'WHERE {IN_RANGE} GROUP BY time($__interval), "machine_id" fill(null)',
    Format.TIME_SERIES,
    "$tag_machine_id",
)

# ---------------------------------------------------------------- usage
# `weekday` ("1" Monday to "7") and `hour` ("00" to "23") are tags because InfluxQL cannot
# compute a local hour of the week; zero-padded, so their text order is the clock's.
HOUR_OF_WEEK = Query(
    "hour_of_week",
    'SELECT sum("badge_s") / 3600 AS "hours" FROM "usage" '
    f'WHERE {IN_RANGE} GROUP BY "weekday", "hour"',
)
# `month` is the local month the session started in, the month that bills it.
ORGANISATION_MONTHS = Query(
    "organisation_months",
    'SELECT sum("badge_s") / 3600 AS "hours" FROM "session" '
    f'WHERE {IN_RANGE} GROUP BY "organisation", "month"',
)
TOP_MEMBERS = Query(
    "top_members",
    'SELECT top("hours", "member_id", 10) AS "hours" FROM '
    '(SELECT sum("badge_s") / 3600 AS "hours" FROM "session" '
    f'WHERE {IN_RANGE} GROUP BY "member_id")',
)
# busy_s and energy_wh are there only for sessions a firmware bridge or meter measured: the
# busy share compares busy time with the badge time of all sessions.
MACHINE_USAGE = Query(
    "machine_usage",
    'SELECT count("badge_s") AS "sessions", sum("badge_s") / 3600 AS "badge_hours", '
    'sum("busy_s") / 3600 AS "busy_hours", sum("busy_s") / sum("badge_s") AS "busy_share" '
    f'FROM "session" WHERE {IN_RANGE} GROUP BY "machine_id"',
)
ENERGY = Query(
    "energy",
    'SELECT sum("energy_wh") / 1000 AS "energy_kwh" FROM "session" '
    f'WHERE {IN_RANGE} GROUP BY "machine_id"',
    Format.TIME_SERIES,
    "$tag_machine_id",
)

# ---------------------------------------------------------------- maintenance
MAINTENANCE_COUNTERS = Query(
    "maintenance_counters",
    'SELECT last("value") AS "value", last("warning") AS "warning", last("limit") AS "limit", '
    'last("ratio") AS "ratio", last("due_in_days") AS "due_in_days" FROM "maintenance" '
    f'WHERE {IN_RANGE} GROUP BY "machine_id", "plan", "counter"',
)
MAINTENANCE_RATIO = Query(
    "maintenance_ratio",
    'SELECT last("ratio") AS "ratio" FROM "maintenance" '
    f'WHERE {IN_RANGE} GROUP BY "machine_id", "plan", "counter"',
    Format.TIME_SERIES,
    "$tag_machine_id $tag_plan ($tag_counter)",
)
ALERTS = Query(
    "alerts",
    'SELECT "level", "machine_id", "plan", "counter", "value", "threshold", "message" '
    f'FROM "alert" WHERE {IN_RANGE} ORDER BY time DESC LIMIT 200',
)
ALERTS_BY_LEVEL = Query(
    "alerts_by_level",
    f'SELECT count("value") AS "alerts" FROM "alert" WHERE {IN_RANGE} GROUP BY "level"',
    Format.TIME_SERIES,
    "$tag_level",
)

PANEL_QUERIES: tuple[Query, ...] = (
    LIVE_STATE,
    MACHINES_RUNNING,
    MACHINES_IN_ALARM,
    STATE_TIMELINE,
    POWER,
    HOUR_OF_WEEK,
    ORGANISATION_MONTHS,
    TOP_MEMBERS,
    MACHINE_USAGE,
    ENERGY,
    MAINTENANCE_COUNTERS,
    MAINTENANCE_RATIO,
    ALERTS,
    ALERTS_BY_LEVEL,
)
