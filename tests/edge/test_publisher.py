"""Outbox to hub through a real Mosquitto: nothing lost, first arrivals in seq order, acks gate."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from contracts.topics import Kind, topic
from edge.config import DeviceConfig, MqttConfig
from edge.link import Backoff, MqttLink
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.store import Store
from machinerie.ackhub import AckingHub, wait_until
from machinerie.servers import Mosquitto
from tests.edge.test_outbox import DEVICE, MACHINE, SITE, corrupt_row, maker


class Edge:
    """The agent's delivery path wired as the agent wires it: store, outbox, link, publisher."""

    def __init__(
        self,
        db: Path,
        port: int,
        *,
        protocol: Literal["3.1.1", "5"] = "5",
        window: int = 50,
        ack_timeout_s: float = 2.0,
    ) -> None:
        self.store = Store(db)
        self.outbox = Outbox(self.store, max_events=100_000, alarm_fraction=0.8)
        self.link = MqttLink(
            MqttConfig(host="127.0.0.1", port=port, protocol=protocol, keepalive_s=5),
            DeviceConfig(site=SITE, device_id=DEVICE, machine_id=MACHINE),
            will_payload=b"{}",
            status_payload=lambda: b"{}",
            on_message=self._on_message,
            on_connection_change=self._on_connection_change,
            backoff=Backoff(first_s=0.1, max_s=0.5),
        )
        self.publisher = Publisher(
            self.outbox, self.link, window=window, ack_timeout_s=ack_timeout_s
        )

    def _on_connection_change(self, up: bool) -> None:
        self.publisher.on_connection_change(up)

    def _on_message(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.ACK:
            self.publisher.handle_ack(payload)

    def append(self, count: int) -> None:
        for _ in range(count):
            self.outbox.append(maker())
            self.publisher.wake()

    def start(self) -> Edge:
        self.link.start()
        self.publisher.start()
        return self

    def stop(self) -> None:
        self.publisher.stop()
        self.link.stop()
        self.store.close()

    def drained(self, timeout: float = 10) -> bool:
        return wait_until(lambda: self.outbox.backlog() == 0, timeout)


@pytest.fixture
def hub(mosquitto: Mosquitto) -> Iterator[AckingHub]:
    started = AckingHub(mosquitto.port).start()
    assert started.connected
    yield started
    started.stop()


@pytest.fixture
def durable_broker() -> Iterator[Mosquitto]:
    # Mosquitto writes its sessions only at autosave or SIGTERM: after a SIGKILL without an
    # autosave the hub's subscription is gone, and events resent before it resubscribes would be
    # dropped while later ones arrive first. Production sets a short autosave (deploy/mosquitto).
    with Mosquitto(extra="autosave_interval 1") as broker:
        yield broker


def assert_exactly_in_order(hub: AckingHub, count: int) -> None:
    assert hub.wait_for(count, 20), f"{len(hub.events)} of {count} events arrived"
    assert hub.seqs() == list(range(1, count + 1))


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_events_appended_while_the_broker_is_down_arrive_once_in_order(
    tmp_path: Path, mosquitto: Mosquitto, hub: AckingHub, protocol: Literal["3.1.1", "5"]
) -> None:
    mosquitto.stop()
    edge = Edge(tmp_path / "agent.db", mosquitto.port, protocol=protocol).start()
    try:
        edge.append(300)
        assert not edge.link.connected
        mosquitto.start()
        assert_exactly_in_order(hub, 300)
        assert edge.drained()
        assert hub.duplicates == 0
        assert edge.publisher.counters["published"] == 300
    finally:
        edge.stop()


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_broker_crash_mid_stream_loses_nothing_and_keeps_first_arrival_order(
    tmp_path: Path, durable_broker: Mosquitto, fault: str
) -> None:
    hub = AckingHub(durable_broker.port).start()
    time.sleep(1.2)  # one autosave with the hub's subscription in it
    edge = Edge(tmp_path / "agent.db", durable_broker.port, window=25).start()
    try:
        edge.append(800)
        assert hub.wait_for(200, 10)
        durable_broker.stop() if fault == "stop" else durable_broker.kill()
        assert len(hub.events) < 800, "the stream ended before the fault"
        time.sleep(0.3)
        durable_broker.start()
        assert_exactly_in_order(hub, 800)
        assert edge.drained()
        assert edge.publisher.counters["published"] == 800
    finally:
        edge.stop()
        hub.stop()


def test_an_event_stays_in_the_outbox_until_the_hub_acks_it(
    tmp_path: Path, mosquitto: Mosquitto, hub: AckingHub
) -> None:
    hub.acking = False
    edge = Edge(tmp_path / "agent.db", mosquitto.port, ack_timeout_s=0.4).start()
    try:
        edge.append(20)
        assert hub.wait_for(20, 5)
        time.sleep(1.0)  # a broker PUBACK arrived long ago; the hub's ack did not
        assert edge.outbox.backlog() == 20
        assert edge.publisher.counters["resent"] >= 20  # ack timeout: resent from the oldest
        assert hub.duplicates >= 20
        hub.acking = True
        assert edge.drained(5)
        assert hub.seqs() == list(range(1, 21))
    finally:
        edge.stop()


def test_malformed_acks_are_counted_and_survived(
    tmp_path: Path, mosquitto: Mosquitto, hub: AckingHub
) -> None:
    edge = Edge(tmp_path / "agent.db", mosquitto.port).start()
    try:
        assert wait_until(lambda: edge.link.connected, 5)
        rogue = Client(CallbackAPIVersion.VERSION2, client_id=f"rogue-{uuid.uuid4().hex}")
        rogue.connect("127.0.0.1", mosquitto.port)
        rogue.loop_start()
        ack_topic = topic(SITE, DEVICE, Kind.ACK)
        for payload in (b"not json", b'{"schema": "machinerie.ack/1", "event_ids": []}'):
            rogue.publish(ack_topic, payload, qos=1).wait_for_publish(5)
        rogue.disconnect()
        rogue.loop_stop()
        assert wait_until(lambda: edge.publisher.counters["malformed_acks"] == 2, 5)
        edge.append(10)
        assert_exactly_in_order(hub, 10)
        assert edge.drained()
    finally:
        edge.stop()


def test_a_corrupt_row_is_quarantined_and_later_events_still_arrive(
    tmp_path: Path, mosquitto: Mosquitto, hub: AckingHub
) -> None:
    db = tmp_path / "agent.db"
    edge = Edge(db, mosquitto.port)
    try:
        edge.append(10)
        corrupt_row(db, 3)
        edge.start()
        assert hub.wait_for(9, 10)
        assert hub.seqs() == [1, 2, 4, 5, 6, 7, 8, 9, 10]
        assert edge.drained()
        assert edge.outbox.counters["corrupt_rows"] == 1
        assert edge.outbox.quarantined() == 1
    finally:
        edge.stop()
