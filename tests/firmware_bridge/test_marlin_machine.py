"""Marlin transcripts folded into controller views: SD jobs, pauses, alarms, temperatures."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.marlin.machine import MarlinMachine
from firmware_bridge.marlin.parse import parse
from firmware_bridge.model import ControllerView, JobOutcome, MachineState


def feed(machine: MarlinMachine, *lines: str) -> ControllerView:
    for line in lines:
        for message in parse(line):
            machine.feed(message)
    return machine.view()


M115_ENDER = (
    # An Ender 5 Pro's M115 answer, from OctoPrint's test_parse_firmware_line table:
    "FIRMWARE_NAME:Marlin 2.0.7.2 (Nov 27 2020 14:30:11) "
    "SOURCE_CODE_URL:https://github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
    "MACHINE_TYPE:Ender 5 Pro EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"
)


@pytest.mark.parametrize(
    ("lines", "firmware"),
    [
        ((), ""),
        ((M115_ENDER, "Cap:AUTOREPORT_TEMP:1", "ok"), "Marlin 2.0.7.2 (Nov 27 2020 14:30:11)"),
        (("NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02", "ok"), "Malyan 2.9"),
        # A reset before the link asks M115 again: the same firmware is booting.
        (
            (M115_ENDER, "ok", "start", "echo:Marlin 2.0.7.2"),
            "Marlin 2.0.7.2 (Nov 27 2020 14:30:11)",
        ),
        (
            (M115_ENDER, "FIRMWARE_NAME:Marlin 2.1.2.4 (Jun 1 2024) PROTOCOL_VERSION:1.0"),
            "Marlin 2.1.2.4 (Jun 1 2024)",
        ),
    ],
)
def test_the_view_names_the_firmware_from_m115(lines: tuple[str, ...], firmware: str) -> None:
    assert feed(MarlinMachine(), *lines).firmware == firmware


def test_an_sd_print_from_start_to_end() -> None:
    # OctoPrint/OctoPrint#30: M23 then M24 on Marlin 1.0, M27 polled.
    machine = MarlinMachine()
    idle = feed(machine, "File opened:box1.gco Size:193158", "File selected", "ok")
    assert idle.state is MachineState.IDLE and idle.job is None

    running = feed(machine, "ok", "SD printing byte 534/193158", "ok")
    assert running.state is MachineState.RUNNING and running.busy
    assert running.job is not None
    assert running.job.name == "box1.gco"
    assert running.job.progress == 534 / 193158

    later = feed(machine, "SD printing byte 96579/193158", "ok")
    assert later.job is not None and later.job.job_id == running.job.job_id
    assert later.job.progress == 0.5

    done = feed(machine, "Done printing file")
    assert done.state is MachineState.IDLE and not done.busy
    assert done.job is None and done.outcome is JobOutcome.COMPLETED


def test_a_print_started_at_the_lcd_needs_a_rising_position() -> None:
    machine = MarlinMachine()
    # Attached mid-print: one report says nothing about whether the file is being read.
    assert feed(machine, "SD printing byte 1000/50000").job is None
    assert feed(machine, "SD printing byte 1000/50000").job is None  # paused at the LCD
    view = feed(machine, "SD printing byte 1200/50000")
    assert view.job is not None and view.job.name == ""
    assert view.busy

    # From `Not SD printing`, the first position above zero is a start.
    other = MarlinMachine()
    assert feed(other, "Not SD printing", "SD printing byte 10/50000").busy


def test_job_ids_stay_for_the_job_and_change_between_jobs() -> None:
    machine = MarlinMachine()
    ids = []
    for name in ("a.gco", "b.gco", "a.gco"):
        view = feed(machine, f"File opened: {name} Size: 100", "File selected")
        view = feed(machine, "SD printing byte 5/100", "SD printing byte 50/100")
        assert view.job is not None
        ids.append(view.job.job_id)
        assert feed(machine, "Done printing file").job is None
    assert len(set(ids)) == 3
    assert all(name.split("#")[0] in ("a.gco", "b.gco") for name in ids)


def _printing(machine: MarlinMachine) -> ControllerView:
    view = feed(machine, "File opened: cube.gco Size: 10000", "File selected")
    view = feed(machine, "SD printing byte 100/10000")
    assert view.job is not None
    return view


def test_pause_and_resume_by_host_actions() -> None:
    machine = MarlinMachine()
    job = _printing(machine).job
    paused = feed(machine, "//action:paused", "echo:busy: paused for user")
    assert paused.state is MachineState.PAUSED and not paused.busy
    assert paused.job == job  # still the same job

    # While paused the file position may have moved a little before the pause: not a resume.
    still = feed(machine, "SD printing byte 150/10000", "SD printing byte 150/10000")
    assert still.state is MachineState.PAUSED
    # Busy lines keep the host alive; they are no resume after an explicit pause.
    assert feed(machine, "echo:busy: processing").state is MachineState.PAUSED

    resumed = feed(machine, "//action:resumed")
    assert resumed.state is MachineState.RUNNING and resumed.busy
    assert resumed.job is not None and job is not None
    assert resumed.job.job_id == job.job_id


def test_pause_for_the_user_by_busy_lines() -> None:
    # M600 inside the G-code: Marlin only says `busy: paused for user` every 2 s.
    machine = MarlinMachine()
    _printing(machine)
    assert feed(machine, "echo:busy: paused for user").state is MachineState.PAUSED
    assert feed(machine, "echo:busy: paused for user").state is MachineState.PAUSED
    assert feed(machine, "echo:busy: processing").state is MachineState.RUNNING


def test_reading_again_ends_a_pause_nobody_announced() -> None:
    machine = MarlinMachine()
    _printing(machine)
    feed(machine, "//action:pause")
    assert feed(machine, "SD printing byte 200/10000").state is MachineState.PAUSED
    assert feed(machine, "SD printing byte 260/10000").state is MachineState.RUNNING


def test_silence_and_busy_never_mean_idle() -> None:
    machine = MarlinMachine()
    _printing(machine)
    lines = ["echo:busy: processing", "wait", "ok", "echo:SD card ok", "Wait for bed heating..."]
    for _ in range(20):
        view = feed(machine, *lines)
        assert view.state is MachineState.RUNNING and view.busy


def test_cancel_from_the_printer() -> None:
    machine = MarlinMachine()
    _printing(machine)
    view = feed(machine, "//action:cancel")
    assert view.job is None and view.outcome is JobOutcome.CANCELLED
    assert feed(machine, "Not SD printing").outcome is JobOutcome.CANCELLED


def test_a_closed_file_ends_the_job_after_two_reports() -> None:
    machine = MarlinMachine()
    _printing(machine)
    assert feed(machine, "Not SD printing").job is not None  # one report may be a glitch
    view = feed(machine, "Not SD printing")
    assert view.job is None and view.outcome is JobOutcome.CANCELLED

    _printing(machine)
    feed(machine, "SD printing byte 10000/10000")
    view = feed(machine, "SD printing byte 0/0", "SD printing byte 0/0")  # older Marlins
    assert view.outcome is JobOutcome.COMPLETED


def test_a_job_that_ended_while_the_link_was_down_is_interrupted() -> None:
    machine = MarlinMachine()
    _printing(machine)
    machine.link_lost()
    view = feed(machine, "Not SD printing", "Not SD printing")
    assert view.outcome is JobOutcome.INTERRUPTED

    # ...but a job that went on reading is the same job, not interrupted.
    job = _printing(machine).job
    machine.link_lost()
    view = feed(machine, "SD printing byte 500/10000")
    assert view.job is not None and job is not None
    assert (view.job.job_id, view.job.progress) == (job.job_id, 0.05)
    view = feed(machine, "Not SD printing", "Not SD printing")
    assert view.outcome is JobOutcome.CANCELLED


def test_another_file_means_the_last_one_ended_unseen() -> None:
    machine = MarlinMachine()
    first = _printing(machine).job
    view = feed(machine, "SD printing byte 50/777")
    assert view.job is not None and first is not None
    assert view.job.job_id != first.job_id


def test_thermal_runaway_is_an_alarm_that_ends_the_job() -> None:
    # knutwurst/Marlin-2-0-x-Anycubic-i3-MEGA-S#289, Pronterface's log of the event.
    machine = MarlinMachine()
    _printing(machine)
    view = feed(
        machine,
        "ok T:177.52 /195.00 B:48.17 /45.00 @:127 B@:0",
        "Error:Thermal Runaway, system stopped! Heater_ID: E0",
        "echo:THERMAL RUNAWAY",
        "Error:Printer halted. kill() called!",
        "//action:poweroff",
    )
    assert view.state is MachineState.ALARM and not view.busy
    assert view.job is None and view.outcome is JobOutcome.ERROR
    assert view.alarm == "marlin_thermal_runaway"
    assert "Heater_ID: E0" in view.alarm_message
    assert "kill() called" in view.alarm_message

    # The board restarts: the alarm is gone, the outcome stays with the last job.
    after = feed(machine, "start", "echo:Marlin 2.0.9.3")
    assert after.state is MachineState.IDLE and after.alarm is None
    assert after.outcome is JobOutcome.ERROR


def test_a_split_mintemp_error_joins() -> None:
    # MarlinFirmware/Marlin#2452, Marlin 1.0 at boot with a broken thermistor.
    machine = MarlinMachine()
    view = feed(
        machine,
        "Error:0",
        ": Extruder switched off. MINTEMP triggered !",
        "Error:Printer stopped due to errors. Fix the error and use M999 to restart. "
        "(Temperature is reset. Set it after restarting)",
    )
    assert view.alarm == "marlin_mintemp"
    assert view.alarm_message.startswith("0: Extruder switched off. MINTEMP triggered !")


def test_communication_errors_are_no_alarm() -> None:
    machine = MarlinMachine()
    _printing(machine)
    view = feed(
        machine,
        "Error:checksum mismatch, Last Line: 5",
        "Resend: 6",
        "ok",
        'echo:Unknown command: "M4242"',
        "Error: volume.init failed",
    )
    assert view.state is MachineState.RUNNING and view.alarm is None


def test_a_reset_mid_job_interrupts_it() -> None:
    # OctoPrint's virtual printer reset lines, garbage byte included.
    machine = MarlinMachine()
    _printing(machine)
    view = feed(machine, "start", "Marlin: Virtual Marlin!", "\ufffd", "SD card ok")
    assert view.job is None and view.outcome is JobOutcome.INTERRUPTED


def test_temperatures_in_the_view() -> None:
    machine = MarlinMachine()
    view = feed(machine, "ok T:23.0/220.0 T0:23.0/220.0 T1:50.2/210.0 T2:39.4/220.0 B:60.0")
    assert view.temperatures == {"nozzle": 23.0, "t1": 50.2, "t2": 39.4, "bed": 60.0}
    assert view.metrics["nozzle_target_c"] == 220.0 and "bed_target_c" not in view.metrics

    # An M114 reply never changes the bed (MarlinFirmware/Marlin#10735).
    view = feed(machine, "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20")
    assert view.temperatures["bed"] == 60.0

    # A thermistor that reads far below zero is disconnected: no reading at all.
    view = feed(machine, "ok T:-55.7/0 T0:-55.7/0 T1:150.0/210.0")
    assert "nozzle" not in view.temperatures and view.temperatures["t1"] == 150.0

    # Prusa MK3: the probe and ambient sensors, PWM ignored.
    view = feed(machine, "T:240.4 /240.0 B:83.8 /85.0 T0:240.4 /240.0 @:24 B@:63 P:0.0 A:38.9")
    assert view.temperatures["probe"] == 0.0 and view.temperatures["ambient"] == 38.9
    assert view.temperatures["nozzle"] == 240.4 and view.temperatures["bed"] == 83.8


def test_prusa_progress_beats_the_byte_ratio() -> None:
    machine = MarlinMachine()
    _printing(machine)
    view = feed(
        machine,
        "SILENT MODE: Percent done: 40; print time remaining in mins: 33; Change in mins: -1",
        "NORMAL MODE: Percent done: 42; print time remaining in mins: 30; Change in mins: -1",
        "SILENT MODE: Percent done: 41; print time remaining in mins: 31; Change in mins: -1",
    )
    assert view.job is not None and view.job.progress == 0.42
    assert view.metrics["remaining_s"] == 1800.0
    view = feed(machine, "echo:Print time: 1h 2m 3s")
    assert view.metrics["print_time_s"] == 3723.0


# -- anything at all ------------------------------------------------------------------------

POOL = [
    "ok",
    "wait",
    "start",
    "File opened: x.gco Size: 1000",
    "File selected",
    "Not SD printing",
    "Done printing file",
    "SD printing byte 0/0",
    "//action:paused",
    "//action:pause",
    "//action:resumed",
    "//action:cancel",
    "echo:busy: paused for user",
    "echo:busy: processing",
    "Error:0",
    ": Extruder switched off. MAXTEMP triggered !",
    "Error:Thermal Runaway, system stopped! Heater_ID: E0",
    "Error:Printer halted. kill() called!",
    "Error:checksum mismatch, Last Line: 3",
    "Resend: 4",
    "ok T:23.0/220.0 T0:23.0/220.0 T1:50.2/210.0 B:60.0",
    "ok T:-55.7/0 T0:-55.7/0 T1:150.0/210.0",
    "NORMAL MODE: Percent done: 42; print time remaining in mins: 30; Change in mins: -1",
    "NORMAL MODE: Percent done: 420; print time remaining in mins: -5",
    "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20",
    "T:190.26 /190.00 B:59.98 /60.00 T0:190.10 /190.00 @:64 B@:18 @0:65 @N7531ok N7531 P0 B3",
]

lines = st.one_of(
    st.sampled_from(POOL),
    st.builds(
        "SD printing byte {}/{}".format,
        st.integers(min_value=0, max_value=2000),
        st.integers(min_value=0, max_value=2000),
    ),
    st.text(max_size=40),
)


def _consistent(view: ControllerView) -> None:
    if view.job is None:
        assert not view.busy
    else:
        assert view.outcome is None
        progress = view.job.progress
        assert progress is None or 0.0 <= progress <= 1.0
    if view.busy:
        assert view.state is MachineState.RUNNING
    if view.state is MachineState.PAUSED:
        assert view.job is not None
    if view.alarm is not None:
        assert re.fullmatch(r"[a-z0-9_]+", view.alarm)
        assert view.state is MachineState.ALARM
    assert all(value >= 0 for value in view.temperatures.values())


@given(st.lists(lines, max_size=60))
def test_any_sequence_of_lines_keeps_views_consistent(sequence: list[str]) -> None:
    machine = MarlinMachine()
    seen: list[str] = []
    for line in sequence:
        if line == "//action:cancel":
            machine.link_lost()  # the link may drop at any point too
        view = feed(machine, line)
        _consistent(view)
        if view.job is not None and (not seen or seen[-1] != view.job.job_id):
            assert view.job.job_id not in seen  # a job id is never reused
            seen.append(view.job.job_id)
