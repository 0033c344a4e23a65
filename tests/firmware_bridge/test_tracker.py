"""The tracker: busy time, energy, job events and the power interlock, on a hand-driven clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, MeterReading
from firmware_bridge.tracker import (
    STALE_ALARM,
    AlarmChanged,
    FirmwareIdentified,
    Instant,
    Interlock,
    InterlockChanged,
    JobBegan,
    JobFinished,
    Limits,
    Output,
    Tracker,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PRINT = Job("job-1", "bracket.gcode")
IDLE = ControllerView(MachineState.IDLE)
PRINTING = ControllerView(MachineState.RUNNING, busy=True, job=PRINT)
PAUSED = ControllerView(MachineState.PAUSED, job=PRINT)
DONE = ControllerView(MachineState.IDLE, outcome=JobOutcome.COMPLETED)


def lock(tracker: Tracker) -> Interlock:
    return tracker.interlock  # read afresh: each call may change it


def at(seconds: float) -> Instant:
    return Instant(T0 + timedelta(seconds=seconds), 1000.0 + seconds)


def feed(tracker: Tracker, script: Sequence[tuple[float, ControllerView]]) -> list[Output]:
    out: list[Output] = []
    for seconds, view in script:
        out += tracker.on_view(view, at(seconds))
    return out


def test_a_print_counts_its_printing_time_once_and_not_its_pause() -> None:
    tracker = Tracker(Limits(stale_after_s=5))
    script = [(0, IDLE), *[(t, PRINTING) for t in range(1, 11)], (11, PAUSED), (15, PAUSED)]
    script += [(16, PRINTING), (20, DONE)]
    out = feed(tracker, script)
    began = [o for o in out if isinstance(o, JobBegan)]
    finished = [o for o in out if isinstance(o, JobFinished)]
    assert [b.at for b in began] == [at(1)]
    assert len(finished) == 1
    assert finished[0].outcome is JobOutcome.COMPLETED
    assert (finished[0].started, finished[0].ended) == (at(1), at(20))
    assert finished[0].busy_s == 14.0  # 1 to 11, then 16 to 20
    assert tracker.totals.busy_s == 14.0
    assert finished[0].energy_wh is None  # no meter


def test_power_is_held_while_a_job_runs_or_pauses_and_released_after_the_cooldown() -> None:
    tracker = Tracker(Limits(stale_after_s=30, cooldown_s=60))
    changes = [o.interlock for o in feed(tracker, [(0, IDLE)]) if isinstance(o, InterlockChanged)]
    assert changes == [Interlock.CLEAR]  # idle and never worked: nothing to wait for
    feed(tracker, [(1, PRINTING), (5, PAUSED), (9, DONE)])
    assert lock(tracker) is Interlock.HOLD
    for second in range(10, 69, 10):
        tracker.on_view(DONE, at(second))
        assert lock(tracker) is Interlock.HOLD, second
    tracker.on_view(DONE, at(69))
    assert lock(tracker) is Interlock.CLEAR


def test_a_spindle_switched_on_without_a_job_holds_power() -> None:
    tracker = Tracker(Limits())
    tracker.on_view(ControllerView(MachineState.IDLE, busy=True), at(0))
    assert lock(tracker) is Interlock.HOLD


def test_the_meter_restarts_the_cooldown_while_power_stays_high() -> None:
    tracker = Tracker(Limits(cooldown_s=60, idle_power_w=50), has_meter=True)
    feed(tracker, [(0, PRINTING), (10, DONE)])
    for second in range(10, 41, 5):  # the bed and fans still draw 300 W for half a minute
        tracker.on_meter(MeterReading(300.0), at(second))
        tracker.on_view(DONE, at(second))
    for second in range(45, 100, 5):
        tracker.on_meter(MeterReading(8.0), at(second))
        tracker.on_view(DONE, at(second))
        expected = Interlock.CLEAR if second >= 100 else Interlock.HOLD
        assert lock(tracker) is expected, second
    tracker.on_meter(MeterReading(8.0), at(101))
    assert lock(tracker) is Interlock.CLEAR


def test_stale_telemetry_holds_power_stops_counting_and_raises_a_flag_once_powered() -> None:
    tracker = Tracker(Limits(stale_after_s=5))
    tracker.on_power(True, at(0))
    feed(tracker, [(1, PRINTING), (2, PRINTING)])
    out = tracker.tick(at(4))
    assert lock(tracker) is Interlock.HOLD and out == []
    out = tracker.tick(at(30))
    assert lock(tracker) is Interlock.UNKNOWN
    assert [o.code for o in out if isinstance(o, AlarmChanged) and o.active] == [STALE_ALARM]
    assert tracker.totals.busy_s == 6.0  # 1 to 7: five seconds past the last report, no more
    out = tracker.on_view(PRINTING, at(31))
    assert [o.active for o in out if isinstance(o, AlarmChanged)] == [False]
    assert lock(tracker) is Interlock.HOLD
    assert tracker.job == PRINT  # the same job goes on: no second start


def test_an_unpowered_silent_controller_raises_no_flag() -> None:
    tracker = Tracker(Limits(stale_after_s=5))
    out = tracker.tick(at(100))
    assert lock(tracker) is Interlock.UNKNOWN
    assert not [o for o in out if isinstance(o, AlarmChanged)]
    tracker.on_power(True, at(100))
    assert not [o for o in tracker.tick(at(104)) if isinstance(o, AlarmChanged)]  # booting
    assert [o.code for o in tracker.tick(at(106)) if isinstance(o, AlarmChanged)] == [STALE_ALARM]


def test_link_loss_makes_the_state_unknown_at_once() -> None:
    tracker = Tracker(Limits(stale_after_s=60))
    feed(tracker, [(0, IDLE)])
    assert lock(tracker) is Interlock.CLEAR
    tracker.on_offline(at(1))
    assert lock(tracker) is Interlock.UNKNOWN
    assert tracker.state(1001.0) is MachineState.OFFLINE


def test_a_controller_alarm_ends_the_job_in_error_and_is_raised_then_cleared() -> None:
    tracker = Tracker(Limits())
    alarm = ControllerView(
        MachineState.ALARM, alarm="marlin_thermal_runaway", alarm_message="Thermal Runaway"
    )
    out = feed(tracker, [(0, PRINTING), (3, alarm), (9, IDLE)])
    [finished] = [o for o in out if isinstance(o, JobFinished)]
    assert finished.outcome is JobOutcome.ERROR
    alarms = [(o.code, o.active) for o in out if isinstance(o, AlarmChanged)]
    assert alarms == [("marlin_thermal_runaway", True), ("marlin_thermal_runaway", False)]


def test_a_new_job_id_ends_the_previous_job_as_interrupted() -> None:
    tracker = Tracker(Limits())
    other = ControllerView(MachineState.RUNNING, busy=True, job=Job("job-2"))
    out = feed(tracker, [(0, PRINTING), (5, other)])
    finished = [o for o in out if isinstance(o, JobFinished)]
    assert [(f.job.job_id, f.outcome) for f in finished] == [("job-1", JobOutcome.INTERRUPTED)]
    assert [o.job.job_id for o in out if isinstance(o, JobBegan)] == ["job-1", "job-2"]


def test_the_latest_firmware_named_is_kept_through_an_unnamed_restart() -> None:
    tracker = Tracker(Limits())
    named = replace(IDLE, firmware="Marlin 2.1.2.1")
    out = feed(tracker, [(0, IDLE), (1, named), (2, named), (3, PRINTING)])
    assert [o for o in out if isinstance(o, FirmwareIdentified)] == [
        FirmwareIdentified("Marlin 2.1.2.1")
    ]
    assert tracker.firmware == "Marlin 2.1.2.1"  # a view without a name changes nothing
    tracker.on_offline(at(4))
    updated = tracker.on_view(replace(IDLE, firmware="Marlin 2.1.3"), at(5))
    assert FirmwareIdentified("Marlin 2.1.3") in updated and tracker.firmware == "Marlin 2.1.3"


def test_energy_counts_only_rises_of_the_meter_counter() -> None:
    tracker = Tracker(Limits(stale_after_s=60), has_meter=True)
    counters = [1000.0, 1010.0, 1025.0, 3.0, 8.0]  # the meter rebooted and reset after 1025
    for second, counter in enumerate(counters):
        tracker.on_meter(MeterReading(500.0, energy_wh=counter), at(second))
    assert tracker.totals.energy_wh == 30.0


def test_without_a_counter_energy_is_power_over_time() -> None:
    tracker = Tracker(Limits(stale_after_s=60), has_meter=True)
    for second in range(0, 3601, 10):
        tracker.on_meter(MeterReading(1200.0), at(second))
    assert abs(tracker.totals.energy_wh - 1200.0) < 1e-6


def test_a_meter_alone_makes_jobs_of_working_stretches() -> None:
    tracker = Tracker(Limits(busy_power_w=200, stale_after_s=30), has_controller=False)
    tracker.on_meter(MeterReading(5.0, energy_wh=100.0), at(0))
    out: list[Output] = []
    for second in range(1, 61):
        out += tracker.on_meter(MeterReading(900.0, energy_wh=100.0 + second / 4), at(second))
    out += tracker.on_meter(MeterReading(4.0, energy_wh=115.25), at(61))
    [finished] = [o for o in out if isinstance(o, JobFinished)]
    assert finished.busy_s == 60.0
    assert finished.energy_wh == 15.0
    assert finished.outcome is JobOutcome.COMPLETED
    assert lock(tracker) is Interlock.CLEAR


def test_telemetry_metrics_have_contract_names() -> None:
    tracker = Tracker(Limits(), has_meter=True)
    view = ControllerView(
        MachineState.RUNNING,
        busy=True,
        job=Job("j", progress=0.421),
        temperatures={"nozzle": 214.9, "Bed": 59.5},
        metrics={"feed_mm_min": 1200.0, "Spindle RPM": 12000.0},
    )
    tracker.on_view(view, at(0))
    tracker.on_meter(MeterReading(250.0, voltage_v=231.2), at(1))
    metrics = tracker.metrics()
    assert metrics["temp_nozzle_c"] == 214.9 and metrics["temp_bed_c"] == 59.5
    assert metrics["spindle_rpm"] == 12000.0 and metrics["progress_pct"] == 42.1
    assert metrics["power_w"] == 250.0 and metrics["busy_s_total"] == 1.0


views = st.builds(
    ControllerView,
    state=st.sampled_from(MachineState),
    busy=st.booleans(),
    job=st.none() | st.builds(Job, job_id=st.sampled_from(["a", "b", "c"])),
    outcome=st.none() | st.sampled_from(JobOutcome),
)
steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=20),
        st.one_of(
            views,
            st.builds(
                MeterReading, power_w=st.floats(0, 5000), energy_wh=st.none() | st.floats(0, 1e6)
            ),
            st.sampled_from(["tick", "offline", "on", "off"]),
        ),
    ),
    max_size=60,
)


@given(steps)
@settings(max_examples=200)
def test_any_sequence_keeps_the_books_straight(script: list[tuple[float, object]]) -> None:
    tracker = Tracker(Limits(stale_after_s=5, cooldown_s=3, idle_power_w=50), has_meter=True)
    clock, out = 0.0, []
    for step, item in script:
        clock += step
        now = at(clock)
        if isinstance(item, ControllerView):
            out += tracker.on_view(item, now)
        elif isinstance(item, MeterReading):
            out += tracker.on_meter(item, now)
        elif item == "tick":
            out += tracker.tick(now)
        elif item == "offline":
            out += tracker.on_offline(now)
        else:
            out += tracker.on_power(item == "on", now)
        if lock(tracker) is Interlock.CLEAR:
            assert tracker.job is None and not tracker.busy
    assert 0 <= tracker.totals.busy_s <= clock + 1e-9
    assert tracker.totals.energy_wh >= 0
    open_jobs: list[str] = []
    for item in out:
        if isinstance(item, JobBegan):
            assert not open_jobs
            open_jobs.append(item.job.job_id)
        elif isinstance(item, JobFinished):
            assert open_jobs == [item.job.job_id] and item.busy_s >= 0
            open_jobs.clear()
