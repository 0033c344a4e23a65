"""Maintenance plans as pure values: thresholds, the state a counter is in, crossings, forecast.

Nothing here touches the database or the clock; the service and the monitor read the ledger,
then ask these functions what it means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.models import AlertCounter, AlertLevel
from hub.errors import Invalid

DAY_S = 86_400.0
DEFAULT_FORECAST_WINDOW_DAYS = 28.0

# How each counter reads in a message ("1503 busy h ≥ 1500").
UNITS: dict[AlertCounter, str] = {
    AlertCounter.BUSY_HOURS: "busy h",
    AlertCounter.BADGE_HOURS: "badge h",
    AlertCounter.ENERGY_KWH: "kWh",
    AlertCounter.JOBS: "jobs",
    AlertCounter.DAYS: "days",
}


class PlanState(StrEnum):
    OK = "ok"
    WARNING = "warning"  # due soon: plan the intervention
    LIMIT = "limit"  # overdue: locked for all but maintainers when the plan says so


@dataclass(frozen=True)
class Thresholds:
    """When a plan warns and when it is overdue, in the unit of its counter."""

    warning: float | None
    limit: float

    def __post_init__(self) -> None:
        check_thresholds(self.warning, self.limit)


def check_thresholds(warning: float | None, limit: float) -> None:
    """Raise Invalid unless 0 < warning < limit (warning optional), all finite."""
    if not math.isfinite(limit) or limit <= 0:
        raise Invalid(f"the limit must be a positive number, not {limit}")
    if warning is None:
        return
    if not math.isfinite(warning) or warning <= 0 or warning >= limit:
        raise Invalid(f"the warning ({warning}) must be above 0 and below the limit ({limit})")


def state_of(value: float, thresholds: Thresholds) -> PlanState:
    if value >= thresholds.limit:
        return PlanState.LIMIT
    if thresholds.warning is not None and value >= thresholds.warning:
        return PlanState.WARNING
    return PlanState.OK


def new_crossing(
    value: float, thresholds: Thresholds, raised: frozenset[AlertLevel]
) -> AlertLevel | None:
    """The alert to raise now, if any: the highest level reached that this cycle has not raised.

    A counter that jumps past both thresholds raises only the limit (one message, the one that
    matters); a counter hovering at a threshold raises nothing more, since `raised` remembers.
    """
    state = state_of(value, thresholds)
    if state is PlanState.LIMIT:
        return None if AlertLevel.LIMIT in raised else AlertLevel.LIMIT
    if state is PlanState.WARNING and not raised:
        return AlertLevel.WARNING
    return None


def threshold_of(level: AlertLevel, thresholds: Thresholds) -> float:
    if level is AlertLevel.LIMIT or thresholds.warning is None:
        return thresholds.limit
    return thresholds.warning


@dataclass(frozen=True)
class Usage:
    """A counter since the plan's cycle began, and how much of it came in the forecast window.

    `recent` is the increase over the last `window_s` seconds (or since the cycle began, if
    that is shorter: `window_s` is then the cycle's age).
    """

    value: float
    recent: float
    window_s: float


def window_start(cycle_started_at: datetime, now: datetime, window_days: float) -> datetime:
    """Where the forecast window begins: `window_days` ago, or the cycle's start if later."""
    return max(cycle_started_at, now - timedelta(days=window_days))


def forecast_due(
    counter: AlertCounter,
    usage: Usage,
    limit: float,
    *,
    cycle_started_at: datetime,
    now: datetime,
) -> datetime | None:
    """When the counter should reach `limit` at its recent pace; None without recent use.

    A calendar counter is due a fixed time after the cycle began. An overdue counter is due now.
    """
    if counter is AlertCounter.DAYS:
        return cycle_started_at + timedelta(days=limit)
    if usage.value >= limit:
        return now
    if usage.recent <= 0 or usage.window_s <= 0:
        return None
    rate = usage.recent / usage.window_s  # counter units per second
    seconds = (limit - usage.value) / rate
    # Beyond what a datetime holds (years 9999): as good as never at this pace.
    if seconds > (datetime.max.replace(tzinfo=now.tzinfo) - now).total_seconds() - DAY_S:
        return None
    return now + timedelta(seconds=seconds)


def days_value(cycle_started_at: datetime, now: datetime) -> float:
    """The calendar counter: days elapsed since the cycle began, never negative."""
    return max(0.0, (now - cycle_started_at).total_seconds() / DAY_S)


def format_value(value: float) -> str:
    """A counter for people: whole numbers above 100, one decimal below ("1503", "16.4")."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}".removesuffix(".0")


def describe(plan: str, counter: AlertCounter, value: float, threshold: float) -> str:
    """`laser tube (1503 busy h ≥ 1500)`: what lock reasons and alert messages say."""
    return f"{plan} ({format_value(value)} {UNITS[counter]} ≥ {format_value(threshold)})"
