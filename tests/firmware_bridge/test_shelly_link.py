"""ShellyLink against the simulated Plus 1PM, both on a real Mosquitto broker."""

from __future__ import annotations

import itertools
import json
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from firmware_bridge.model import MeterReading
from firmware_bridge.shelly import parse
from firmware_bridge.shelly.link import ShellyLink
from firmware_bridge.shelly.sim import ShellySimulator, serve
from machinerie.servers import Mosquitto, free_port
from tests.firmware_bridge import links
from tests.firmware_bridge.links import following
from tests.firmware_bridge.recording import RecordingSink

HOST = "127.0.0.1"


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 8.0) -> None:
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


def publish(port: int, topic: str, payloads: list[bytes]) -> None:
    """Publish as some other client on the broker would, each acknowledged in turn."""
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"test-publisher-{time.monotonic_ns()}")
    client.connect(HOST, port)
    client.loop_start()
    try:
        for payload in payloads:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def rpc_client(port: int, prefix: str) -> Iterator[Callable[[str, dict[str, object]], Any]]:
    """RPC over MQTT as any client makes it: request on <prefix>/rpc, reply on <src>/rpc."""
    replies: queue.Queue[bytes] = queue.Queue()
    src = f"test-rpc-{time.monotonic_ns()}"
    client = Client(CallbackAPIVersion.VERSION2, client_id=src)
    client.on_message = lambda _c, _u, message: replies.put(bytes(message.payload))
    client.connect(HOST, port)
    client.loop_start()
    client.subscribe(f"{src}/rpc", qos=1)

    def call(method: str, params: dict[str, object]) -> Any:
        request = {"id": 42, "src": src, "method": method, "params": params}
        client.publish(f"{prefix}/rpc", json.dumps(request), qos=1).wait_for_publish(5)
        return json.loads(replies.get(timeout=5))

    try:
        yield call
    finally:
        client.disconnect()
        client.loop_stop()


def test_simulator_answers_rpc_as_the_device_does(mosquitto: Mosquitto) -> None:
    with ShellySimulator(HOST, mosquitto.port, notify_every_s=0.1) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            sim.set_load(3600.0)
            wait_for("energy", lambda: (latest(sink).energy_wh or 0) > 0.1)
            with rpc_client(mosquitto.port, sim.prefix) as rpc:
                off = rpc("Switch.Set", {"id": 0, "on": False})
                assert off == {
                    "id": 42,
                    "src": sim.device_id,
                    "dst": off["dst"],
                    "result": {"was_on": True},
                }
                wait_for("the relay to open", lambda: latest(sink).power_w == 0.0)
                assert rpc("Switch.ResetCounters", {"id": 0})["result"] == {}
                wait_for("the counter reset", lambda: latest(sink).energy_wh == 0.0)
                missing = rpc("Switch.GetStatus", {})
                assert missing["error"] == {"code": -103, "message": "Missing required 'id'"}
                unknown = rpc("Cover.Open", {"id": 0})
                assert unknown["error"] == {"code": 404, "message": "No handler for Cover.Open"}
                whole = rpc("Shelly.GetStatus", {})
                assert whole["result"]["switch:0"]["output"] is False
    assert sim.consumed_wh > 0.1 and sim.total_wh == 0.0


def test_whole_run_follows_power_energy_and_device_errors(mosquitto: Mosquitto) -> None:
    with ShellySimulator(HOST, mosquitto.port, notify_every_s=0.2) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            assert latest(sink) == MeterReading(0.0, 0.0, 230.0, 0.0)
            sim.set_load(1500.0)
            wait_for("power to follow the load", lambda: latest(sink).power_w == 1500.0)
            assert latest(sink).current_a == pytest.approx(1500 / 230, abs=0.001)
            wait_for("energy to grow", lambda: (latest(sink).energy_wh or 0) >= 0.2)
            sim.set_load(0.0)
            truth, total = sim.consumed_wh, round(sim.total_wh, 3)
            wait_for("the final counter", lambda: latest(sink).energy_wh == total)
            assert latest(sink).power_w == 0.0
            sim.set_errors(("overpower",))
            wait_for("the device error", lambda: link.device_errors == ("overpower",))
            sim.set_errors(())  # cleared with "errors": null
            wait_for("the error to clear", lambda: link.device_errors == ())
    assert accumulated(sink) == pytest.approx(truth, abs=0.002)  # the counter has 3 decimals
    assert link.counters["device_errors"] == 1
    assert link.counters["notifications"] >= 2
    assert sink.unknowns == []
    assert sink.offlines == []


def test_reboot_with_counter_reset_is_offline_then_a_counter_decrease(
    mosquitto: Mosquitto,
) -> None:
    with ShellySimulator(HOST, mosquitto.port, notify_every_s=0.2) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            sim.set_load(2000.0)
            wait_for("energy to grow", lambda: (latest(sink).energy_wh or 0) >= 0.2)
            before = sim.total_wh
            sim.reboot(reset_counters=True)
            wait_for("the device offline", lambda: bool(sink.offlines))
            wait_for(
                "a reading after the reboot",
                lambda: 0 < (latest(sink).energy_wh or 0) < before and sim.boots == 2,
            )
            sim.set_load(0.0)
            truth, total = sim.consumed_wh, round(sim.total_wh, 3)
            wait_for("the final counter", lambda: latest(sink).energy_wh == total)
    assert sink.offlines[0][1] == f"shelly {sim.prefix} is offline"
    energies = [reading.energy_wh or 0.0 for reading in readings(sink)]
    drops = [(a, b) for a, b in itertools.pairwise(energies) if b < a]
    assert len(drops) == 1 and drops[0][0] >= round(before, 3)  # the counter before the reboot
    assert accumulated(sink) == pytest.approx(truth, abs=0.002)


def test_broker_loss_is_reported_and_following_resumes(mosquitto: Mosquitto) -> None:
    with ShellySimulator(HOST, mosquitto.port) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix, backoff_s=0.2, max_backoff_s=0.5)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            mosquitto.stop()
            wait_for("the broker loss", lambda: any("broker" in r for _, r in sink.offlines))
            sim.set_load(300.0)  # while nobody can hear it: the next snapshot tells
            mosquitto.start()
            wait_for("readings again", lambda: latest(sink).power_w == 300.0)
    assert link.counters["connects"] == 2
    assert sum("broker" in reason for _, reason in sink.offlines) == 1


def test_device_coming_online_after_the_link(mosquitto: Mosquitto) -> None:
    sim = ShellySimulator(HOST, mosquitto.port)
    link = ShellyLink(HOST, mosquitto.port, sim.prefix, request_timeout_s=30.0)
    with following(link) as sink:
        wait_for("the link's connection", lambda: link.counters["connects"] == 1)
        with sim:
            sim.set_load(60.0)
            # The request sent before the device was there is lost; its `online` asks again.
            wait_for("a reading", lambda: latest(sink).power_w == 60.0, timeout=5.0)


def test_unusable_frames_are_counted_and_following_goes_on(mosquitto: Mosquitto) -> None:
    with ShellySimulator(HOST, mosquitto.port) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            garbage = [b"\xff\xfe", b"{not json", b'{"method":"NotifyStatus"}', b"[1,2]"]
            publish(mosquitto.port, f"{sim.prefix}/events/rpc", garbage)
            publish(mosquitto.port, f"{sim.prefix}/online", [b"maybe"])
            wait_for("the unknowns", lambda: len(sink.unknowns) == 5)
            sim.set_load(100.0)
            wait_for("power to follow", lambda: latest(sink).power_w == 100.0)
    assert link.counters["unknown"] == 5
    assert sink.offlines == []


def test_rpc_error_is_counted(mosquitto: Mosquitto) -> None:
    with ShellySimulator(HOST, mosquitto.port) as sim:
        link = ShellyLink(HOST, mosquitto.port, sim.prefix, switch_id=3, request_timeout_s=0.3)
        with following(link) as sink:
            wait_for("two errors", lambda: link.counters["rpc_errors"] >= 2)
    assert "rpc error -105: Bad id=3" in sink.unknowns[0]
    assert readings(sink) == []


def test_no_broker_is_offline_and_stop_is_prompt() -> None:
    link = ShellyLink(HOST, free_port(), "shellyplus1pm-000000000000", backoff_s=5.0)
    with following(link) as sink:
        wait_for("the report", lambda: bool(sink.offlines))
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # stop interrupts the 5 s backoff
    assert "cannot reach broker" in sink.offlines[0][1]


def test_serve_publishes_a_device_that_plays_by_itself(mosquitto: Mosquitto) -> None:
    sim = serve(HOST, mosquitto.port, power_w=800.0, every_s=0.2, duration_s=0.3)
    try:
        assert sim.url == f"mqtt://{HOST}:{mosquitto.port}/{sim.prefix}"
        link = ShellyLink(HOST, mosquitto.port, sim.prefix)
        with following(link) as sink:
            wait_for("a loaded period", lambda: latest(sink).power_w == 800.0)
            wait_for("an idle period", lambda: latest(sink).power_w == 0.0)
    finally:
        sim.stop()
    assert sim.consumed_wh > 0


# ---------------------------------------------------------------------- fuzz through the link

Live = tuple[Mosquitto, ShellySimulator, ShellyLink, RecordingSink]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with Mosquitto() as broker, ShellySimulator(HOST, broker.port) as sim:
        link = ShellyLink(HOST, broker.port, sim.prefix)
        with following(link) as sink:
            wait_for("the first snapshot", lambda: bool(readings(sink)))
            yield broker, sim, link, sink


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
switch_deltas = st.dictionaries(
    st.sampled_from(["id", "apower", "aenergy", "voltage", "current", "errors", "output"]),
    json_values,
    max_size=4,
)
envelopes = st.builds(
    lambda method, ts, delta: json.dumps(
        {"method": method, "params": {"ts": ts, "switch:0": delta}}
    ).encode(),
    st.sampled_from(["NotifyStatus", "NotifyFullStatus", "NotifyEvent"]),
    json_values,
    switch_deltas,
)
payloads = st.one_of(
    st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()), envelopes
)
loads = itertools.count(1000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=st.lists(payloads, min_size=1, max_size=4))
def test_any_payloads_are_counted_and_following_goes_on(live: Live, chosen: list[bytes]) -> None:
    broker, sim, _link, sink = live
    unusable = (parse.Unknown, parse.RpcResult, parse.RpcError)  # replies belong on <src>/rpc
    expected = len(sink.unknowns) + sum(isinstance(parse.parse_frame(p), unusable) for p in chosen)
    publish(broker.port, f"{sim.prefix}/events/rpc", chosen)
    power = float(next(loads))
    sim.set_load(power)
    wait_for("power to follow", lambda: latest(sink).power_w == power)
    assert len(sink.unknowns) == expected
    assert sink.offlines == []
