"""Whole SD prints on a virtual Marlin behind a pty, followed by the real `MarlinLink`.

Each test compares what the link reported (stamped by the sink on the monotonic clock) with
the simulator's own truth (on the same clock): printing time within 1 s, one start and one
end per job, the right outcome.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from firmware_bridge.marlin.link import MarlinLink
from firmware_bridge.marlin.sim import MarlinSimulator, SimJob
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.simport import PtyServer
from tests.firmware_bridge.recording import RecordingSink

FAST = {"poll_s": 0.5, "autoreport_s": 1}


def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not met within {timeout} s"
        time.sleep(0.01)


@contextmanager
def following(
    server: PtyServer, path: str | None = None, **options: Any
) -> Iterator[tuple[MarlinLink, RecordingSink]]:
    """The link running on its own thread against `server` (or `path`), stopped at the end."""
    link = MarlinLink(path or server.path, **{**FAST, **options})
    sink = RecordingSink()
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(sink, stop), daemon=True)
    thread.start()
    try:
        yield link, sink
    finally:
        stopped_at = time.monotonic()
        stop.set()
        thread.join(3.0)
        assert not thread.is_alive()
        assert time.monotonic() - stopped_at < 1.0  # `stop` is honoured promptly


@contextmanager
def printer(
    sim: MarlinSimulator, **options: Any
) -> Iterator[tuple[PtyServer, MarlinLink, RecordingSink]]:
    """A served simulator and a link that has finished its handshake."""
    with PtyServer(sim) as server, following(server, **options) as (link, sink):
        until(lambda: link.stats.lines > 0 and sink.latest() is not None, what="first view")
        until(lambda: _handshake_done(server, sim), what="handshake")
        yield server, link, sink


def _handshake_done(server: PtyServer, sim: MarlinSimulator) -> bool:
    with server.lock:
        received = list(sim.received)
    return "M115" in received and any(c.startswith(("M27", "M105")) for c in received[1:])


def _sent(server: PtyServer, sim: MarlinSimulator, command: str) -> int:
    with server.lock:
        return sim.received.count(command)


def run(server: PtyServer, action: Callable[[], object]) -> None:
    with server.lock:
        action()


def finished(server: PtyServer, job: SimJob) -> Callable[[], bool]:
    def check() -> bool:
        with server.lock:
            return job.end is not None

    return check


def reported_end(sink: RecordingSink) -> Callable[[], bool]:
    def check() -> bool:
        latest = sink.latest()
        return latest is not None and latest.job is None and latest.outcome is not None

    return check


def assert_one_job(sink: RecordingSink, job: SimJob, outcome: JobOutcome) -> None:
    (seen,) = sink.jobs()
    reported, start, end, reported_outcome = seen
    assert reported.name == job.name
    assert reported_outcome is outcome
    assert end is not None and job.end is not None
    assert abs(start - job.start) < 1.0
    assert abs(end - job.end) < 1.0
    assert sink.busy_seconds() == pytest.approx(job.printing_s, abs=1.0)


def test_a_completed_print_with_a_pause() -> None:
    sim = MarlinSimulator(keepalive_s=1.0)
    with printer(sim) as (server, _link, sink):
        with server.lock:
            job = sim.start_sd_print("benchy.gcode", 1.6)
        time.sleep(0.6)  # the print runs; what the link makes of it is checked below
        run(server, sim.pause)
        until(lambda: (v := sink.latest()) is not None and v.state is MachineState.PAUSED)
        time.sleep(0.8)
        run(server, sim.resume)
        until(finished(server, job), what="the print's end")
        until(reported_end(sink), what="the reported end")

    assert_one_job(sink, job, JobOutcome.COMPLETED)
    assert job.printing_s == 1.6
    assert job.end is not None and job.end - job.start > 2.3  # the pause is in the wall time
    paused = [view for _, view in sink.views if view.state is MachineState.PAUSED]
    assert paused and not any(view.busy for view in paused)
    assert all(view.job is not None and view.job.name == job.name for view in paused)
    running = [view for _, view in sink.views if view.busy]
    assert running[-1].job is not None and running[-1].job.progress is not None
    assert running[-1].temperatures["nozzle"] > 21.0  # the hotend heats during the print
    assert sink.unknowns == ["\ufffd"]  # the boot banner's garbage byte, nothing else


def test_a_print_cancelled_at_the_printer() -> None:
    sim = MarlinSimulator()
    with printer(sim) as (server, _link, sink):
        with server.lock:
            job = sim.start_sd_print("bracket.gcode", 30.0)
        time.sleep(0.8)
        run(server, sim.cancel)
        until(reported_end(sink), what="the reported end")
    assert_one_job(sink, job, JobOutcome.CANCELLED)


def test_thermal_runaway_ends_the_print_with_an_alarm_then_silence() -> None:
    sim = MarlinSimulator()
    with printer(sim, silence_s=1.5) as (server, _link, sink):
        with server.lock:
            job = sim.start_sd_print("vase.gcode", 30.0)
        time.sleep(0.6)
        run(server, sim.thermal_runaway)
        until(reported_end(sink), what="the reported end")
        # Line noise (a floating RX pin) is no sign of life: the silence is still reported.
        deadline = time.monotonic() + 4.0
        while not sink.offlines and time.monotonic() < deadline:
            run(server, lambda: sim.inject(b"\x80\xfe~~\n"))
            time.sleep(0.1)

    assert_one_job(sink, job, JobOutcome.ERROR)
    alarm = sink.latest()
    assert alarm is not None and alarm.state is MachineState.ALARM
    assert alarm.alarm == "marlin_thermal_runaway"
    assert "kill() called" in alarm.alarm_message
    halted_at = next(at for at, view in sink.views if view.state is MachineState.ALARM)
    ((offline_at, reason),) = sink.offlines
    assert "no answer" in reason  # a halted Marlin says nothing at all
    assert 1.0 < offline_at - halted_at < 2.5
    assert "\ufffd\ufffd~~" in sink.unknowns


def test_a_reset_interrupts_the_print_and_the_link_starts_over() -> None:
    sim = MarlinSimulator()
    with printer(sim) as (server, _link, sink):
        with server.lock:
            job = sim.start_sd_print("gear.gcode", 30.0)
        time.sleep(0.6)
        run(server, sim.reset)
        until(reported_end(sink), what="the reported end")
        assert_one_job(sink, job, JobOutcome.INTERRUPTED)

        # After the banner the link says hello again and turns the autoreports back on.
        until(lambda: _sent(server, sim, "M27 S1") >= 2, what="second handshake")
        with server.lock:
            second = sim.start_sd_print("gear.gcode", 0.6)
        until(finished(server, second), what="the second print")
        until(lambda: len(sink.jobs()) == 2 and sink.jobs()[1][2] is not None)

    _, start, end, outcome = sink.jobs()[1]
    assert outcome is JobOutcome.COMPLETED
    assert second.end is not None and end is not None
    assert abs(start - second.start) < 1.0 and abs(end - second.end) < 1.0


def test_polling_through_resends_and_glued_oks() -> None:
    # An older Marlin: no autoreport, so M105 and M27 are polled; a noisy cable makes the
    # firmware refuse lines, and some `ok`s come glued to temperature reports.
    sim = MarlinSimulator(
        capabilities={"AUTOREPORT_TEMP": False, "AUTOREPORT_SD_STATUS": False},
        resend_ratio=0.25,
        seed=3,
    )
    with printer(sim, poll_s=0.3, ok_timeout_s=1.0) as (server, link, sink):
        with server.lock:
            job = sim.start_sd_print("clip.gcode", 1.5)
        deadline = time.monotonic() + 5.0
        while not finished(server, job)() and time.monotonic() < deadline:
            run(server, sim.glue_next_ok)
            time.sleep(0.2)
        until(reported_end(sink), what="the reported end")

    assert_one_job(sink, job, JobOutcome.COMPLETED)
    assert link.stats.resends > 0
    assert link.stats.resend_loops == 0
    assert link.stats.ok_timeouts == 0  # glued oks were all seen
