"""The GRBL simulator on its own clock: report cadence, homing silence, resets, truth."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import BridgeError
from firmware_bridge.grbl.parse import Status, Unknown, parse_line
from firmware_bridge.grbl.sim import CYCLE_S, TRAVEL_SHARE, GrblSimulator, program
from firmware_bridge.model import JobOutcome


class Bench:
    """A simulator ticked by hand, 10 ms at a time, as the pty server ticks it."""

    def __init__(self, laser: bool = False) -> None:
        self.sim = GrblSimulator(laser=laser)
        self.now = 100.0
        self.sim.tick(self.now)

    def run(self, seconds: float) -> list[str]:
        lines: list[str] = []
        for _ in range(round(seconds / 0.01)):
            self.now += 0.01
            self.sim.tick(self.now)
            lines += self.sim.take_output().decode().splitlines()
        return lines

    def send(self, data: bytes, settle: float = 0.02) -> list[str]:
        self.sim.receive(data)
        return self.run(settle)

    def poll(self, count: int, every: float = 0.2) -> list[str]:
        reports: list[str] = []
        for _ in range(count):
            reports += self.send(b"?", settle=every)
        return reports


def fields(report: str) -> set[str]:
    return {field.partition(":")[0] for field in report.strip("<>").split("|")[1:]}


def test_idle_cadence_wco_every_ten_then_ov_one_report_later() -> None:
    bench = Bench()
    reports = bench.poll(25)
    assert len(reports) == 25
    wco = [i for i, r in enumerate(reports) if "WCO" in fields(r)]
    ov = [i for i, r in enumerate(reports) if "Ov" in fields(r)]
    assert wco == [0, 10, 20]
    assert ov == [1, 11, 21]  # delayed one report behind WCO, as in martin2250/OpenCNCPilot#6
    assert all("A" not in fields(r) for r in reports)  # nothing is on


def test_busy_cadence_and_accessories_only_with_overrides() -> None:
    bench = Bench()
    bench.poll(3)
    bench.sim.start_job("long.nc", 30.0)
    reports = bench.poll(45, every=0.1)
    ov = [i for i, r in enumerate(reports) if "Ov" in fields(r)]
    assert ov[0] == 0  # the spindle change is reported on the next report
    assert [b - a for a, b in itertools.pairwise(ov)] == [20, 20]
    wco = [i for i, r in enumerate(reports) if "WCO" in fields(r)]
    assert [b - a for a, b in itertools.pairwise(wco)] == [30]
    with_a = [r for r in reports if "A" in fields(r)]
    assert with_a and all("Ov" in fields(r) and "|A:S" in r for r in with_a)


def test_two_queries_before_a_report_give_one_report() -> None:
    bench = Bench()
    assert len(bench.send(b"??")) == 1
    assert len(bench.send(b"?") + bench.send(b"?")) == 2


def test_homing_is_silent_then_one_late_report_and_ok() -> None:
    bench = Bench()
    bench.sim.receive(b"$H\n")
    silent = bench.poll(5)  # one second of asking
    assert silent == []
    after = bench.run(1.2)
    assert after[0].startswith("<Home|") and after[1] == "ok"  # gnea/grbl#1061
    assert bench.poll(1)[0].startswith("<Idle|")


def test_line_commands_answer_like_grbl() -> None:
    bench = Bench(laser=True)
    assert bench.send(b"$I\n") == ["[VER:1.1h.20190830:]", "[OPT:V,15,128]", "ok"]
    settings_lines = bench.send(b"$$\n")
    assert "$32=1" in settings_lines and settings_lines[-1] == "ok"
    assert bench.send(b"$G\n")[0].startswith("[GC:G0 G54")
    assert bench.send(b"G1 X10 F100\n") == ["ok"]
    assert bench.send(b"$Q\n") == ["error:3"]
    assert bench.send(b"\n") == ["ok"]  # an empty line is acknowledged too


def test_reset_while_moving_raises_alarm_3_and_locks() -> None:
    bench = Bench()
    truth = bench.sim.start_job("cut.nc", 5.0)
    bench.run(0.5)
    lines = bench.send(b"\x18")
    assert lines == ["ALARM:3", "Grbl 1.1h ['$' for help]", "[MSG:'$H'|'$X' to unlock]"]
    assert truth.outcome is JobOutcome.INTERRUPTED and truth.end == pytest.approx(bench.now - 0.02)
    assert bench.send(b"G0 X0\n") == ["error:9"]
    assert bench.send(b"$X\n") == ["[MSG:Caution: Unlocked]", "ok"]
    assert bench.send(b"\x18") == ["Grbl 1.1h ['$' for help]"]  # at rest: just the banner


def test_hard_limit_stops_reports_until_reset() -> None:
    bench = Bench()
    truth = bench.sim.start_job("cut.nc", 5.0)
    bench.run(0.3)
    bench.sim.alarm(1)
    assert bench.run(0.02) == ["ALARM:1", "[MSG:Reset to continue]"]
    assert bench.poll(3) == []  # a critical alarm answers nothing
    assert truth.outcome is JobOutcome.ERROR
    assert bench.send(b"\x18")[-1] == "[MSG:'$H'|'$X' to unlock]"
    assert bench.poll(1)[0].startswith("<Alarm|")


def test_mill_hold_stops_the_spindle_and_resume_restores_it() -> None:
    bench = Bench()
    truth = bench.sim.start_job("pocket.nc", 1.0)
    bench.run(0.5)
    bench.sim.receive(b"!")
    reports = bench.poll(3)
    assert reports[0].startswith("<Hold:") and reports[-1].startswith("<Hold:0|")
    assert any("Ov" in fields(r) and "A" not in fields(r) for r in reports)
    assert all("FS:0,0" in r for r in reports[1:])
    bench.run(1.0)  # a pause with the spindle stopped costs nothing
    assert bench.send(b"~")[0] == "[MSG:Restoring spindle]"
    lines = bench.run(0.6)
    assert lines == ["[MSG:Pgm End]"]
    assert truth.outcome is JobOutcome.COMPLETED
    held = 0.1  # the deceleration, spindle still on
    assert truth.busy_s == pytest.approx(1.0 + held, abs=0.03)


def test_laser_fires_only_in_cuts_and_scales_power_in_ramps() -> None:
    bench = Bench(laser=True)
    truth = bench.sim.start_job("engrave.nc", 2.0)
    reports = bench.poll(40, every=0.05)
    statuses = [parse_line(r) for r in reports if r.startswith("<")]
    speeds = [s.speed for s in statuses if isinstance(s, Status)]
    assert {0.0, 500.0, 1000.0} <= set(speeds)
    assert truth.outcome is JobOutcome.COMPLETED
    assert truth.busy_s == pytest.approx(2.0 * (1 - TRAVEL_SHARE), abs=0.03)
    assert truth.end is not None and truth.end - truth.start == pytest.approx(2.0, abs=0.02)


def test_program_alternates_travels_and_cuts() -> None:
    segments = program(2.5)
    assert [s.cut for s in segments] == [False, True, False, True, False, True]
    assert sum(s.duration_s for s in segments) == pytest.approx(2.5)
    assert segments[0].duration_s == pytest.approx(CYCLE_S * TRAVEL_SHARE)


def test_autoplay_runs_jobs_by_itself() -> None:
    bench = Bench()
    bench.sim.autoplay(every_s=0.5, duration_s=0.5)
    bench.run(2.3)
    assert [job.outcome for job in bench.sim.jobs] == [JobOutcome.COMPLETED] * 2
    bench.sim.start_job("manual.nc", 1.0)
    with pytest.raises(BridgeError):
        bench.sim.start_job("twice.nc", 1.0)  # one is running


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=30), st.booleans())
def test_any_bytes_from_a_host_get_well_formed_answers(chunks: list[bytes], laser: bool) -> None:
    bench = Bench(laser=laser)
    bench.sim.start_job("fuzz.nc", 0.3)
    lines: list[str] = []
    for chunk in chunks:
        bench.sim.receive(chunk)
        bench.now += 0.05
        bench.sim.tick(bench.now)
        lines += bench.sim.take_output().decode("ascii").splitlines()
    parsed = [parse_line(line) for line in lines if line]
    assert not [p for p in parsed if isinstance(p, Unknown)]
    assert all(p.state for p in parsed if isinstance(p, Status))
