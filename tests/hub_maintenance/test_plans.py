"""The pure side: thresholds, states, crossings, the forecast and the shipped defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.models import AlertCounter, AlertLevel
from hub.errors import Invalid
from hub.maintenance.defaults import DEFAULT_PLANS, defaults_for
from hub.maintenance.plans import (
    PlanState,
    Thresholds,
    Usage,
    describe,
    forecast_due,
    new_crossing,
    state_of,
)
from hub.registry.models import MachineKind

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TUBE = Thresholds(warning=1350, limit=1500)
NONE: frozenset[AlertLevel] = frozenset()


@pytest.mark.parametrize(
    ("warning", "limit"), [(None, 0), (10, 10), (12, 10), (-1, 10), (None, float("inf"))]
)
def test_thresholds_must_make_sense(warning: float | None, limit: float) -> None:
    with pytest.raises(Invalid):
        Thresholds(warning=warning, limit=limit)


def test_states_follow_the_thresholds() -> None:
    assert [state_of(v, TUBE) for v in (0, 1349.9, 1350, 1499, 1500, 9000)] == [
        PlanState.OK,
        PlanState.OK,
        PlanState.WARNING,
        PlanState.WARNING,
        PlanState.LIMIT,
        PlanState.LIMIT,
    ]
    assert state_of(1400, Thresholds(warning=None, limit=1500)) is PlanState.OK


def test_a_counter_hovering_at_a_threshold_raises_once() -> None:
    assert new_crossing(1350, TUBE, NONE) is AlertLevel.WARNING
    warned = frozenset({AlertLevel.WARNING})
    assert [new_crossing(v, TUBE, warned) for v in (1350, 1351, 1350.5, 1499)] == [None] * 4
    assert new_crossing(1500, TUBE, warned) is AlertLevel.LIMIT
    assert new_crossing(1600, TUBE, warned | {AlertLevel.LIMIT}) is None


def test_jumping_past_both_thresholds_raises_the_limit_only() -> None:
    assert new_crossing(2000, TUBE, NONE) is AlertLevel.LIMIT
    assert new_crossing(1000, TUBE, NONE) is None


def test_the_lock_reason_reads_like_a_workshop_note() -> None:
    text = describe("laser tube", AlertCounter.BUSY_HOURS, 1503.2, 1500)
    assert text == "laser tube (1503 busy h ≥ 1500)"
    assert describe("lens", AlertCounter.BUSY_HOURS, 20.04, 20) == "lens (20 busy h ≥ 20)"


def _usage(value: float, recent: float, window_days: float) -> Usage:
    return Usage(value=value, recent=recent, window_s=window_days * 86400)


def test_forecast_from_the_recent_pace() -> None:
    # 100 busy hours in the last 28 days, 1400 so far: 100 more hours take 28 days.
    due = forecast_due(
        AlertCounter.BUSY_HOURS,
        _usage(1400, 100, 28),
        1500,
        cycle_started_at=NOW - timedelta(days=400),
        now=NOW,
    )
    assert due == NOW + timedelta(days=28)


def test_no_recent_use_no_forecast_and_overdue_is_now() -> None:
    started = NOW - timedelta(days=40)
    args = {"cycle_started_at": started, "now": NOW}
    assert forecast_due(AlertCounter.JOBS, _usage(10, 0, 28), 50, **args) is None
    assert forecast_due(AlertCounter.JOBS, _usage(60, 0, 28), 50, **args) == NOW


def test_a_calendar_plan_is_due_its_days_after_the_reset() -> None:
    started = NOW - timedelta(days=3)
    due = forecast_due(AlertCounter.DAYS, _usage(3, 0, 3), 30, cycle_started_at=started, now=NOW)
    assert due == started + timedelta(days=30)


values = st.floats(min_value=0, max_value=1e6, allow_nan=False)
paces = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False)
windows = st.floats(min_value=0.01, max_value=28, allow_nan=False)
limits = st.floats(min_value=1, max_value=1e6, allow_nan=False)


@given(value=values, recent=paces, window=windows, limit=limits)
def test_forecast_is_never_in_the_past_and_hits_the_limit_at_the_pace(
    value: float, recent: float, window: float, limit: float
) -> None:
    usage = _usage(value, recent, window)
    due = forecast_due(
        AlertCounter.BUSY_HOURS, usage, limit, cycle_started_at=NOW - timedelta(days=60), now=NOW
    )
    if due is None:  # beyond the calendar at this pace
        assert value < limit
        return
    assert due >= NOW
    if value < limit:
        reached = value + recent / usage.window_s * (due - NOW).total_seconds()
        assert reached == pytest.approx(limit, rel=1e-6, abs=1e-3)


@given(value=values, recent=paces, faster=st.floats(1.01, 100), window=windows, limit=limits)
def test_faster_use_is_due_sooner(
    value: float, recent: float, faster: float, window: float, limit: float
) -> None:
    started = NOW - timedelta(days=60)

    def due(pace: float) -> datetime:
        found = forecast_due(
            AlertCounter.ENERGY_KWH,
            _usage(value, pace, window),
            limit,
            cycle_started_at=started,
            now=NOW,
        )
        return found or datetime.max.replace(tzinfo=UTC)

    assert due(recent * faster) <= due(recent)


def test_defaults_cover_the_kinds_with_sane_thresholds() -> None:
    tube = {p.name: p for p in defaults_for(MachineKind.LASER_CUTTER)}["laser tube"]
    assert (tube.counter, tube.thresholds) == (AlertCounter.BUSY_HOURS, TUBE)
    assert {p.name for p in defaults_for(MachineKind.CNC_MILL)} == {
        "spindle",
        "spindle bearings",
        "lubrication",
    }
    assert [p.name for p in defaults_for(MachineKind.PRINTER_3D)] == [
        "nozzle",
        "bed and belts check",
    ]
    assert defaults_for(MachineKind.OTHER) == ()
    for plans in DEFAULT_PLANS.values():
        for plan in plans:
            assert plan.thresholds.warning is not None
            assert plan.thresholds.warning < plan.thresholds.limit
