"""Whole jobs on a mill and a laser: the simulator on a pty, the real link, a recording sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from firmware_bridge.grbl.link import GrblLink
from firmware_bridge.grbl.sim import GrblSimulator
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.simport import PtyServer
from tests.firmware_bridge.recording import RecordingSink

POLL_S = 0.2  # the fastest the link allows: 5 Hz


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@contextmanager
def following(
    server: PtyServer,
    path: str | None = None,
    laser: bool = False,
    retry_s: float = 0.5,
    silent_s: float = 120.0,
) -> Iterator[tuple[GrblLink, RecordingSink]]:
    """A `GrblLink` following `path` (the server's pty by default) on its own thread."""
    link = GrblLink(
        path or server.path, laser=laser, poll_s=POLL_S, retry_s=retry_s, silent_s=silent_s
    )
    sink = RecordingSink()
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(sink, stop), daemon=True)
    thread.start()
    try:
        yield link, sink
    finally:
        asked = time.monotonic()
        stop.set()
        thread.join(2.0)
        assert not thread.is_alive() and time.monotonic() - asked < 0.5


def state_is(sink: RecordingSink, state: MachineState) -> Callable[[], bool]:
    def check() -> bool:
        latest = sink.latest()
        return latest is not None and latest.state is state

    return check


def test_a_mill_job_with_a_hold_is_timed_by_its_spindle() -> None:
    sim = GrblSimulator(laser=False)
    started = time.monotonic()
    with PtyServer(sim) as server, following(server) as (link, sink):
        wait_for(lambda: link.machine.fingerprint.version is not None)  # `$I` once idle
        with server.lock:
            truth = sim.start_job("pocket.nc", 1.6)
        wait_for(lambda: sink.busy_seconds() > 0.6)
        with server.lock:
            sim.hold()  # and spindle stop once held, as an operator does
        wait_for(state_is(sink, MachineState.PAUSED))
        paused_at = time.monotonic()
        wait_for(lambda: time.monotonic() - paused_at > 0.8)
        with server.lock:
            sim.resume()
        wait_for(lambda: truth.outcome is not None and sink.jobs()[-1][2] is not None)

    jobs = sink.jobs()
    assert len(jobs) == 1 and jobs[0][3] is JobOutcome.COMPLETED  # ended by `[MSG:Pgm End]`
    paused = [view for _, view in sink.views if view.state is MachineState.PAUSED]
    assert len(paused) >= 3 and not any(view.busy for view in paused[1:])
    assert all(view.job == jobs[0][0] for view in paused)
    assert abs(sink.busy_seconds() - truth.busy_s) < 1.0
    assert truth.busy_s < 2.0  # the spindle stood still during the pause
    assert sink.unknowns == [] and sink.offlines == []
    assert link.machine.fingerprint.options is not None
    # The link wrote `?` and one `$I`: nothing that could move, stop or reset the machine.
    assert set(sim.host_bytes) == set(b"?$I\n")
    assert sim.host_bytes[ord("\n")] == 1 and list(sim.host_lines) == ["$I"]
    assert sim.host_bytes[ord("?")] <= (time.monotonic() - started) * 5 + 1


def test_a_laser_job_is_timed_by_its_firing_not_its_motion() -> None:
    sim = GrblSimulator(laser=True)
    with PtyServer(sim) as server, following(server, laser=True) as (_link, sink):
        wait_for(state_is(sink, MachineState.IDLE))
        with server.lock:
            truth = sim.start_job("engrave.nc", 2.5)
        wait_for(
            lambda: (
                truth.outcome is not None and bool(sink.jobs()) and sink.jobs()[-1][2] is not None
            )
        )

    jobs = sink.jobs()
    assert len(jobs) == 1 and jobs[0][3] is JobOutcome.COMPLETED
    assert truth.end is not None
    run_s = truth.end - truth.start
    assert truth.busy_s < run_s - 0.5  # travels (G0) do not fire
    assert abs(sink.busy_seconds() - truth.busy_s) < 1.0
    _, start, end, _ = jobs[0]
    assert end is not None and abs((end - start) - run_s) < 0.5
    assert any(view.metrics.get("laser_power", 0.0) > 0 for _, view in sink.views)
