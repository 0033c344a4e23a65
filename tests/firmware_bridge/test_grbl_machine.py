"""The GRBL state machine: the `A:`/`Ov:` rule, jobs, alarms, resets, fed parsed real lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import decode
from firmware_bridge.grbl.machine import GrblMachine
from firmware_bridge.grbl.parse import parse_line
from firmware_bridge.model import ControllerView, JobOutcome, MachineState

BANNER = "Grbl 1.1h ['$' for help]"
FLUIDNC = "Grbl 3.7 [FluidNC v3.7.8 (wifi) '$' for help]"
IDLE = "<Idle|MPos:0.000,0.000,0.000|FS:0,0>"
RUN = "<Run|MPos:1.000,0.000,0.000|FS:800,12000>"
HOLD = "<Hold:0|MPos:1.000,0.000,0.000|FS:0,0>"


def feed(
    machine: GrblMachine, lines: list[str], start: float = 0.0, step: float = 0.25
) -> ControllerView:
    """Feed `lines` a poll period apart; the machine's view after the last."""
    for index, line in enumerate(lines):
        machine.feed(parse_line(line), start + index * step)
    return machine.view


# (laser, lines, busy after the last line). gnea/grbl interface.md: `A:` appears only with
# `Ov:` and only when something is on; its absence next to `Ov:` means all off.
ACCESSORY_RULE = [
    # Spindle on, then reports without `Ov:`: keep the last `A:`.
    (False, ["<Idle|MPos:0,0,0|FS:0,0|Ov:100,100,100|A:S>", IDLE, IDLE], True),
    # `Ov:` without `A:` after M5 (gnea/grbl#1242): everything is off.
    (
        False,
        ["<Idle|MPos:0,0,0|FS:0,0|Ov:100,100,100|A:S>", "<Idle|MPos:0,0,0|FS:0,0|Ov:100,100,100>"],
        False,
    ),
    # grblHAL's empty `A:` (terjeio/ioSender#495) is as good.
    (False, ["<Run|MPos:0,0,0|FS:0,0|Ov:100,100,100|A:S>", "<Alarm|MPos:0,0,0|FS:0,0|A:>"], False),
    # Counter-clockwise counts; coolant alone does not.
    (False, ["<Run|MPos:0,0,0|FS:100,0|Ov:100,100,100|A:CF>"], True),
    (False, ["<Run|MPos:0,0,0|FS:100,0|Ov:100,100,100|A:FM>"], False),
    # Without `A:` yet, a real-time speed above 0 is a spindle turning (gnea/grbl zeroes it on M5).
    (False, ["<Run|MPos:0,0,0|FS:100,9000>"], True),
    # FluidNC keeps the modal S after M5 (bdring/FluidNC#1483): only `A:` counts there.
    (False, [FLUIDNC, "<Idle|MPos:0,0,0|FS:0,1000|Ov:100,100,100>"], False),
    (False, [FLUIDNC, "<Idle|MPos:0,0,0|FS:0,1000|Ov:100,100,100|A:S>"], True),
    # A laser fires when the real-time power is above 0, whatever `A:` says.
    (True, ["<Run|MPos:0,0,0|FS:1000,0|Ov:100,100,100|A:C>"], False),  # M4 in a G0 travel
    (True, ["<Run|MPos:0,0,0|FS:1000,500>"], True),
    # M3 in laser mode fires at rest, e.g. focusing (gnea/grbl laser_mode.md).
    (True, ["<Idle|MPos:0,0,0|FS:0,20|Ov:100,100,100|A:S>"], True),
    (True, ["<Idle|MPos:0,0,0|FS:0,20>", IDLE], False),
]


@pytest.mark.parametrize(("laser", "lines", "busy"), ACCESSORY_RULE)
def test_the_accessory_rule(laser: bool, lines: list[str], busy: bool) -> None:
    assert feed(GrblMachine(laser=laser), lines).busy is busy


def test_a_job_runs_pauses_and_ends_with_pgm_end() -> None:
    machine = GrblMachine(laser=False)
    assert feed(machine, [IDLE]).job is None
    running = feed(machine, [RUN], start=1.0)
    assert running.state is MachineState.RUNNING and running.busy and running.job is not None
    job_id = running.job.job_id
    paused = feed(machine, [HOLD], start=2.0)
    assert paused.state is MachineState.PAUSED and not paused.busy
    assert paused.job is not None and paused.job.job_id == job_id
    assert feed(machine, [RUN], start=3.0).job == running.job
    ended = machine.feed(parse_line("[MSG:Pgm End]"), 4.0)
    assert ended is not None and ended.job is None
    assert ended.outcome is JobOutcome.COMPLETED and ended.state is MachineState.IDLE
    assert not ended.busy  # M30 turns the spindle off
    after = feed(machine, [IDLE], start=5.0)
    assert after.outcome is JobOutcome.COMPLETED and after.job is None


def test_a_short_idle_between_streamed_lines_stays_in_the_job() -> None:
    machine = GrblMachine(laser=False, idle_end_s=2.0)
    first = feed(machine, [RUN, IDLE, IDLE, RUN, IDLE])  # idle 0.5 s, run again, idle
    assert first.job is not None and first.state is MachineState.IDLE
    still = machine.feed(parse_line(IDLE), 1.0 + 1.9)
    assert still is not None and still.job == first.job
    done = machine.feed(parse_line(IDLE), 1.0 + 2.0)
    assert done is not None and done.job is None and done.outcome is JobOutcome.COMPLETED


def test_a_hard_limit_ends_the_job_in_error() -> None:
    machine = GrblMachine(laser=False)
    feed(machine, [RUN, "<Run|MPos:1,0,0|FS:800,12000|Ov:100,100,100|A:S>"])
    alarmed = machine.feed(parse_line("ALARM:1"), 1.0)
    assert alarmed is not None
    assert alarmed.state is MachineState.ALARM and alarmed.job is None
    assert alarmed.outcome is JobOutcome.ERROR and not alarmed.busy
    assert alarmed.alarm == "grbl_alarm_1" and alarmed.alarm_message.startswith("Hard limit")
    assert machine.feed(parse_line("[MSG:Reset to continue]"), 1.1) is None
    # Reset: the banner, then the lock, then a status once unlocked.
    feed(machine, [BANNER, "[MSG:'$H'|'$X' to unlock]"], start=2.0)
    assert machine.view.state is MachineState.ALARM and machine.view.alarm == "grbl_alarm_1"
    unlocked = feed(machine, ["[MSG:Caution: Unlocked]", IDLE], start=3.0)
    assert unlocked.state is MachineState.IDLE and unlocked.alarm is None
    assert unlocked.outcome is JobOutcome.ERROR


def test_a_reset_while_moving_interrupts_the_job() -> None:
    # What GRBL prints after 0x18 during motion: ALARM:3, the banner, the lock.
    machine = GrblMachine(laser=False)
    feed(machine, [RUN])
    view = feed(machine, ["ALARM:3", BANNER, "[MSG:'$H'|'$X' to unlock]"], start=1.0)
    assert view.job is None and view.outcome is JobOutcome.INTERRUPTED
    assert view.state is MachineState.ALARM and view.alarm == "grbl_alarm_3"


def test_a_banner_mid_job_interrupts_it() -> None:
    machine = GrblMachine(laser=False)
    feed(machine, [RUN, HOLD])
    view = feed(machine, [BANNER], start=1.0)
    assert view.job is None and view.outcome is JobOutcome.INTERRUPTED
    assert view.state is MachineState.IDLE and not view.busy and machine.wco is None


def test_an_alarm_report_without_its_push_still_ends_the_job() -> None:
    machine = GrblMachine(laser=False)
    view = feed(machine, [RUN, "<Alarm|MPos:0,0,0|FS:0,0>"])
    assert view.outcome is JobOutcome.ERROR and view.alarm == "grbl_alarm"


def test_jogging_and_homing_run_without_a_job() -> None:
    machine = GrblMachine(laser=False)
    jog = feed(machine, ["<Jog|MPos:0,0,0|FS:500,0>"])
    assert jog.state is MachineState.RUNNING and jog.job is None
    # grblHAL sends one report before homing (grblHAL/core#361), gnea/grbl one after.
    home = feed(machine, ["<Home|MPos:0,0,0|FS:0,0>"])
    assert home.state is MachineState.RUNNING and home.job is None


def test_a_door_between_jobs_pauses_nothing() -> None:
    # grblHAL/core#73:
    view = feed(
        GrblMachine(laser=False), ["<Door:1|WPos:3.300,4.965,21.000|Bf:0,1023|FS:0,0|Pn:D>"]
    )
    assert view.state is MachineState.IDLE and view.job is None


def test_sd_card_jobs_carry_name_and_progress() -> None:
    machine = GrblMachine(laser=False)
    first = feed(machine, ["<Run|MPos:0,0,0|FS:100,0|SD:12.5,/jobs/sign.nc>"])
    second = feed(machine, ["<Run|MPos:0,0,0|FS:100,0|SD:99.9,/jobs/sign.nc>"], start=1.0)
    assert first.job is not None and second.job is not None
    assert first.job.job_id == second.job.job_id
    assert second.job.name == "/jobs/sign.nc"
    assert second.job.progress == pytest.approx(0.999)


def test_metrics_latch_overrides_and_read_units_and_power_range() -> None:
    laser = GrblMachine(laser=True)
    view = feed(
        laser,
        [
            "$13=1",  # reports in inches
            "$30=1000",  # S1000 is full power
            "<Run|MPos:0,0,0|FS:10,250|Ov:120,50,90|WCO:1.000,2.000,3.000>",
            "<Run|MPos:0,0,0|FS:10,500>",
        ],
    )
    assert view.metrics == {
        "feed_mm_min": pytest.approx(254.0),
        "laser_power": 500.0,
        "laser_power_pct": 50.0,
        "feed_override_pct": 120.0,
        "rapid_override_pct": 50.0,
        "spindle_override_pct": 90.0,
    }
    assert laser.wco == (1.0, 2.0, 3.0)
    mill = feed(GrblMachine(laser=False), [RUN])
    assert mill.metrics == {"feed_mm_min": 800.0, "spindle_rpm": 12000.0}


def test_build_info_fingerprints_the_controller() -> None:
    machine = GrblMachine(laser=False)
    lines = [BANNER, "[VER:1.1h.20190830:saw-3]", "[OPT:V,15,128]", "ok"]
    views = {line: machine.feed(parse_line(line), 0.0) for line in lines}
    assert views["[OPT:V,15,128]"] is None and views["ok"] is None
    named = views["[VER:1.1h.20190830:saw-3]"]  # a new name is news: a view goes out at once
    assert named is not None and named.firmware == "Grbl 1.1h.20190830"
    assert machine.fingerprint.version is not None
    assert machine.fingerprint.version.user == "saw-3"
    assert machine.fingerprint.options is not None and machine.fingerprint.options.blocks == 15


@pytest.mark.parametrize(
    ("lines", "firmware"),
    [
        ([IDLE], ""),  # attached to a running controller, before `$I`
        ([BANNER], "Grbl 1.1h"),
        (["[VER:1.1h.20190830:]"], "Grbl 1.1h.20190830"),  # no banner: the board did not reset
        # A reset after `$I`: the banner's shorter name must not undo the build's detail.
        (["[VER:1.1h.20190830:]", BANNER, IDLE], "Grbl 1.1h.20190830"),
        (["[VER:1.1h.20190830:]", "Grbl 1.1i ['$' for help]"], "Grbl 1.1i"),  # flashed anew
        (
            ["GrblHAL 1.1f ['$' or '$HELP' for help]", "[VER:1.1f.20230130:]"],
            "GrblHAL 1.1f.20230130",
        ),
        (["Grbl 4.0 [FluidNC v4.0.3 (wifi) '$' for help]"], "FluidNC v4.0.3 (wifi)"),
        (["[VER:3.7 FluidNC v3.7.10:]"], "FluidNC v3.7.10"),
    ],
)
def test_the_view_names_the_firmware_as_the_controller_does(
    lines: list[str], firmware: str
) -> None:
    assert feed(GrblMachine(laser=False), lines).firmware == firmware


def test_job_ids_are_fresh_for_each_job() -> None:
    machine = GrblMachine(laser=False)
    first = feed(machine, [RUN])
    feed(machine, ["[MSG:Pgm End]", IDLE, RUN], start=1.0)
    assert first.job is not None and machine.view.job is not None
    assert first.job.job_id != machine.view.job.job_id


# Lines to fuzz with: real ones and pieces of them.
LINES = [
    IDLE,
    RUN,
    HOLD,
    BANNER,
    FLUIDNC,
    "ok",
    "error:9",
    "ALARM:1",
    "ALARM:3",
    "[MSG:Pgm End]",
    "[MSG:Reset to continue]",
    "[MSG:'$H'|'$X' to unlock]",
    "<Idle|MPos:0,0,0|FS:0,0|Ov:100,100,100|A:S>",
    "<Run|MPos:0,0,0|FS:800,300|Ov:100,100,100>",
    "<Jog|MPos:0,0,0|FS:500,0>",
    "<Alarm|MPos:56.178,178.152,-32.000|Bf:0,1023|FS:0,0|A:>",
    "<Door:1|WPos:3.300,4.965,21.000|Bf:0,1023|FS:0,0|Pn:D>",
    "<Run|MPos:0,0,0|FS:100,0|SD:12.5,/jobs/sign.nc>",
    "$30=1000",
    "$13=1",
    "[VER:1.1h.20190830:]",
]


@st.composite
def wire_lines(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(LINES))
    kind = draw(st.sampled_from(["whole", "cut", "noise"]))
    if kind == "cut":
        return line[: draw(st.integers(0, len(line)))]
    if kind == "noise":
        return decode(draw(st.binary(max_size=12)))
    return line


@settings(max_examples=300)
@given(st.booleans(), st.lists(st.tuples(wire_lines(), st.floats(0.0, 10.0)), max_size=60))
def test_any_sequence_keeps_the_views_consistent(
    laser: bool, steps: list[tuple[str, float]]
) -> None:
    machine = GrblMachine(laser=laser, idle_end_s=3.0)
    now = 0.0
    ended: set[str] = set()
    current: str | None = None
    for line, gap in steps:
        now += gap
        view = machine.feed(parse_line(line), now)
        if view is None:
            continue
        assert view.job is None or view.outcome is None
        assert view.state is not MachineState.ALARM or view.job is None
        job_id = view.job.job_id if view.job else None
        if job_id != current and current is not None:
            ended.add(current)
        assert job_id not in ended
        current = job_id
        if laser:
            assert view.busy == (view.metrics.get("laser_power", 0.0) > 0)
