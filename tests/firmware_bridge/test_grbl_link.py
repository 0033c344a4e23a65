"""The GRBL link through faults: alarms, resets, homing silence, an unplugged port, noise."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import LineFramer
from firmware_bridge.grbl.link import GrblSession
from firmware_bridge.grbl.machine import GrblMachine
from firmware_bridge.grbl.parse import Unknown, parse_line
from firmware_bridge.grbl.sim import GrblSimulator, serve
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.simport import PtyServer
from tests.firmware_bridge.recording import RecordingSink
from tests.firmware_bridge.test_grbl_jobs import following, state_is, wait_for


def test_alarm_reset_and_homing_as_the_link_sees_them() -> None:
    sim = GrblSimulator(laser=False)
    with PtyServer(sim) as server, following(server) as (_link, sink):
        wait_for(state_is(sink, MachineState.IDLE))
        # A hard limit mid-job: ALARM:1, then GRBL answers nothing until a reset.
        with server.lock:
            sim.start_job("crash.nc", 5.0)
        wait_for(lambda: len(sink.jobs()) == 1)
        with server.lock:
            sim.alarm(1)
        wait_for(state_is(sink, MachineState.ALARM))
        with server.lock:
            sim.reset()
            sim.unlock()
        wait_for(state_is(sink, MachineState.IDLE))
        # A reset while cutting: ALARM:3 and the banner.
        with server.lock:
            sim.start_job("stopped.nc", 5.0)
        wait_for(lambda: len(sink.jobs()) == 2)
        with server.lock:
            sim.reset()
            sim.unlock()
        wait_for(lambda: sink.jobs()[-1][2] is not None)
        wait_for(state_is(sink, MachineState.IDLE))
        # Homing: not one answer to `?` for a second, and that is not idleness.
        with server.lock:
            sim.home(1.0)
            homing_from = time.monotonic()
        wait_for(lambda: sink.views[-1][0] > homing_from + 1.0, timeout=3.0)
        homing_to = homing_from + 1.0

    jobs = sink.jobs()
    assert [outcome for *_, outcome in jobs] == [JobOutcome.ERROR, JobOutcome.INTERRUPTED]
    alarms = [view.alarm for _, view in sink.views if view.alarm]
    assert alarms[0] == "grbl_alarm_1" and "grbl_alarm_3" in alarms
    during = [at for at, _ in sink.views if homing_from + 0.3 < at < homing_to - 0.05]
    assert during == []
    assert sink.offlines == [] and sink.unknowns == []


def test_an_unplugged_port_is_reported_once_then_followed_again(tmp_path: Path) -> None:
    # The link follows a stable name, as udev's /dev/serial/by-id/ links give.
    stable = tmp_path / "ttyGRBL"
    first = PtyServer(GrblSimulator(laser=False)).start()
    os.symlink(first.path, stable)
    try:
        with following(first, path=str(stable), retry_s=0.05) as (link, sink):
            wait_for(state_is(sink, MachineState.IDLE))
            first.stop()
            wait_for(lambda: len(sink.offlines) == 1)
            tried = link.connections_tried
            wait_for(lambda: link.connections_tried >= tried + 3)
            assert len(sink.offlines) == 1  # one outage, one report, however many retries
            with PtyServer(GrblSimulator(laser=False)) as second:
                stable.unlink()
                os.symlink(second.path, stable)
                back = time.monotonic()
                wait_for(lambda: sink.views[-1][0] > back, timeout=3.0)
    finally:
        first.stop()
    assert "ttyGRBL" in sink.offlines[0][1]


def test_silence_without_homing_eventually_reads_as_offline() -> None:
    sim = GrblSimulator(laser=False)
    with PtyServer(sim) as server, following(server, silent_s=0.6) as (_link, sink):
        wait_for(state_is(sink, MachineState.IDLE))
        with server.lock:
            sim.home(60.0)  # a homing cycle that never ends: a controller gone mute
        wait_for(lambda: len(sink.offlines) == 1)
        muted_at = sink.offlines[0][0]
        with server.lock:
            sim.reset()  # ALARM:6, homing reset: the controller speaks again, locked
        wait_for(lambda: sink.views[-1][0] > muted_at and state_is(sink, MachineState.ALARM)())
    assert "no answer" in sink.offlines[0][1]
    assert sink.views[-1][1].alarm == "grbl_alarm_6"
    homing = [at for at, _ in sink.views if muted_at - 0.3 < at < muted_at]
    assert homing == []  # silent to the end, and never an idle view meanwhile


def test_serve_gives_a_controller_that_runs_jobs_by_itself() -> None:
    server = serve(laser=True, every_s=0.2, duration_s=0.3)
    try:
        with following(server, laser=True) as (_link, sink):
            wait_for(lambda: any(end is not None for _, _, end, _ in sink.jobs()))
    finally:
        server.stop()
    assert sink.jobs()[0][3] is JobOutcome.COMPLETED


# Real lines the link may get, in any order: replies overtaking reports (terjeio/grblHAL#72).
WIRE = [
    b"<Idle|MPos:0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000>\r\n",
    b"<Run|MPos:12.788,0.000,0.000|FS:8100,0>\r\n",
    b"<Run|MPos:71.075,0.000,-0.521|Bf:12,127|FS:246,12000|Ov:100,100,100|A:S>\r\n",
    b"<Hold:0|MPos:-128.925,0.000,0.800|Bf:15,125|FS:0,0|WCO:0.000,0.000,0.000>\r\n",
    b"ok\r\n",
    b"error:22\r\n",
    b"ALARM:1\r\n",
    b"[MSG:Reset to continue]\r\n",
    b"\x80\xffGrbl 1.1h ['$' for help]\r\n",
    b"[MSG:Pgm End]\r\n",
    b"[VER:1.1h.20190830:]\r\n",
    b">G54G20:ok\r\n",
    b"<Alarm|MPos:56.178,178.152,-32.000|Bf:0,1023|FS:0,0|A:>\r\n",
]


def expected_unknowns(stream: bytes) -> int:
    lines = LineFramer().feed(stream)
    return sum(1 for line in lines if line.strip() and isinstance(parse_line(line), Unknown))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(WIRE), st.binary(max_size=40)), max_size=40),
    st.lists(st.integers(1, 64), min_size=1, max_size=10),
    st.booleans(),
)
def test_any_byte_stream_is_counted_not_crashed(
    pieces: list[bytes], cuts: list[int], laser: bool
) -> None:
    stream = b"".join(pieces)
    session = GrblSession(GrblMachine(laser=laser))
    sink = RecordingSink()
    at, now, index = 0, 0.0, 0
    while at < len(stream):  # reads of any size split lines anywhere
        size = cuts[index % len(cuts)]
        session.receive(stream[at : at + size], now, sink)
        at, now, index = at + size, now + 0.05, index + 1
    assert len(sink.unknowns) == expected_unknowns(stream)
    assert all(view.job is None or view.outcome is None for _, view in sink.views)
