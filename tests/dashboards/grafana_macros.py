"""What Grafana's InfluxDB datasource does to an InfluxQL query before sending it.

`$timeFilter` becomes `time >= <from>ms and time <= <to>ms` (absolute range, epoch
milliseconds), `$__interval` the interval Grafana computed, and a multi-value template variable
used in a regex its values regex-escaped: one value alone, several as `(a|b)`, "All" as the
variable's `allValue` (`.*` in our dashboards).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from dashboards.grafana import ALL_VALUE
from hub.telemetry.points import timestamp_ms

ALL: tuple[str, ...] = ()
# Grafana's escapeRegex: the characters special in a regex, and the slash that ends InfluxQL's.
_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_VARIABLE = re.compile(r"\$(\w+)")


def escape_regex(value: str) -> str:
    return _SPECIAL.sub(lambda match: "\\" + match.group(0), value)


def regex_value(values: Sequence[str]) -> str:
    """A variable's text in a regex: ALL (no value) is "All"."""
    if not values:
        return ALL_VALUE
    if len(values) == 1:
        return escape_regex(values[0])
    return "(" + "|".join(escape_regex(value) for value in values) + ")"


def render(
    influxql: str,
    *,
    start: datetime,
    end: datetime,
    interval: str = "1m",
    variables: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The query as Grafana sends it for the range [start, end] and the chosen variables
    (a variable not given is "All")."""
    chosen = dict(variables or {})
    macros = {
        "timeFilter": f"time >= {timestamp_ms(start)}ms and time <= {timestamp_ms(end)}ms",
        "__interval": interval,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in macros:
            return macros[name]
        return regex_value(chosen.get(name, ALL))

    return _VARIABLE.sub(substitute, influxql)
