"""PzemLink against the simulated module on a real pseudo-terminal, opened with pyserial."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.model import MeterReading
from firmware_bridge.pzem.link import PzemLink
from firmware_bridge.pzem.sim import WRAP_WH, PzemSimulator, scaled_clock, serve
from firmware_bridge.simport import PtyServer
from tests.firmware_bridge import links
from tests.firmware_bridge.links import following
from tests.firmware_bridge.recording import RecordingSink

HOUR_PER_SECOND = 3600.0  # simulated clock rate: a real second meters an hour


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    links.wait_for(predicate, timeout, what)


def readings(sink: RecordingSink) -> list[MeterReading]:
    with sink.lock:
        return [reading for _, reading in sink.meters]


def latest(sink: RecordingSink) -> MeterReading:
    found = readings(sink)
    return found[-1] if found else MeterReading(power_w=-1.0)


def accumulated(sink: RecordingSink) -> float:
    """Energy as the tracker counts it: positive deltas, a decrease taken as a reset."""
    total, previous = 0.0, None
    for reading in readings(sink):
        energy = reading.energy_wh or 0.0
        if previous is not None:
            total += energy - previous if energy >= previous else energy
        previous = energy
    return total


def test_whole_run_follows_the_load_and_the_simulators_energy() -> None:
    sim = PzemSimulator()
    with PtyServer(sim, clock=scaled_clock(HOUR_PER_SECOND)) as server:
        link = PzemLink(server.path, poll_s=0.05, timeout=0.2)
        with following(link) as sink:
            wait_for("a first reading", lambda: bool(readings(sink)))
            with server.lock:
                sim.set_load(1200.0, voltage=228.0, pf=0.9)
            wait_for("power to follow the load", lambda: latest(sink).power_w == 1200.0)
            assert latest(sink).voltage_v == 228.0
            assert latest(sink).current_a == pytest.approx(1200 / (228 * 0.9), abs=0.001)
            wait_for("a kWh metered", lambda: (latest(sink).energy_wh or 0) >= 1000)
            with server.lock:
                sim.set_load(0.0)
                counter, truth = int(sim.counter_wh), sim.consumed_wh
            wait_for(
                "the final counter",
                lambda: latest(sink).power_w == 0.0 and latest(sink).energy_wh == counter,
            )
    assert truth > 1000
    assert accumulated(sink) == pytest.approx(truth, abs=1.0)  # the register counts whole Wh
    assert sink.unknowns == []
    assert sink.offlines == []
    assert link.counters["readings"] == len(readings(sink))


def test_wrap_and_reset_show_as_counter_decreases() -> None:
    sim = PzemSimulator()
    with PtyServer(sim, clock=scaled_clock(HOUR_PER_SECOND)) as server:
        with server.lock:
            sim.set_energy(WRAP_WH - 300)
        link = PzemLink(server.path, poll_s=0.05, timeout=0.2)
        with following(link) as sink:
            wait_for("a reading near the wrap", lambda: latest(sink).energy_wh == WRAP_WH - 300)
            with server.lock:
                sim.set_load(3600.0)  # 3.6 kWh per real second
            wait_for("the wrap", lambda: sim.wraps == 1 and (latest(sink).energy_wh or 0) < 5000)
            link.request_energy_reset()
            wait_for("the reset", lambda: link.counters["resets"] == 1)
            with server.lock:
                sim.set_load(0.0)
                counter = int(sim.counter_wh)
            wait_for("the final counter", lambda: latest(sink).energy_wh == counter)
    energies = [reading.energy_wh or 0.0 for reading in readings(sink)]
    drops = [(a, b) for a, b in itertools.pairwise(energies) if b < a]
    assert len(drops) == 2  # the wrap, then the reset
    assert drops[0][0] >= WRAP_WH - 300
    assert sim.resets == 1
    assert sink.unknowns == []


def test_a_bad_reply_is_counted_and_the_next_poll_recovers() -> None:
    sim = PzemSimulator()
    with PtyServer(sim) as server:
        with server.lock:
            sim.set_load(500.0)
        link = PzemLink(server.path, poll_s=0.05, timeout=0.2)
        with following(link) as sink:
            wait_for("a first reading", lambda: bool(readings(sink)))
            for inject in (sim.corrupt_next, sim.shift_next_byte, sim.truncate_next):
                unknowns, count = len(sink.unknowns), len(readings(sink))
                with server.lock:
                    inject()
                wait_for("the bad reply", lambda: len(sink.unknowns) == unknowns + 1)  # noqa: B023
                wait_for("recovery", lambda: len(readings(sink)) > count)  # noqa: B023
    assert ["bad CRC" in u for u in sink.unknowns] == [True, True, False]
    assert "short reply: 12 of 25" in sink.unknowns[2]
    assert link.counters["bad_frames"] == 3
    assert sink.offlines == []  # one bad reply is no outage
    assert latest(sink).power_w == 500.0


def test_silence_is_offline_once_then_readings_resume() -> None:
    sim = PzemSimulator()
    with PtyServer(sim) as server:
        link = PzemLink(server.path, poll_s=0.05, timeout=0.1, max_failures=3)
        with following(link) as sink:
            wait_for("a first reading", lambda: bool(readings(sink)))
            with server.lock:
                sim.silence(0.8)
            wait_for("the outage", lambda: bool(sink.offlines))
            count = len(readings(sink))
            wait_for("readings again", lambda: len(readings(sink)) > count)
    assert len(sink.offlines) == 1
    assert "no valid reply from PZEM 0x01 in 3 polls" in sink.offlines[0][1]
    assert len(sink.unknowns) >= 3
    assert all(u.endswith("no reply") for u in sink.unknowns)


def test_alarm_register_is_followed() -> None:
    sim = PzemSimulator(alarm_threshold_w=1000.0)
    with PtyServer(sim) as server:
        link = PzemLink(server.path, poll_s=0.05, timeout=0.2)
        with following(link):
            with server.lock:
                sim.set_load(1500.0)
            wait_for("the alarm", lambda: link.alarm)
            with server.lock:
                sim.set_load(100.0)
            wait_for("the alarm to clear", lambda: not link.alarm)


def test_port_loss_is_reported_and_the_link_reopens_the_port(tmp_path: Path) -> None:
    """A by-id style symlink names the port; when it points at a new device, polling goes on."""
    alias = tmp_path / "ttyPZEM"
    first = PtyServer(PzemSimulator()).start()
    os.symlink(first.path, alias)
    link = PzemLink(str(alias), poll_s=0.05, timeout=0.2, backoff_s=0.1, max_backoff_s=0.2)
    with following(link) as sink:
        wait_for("a first reading", lambda: bool(readings(sink)))
        first.stop()
        wait_for("the loss", lambda: bool(sink.offlines))
        second_sim = PzemSimulator()
        with PtyServer(second_sim) as second:
            with second.lock:
                second_sim.set_load(42.0)
            alias.unlink()
            os.symlink(second.path, alias)
            wait_for("the new port's readings", lambda: latest(sink).power_w == 42.0)
    assert len(sink.offlines) == 1  # one outage, however many reopen attempts it took
    assert "lost" in sink.offlines[0][1] or "cannot open" in sink.offlines[0][1]
    assert link.counters["opens"] >= 2


def test_missing_port_is_offline_and_stop_is_prompt() -> None:
    link = PzemLink("/dev/nonexistent-pzem", backoff_s=5.0)
    with following(link) as sink:
        wait_for("the report", lambda: bool(sink.offlines))
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # stop interrupts the 5 s backoff
    assert "cannot open /dev/nonexistent-pzem" in sink.offlines[0][1]


def test_serve_runs_a_standalone_module_that_plays_by_itself() -> None:
    server = serve(power_w=900.0, autoplay_every_s=0.2, autoplay_duration_s=0.2)
    try:
        link = PzemLink(server.path, poll_s=0.02, timeout=0.2)
        with following(link) as sink:
            wait_for("a loaded period", lambda: latest(sink).power_w == 900.0)
            wait_for("an idle period", lambda: latest(sink).power_w == 0.0)
    finally:
        server.stop()


# ---------------------------------------------------------------------- fuzz through the link


Live = tuple[PzemSimulator, PtyServer, PzemLink, RecordingSink]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    sim = PzemSimulator()
    with PtyServer(sim) as server:
        with server.lock:
            sim.set_load(750.0)
        link = PzemLink(server.path, poll_s=0.02, timeout=0.1)
        with following(link) as sink:
            wait_for("a first reading", lambda: bool(readings(sink)))
            yield sim, server, link, sink


faults = st.one_of(st.sampled_from(["corrupt", "shift", "truncate"]), st.binary(max_size=48))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=st.lists(faults, min_size=1, max_size=3))
def test_any_bad_replies_are_each_counted_once_and_polling_recovers(
    live: Live, chosen: list[str | bytes]
) -> None:
    sim, server, link, sink = live
    before = len(sink.unknowns)
    with server.lock:
        for fault in chosen:
            if isinstance(fault, bytes):
                sim.garbage_next(fault)
            else:
                {"corrupt": sim.corrupt_next, "shift": sim.shift_next_byte}.get(
                    fault, sim.truncate_next
                )()
    wait_for("every bad reply", lambda: len(sink.unknowns) >= before + len(chosen))
    count = len(readings(sink))
    wait_for("a good reading after them", lambda: len(readings(sink)) > count)
    assert len(sink.unknowns) == before + len(chosen)
    assert latest(sink).power_w == 750.0
    assert link.counters["bad_frames"] == len(sink.unknowns)
