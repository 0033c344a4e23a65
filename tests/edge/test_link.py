"""The MQTT link against a real Mosquitto: sessions, retained status, last will, reconnects."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil
import pytest
from paho.mqtt.client import Client, ConnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.codec import decode_status, encode
from contracts.models import Ack, Status
from contracts.topics import Kind, topic
from edge.config import DeviceConfig, MqttConfig
from edge.errors import ConfigError
from edge.link import Backoff, MqttLink
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto

SITE, DEVICE, MACHINE = "dony", "laser-1-pi", "laser-1"
FAST = Backoff(first_s=0.1, max_s=0.5)
PROTOCOLS = ["3.1.1", "5"]


def status(online: bool) -> bytes:
    return encode(
        Status.model_validate(
            {
                "site": SITE,
                "device_id": DEVICE,
                "machine_id": MACHINE,
                "boot_id": uuid.uuid4(),
                "online": online,
                "time": datetime.now(UTC),
            }
        )
    )


class Watcher:
    """A plain paho subscriber that records what arrives on one topic."""

    def __init__(self, port: int, subscription: str) -> None:
        self.payloads: list[bytes] = []
        self._subscribed = threading.Event()
        self._subscription = subscription
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{uuid.uuid4().hex}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(5)

    def _on_connect(
        self, client: Client, _u: Any, _f: ConnectFlags, _r: ReasonCode, _p: Properties | None
    ) -> None:
        client.subscribe(self._subscription, qos=1)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        self.payloads.append(bytes(message.payload))

    def onlines(self) -> list[bool]:
        return [decode_status(p).online for p in self.payloads]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[Kind, bytes]] = []
        self.changes: list[bool] = []


def make_link(port: int, protocol: Literal["3.1.1", "5"], recorder: Recorder) -> MqttLink:
    return MqttLink(
        MqttConfig(host="127.0.0.1", port=port, protocol=protocol, keepalive_s=5),
        DeviceConfig(site=SITE, device_id=DEVICE, machine_id=MACHINE),
        will_payload=status(False),
        status_payload=lambda: status(True),
        on_message=lambda kind, payload: recorder.messages.append((kind, payload)),
        on_connection_change=recorder.changes.append,
        backoff=FAST,
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def watchers(mosquitto: Mosquitto) -> Iterator[Callable[[str], Watcher]]:
    opened: list[Watcher] = []

    def open_watcher(subscription: str) -> Watcher:
        opened.append(Watcher(mosquitto.port, subscription))
        return opened[-1]

    yield open_watcher
    for watcher in opened:
        watcher.close()


def publish_once(port: int, target: str, payload: bytes) -> None:
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"hub-{uuid.uuid4().hex}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(target, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def link_socket_fds(port: int) -> list[int]:
    """File descriptors of this process's TCP connections to the broker."""
    return [
        c.fd
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connects_announces_online_and_hands_over_hub_messages(
    mosquitto: Mosquitto,
    recorder: Recorder,
    watchers: Callable[[str], Watcher],
    protocol: Literal["3.1.1", "5"],
) -> None:
    link = make_link(mosquitto.port, protocol, recorder)
    link.start()
    try:
        assert wait_until(lambda: link.connected, 5)
        watcher = watchers(topic(SITE, DEVICE, Kind.STATUS))
        assert wait_until(lambda: watcher.onlines() == [True], 5)  # retained
        ack = encode(Ack.model_validate({"event_ids": [uuid.uuid4()]}))
        publish_once(mosquitto.port, topic(SITE, DEVICE, Kind.ACK), ack)
        publish_once(mosquitto.port, topic(SITE, DEVICE, Kind.COMMAND), b"{}")
        assert wait_until(lambda: len(recorder.messages) == 2, 5)
        assert recorder.messages == [(Kind.ACK, ack), (Kind.COMMAND, b"{}")]
        assert link.publish(Kind.TELEMETRY, b"{}", qos=0)
        assert recorder.changes == [True]
    finally:
        link.stop()
    assert wait_until(lambda: watcher.onlines() == [True, False], 5)
    assert not link.publish(Kind.EVENT, b"{}")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_acks_sent_while_the_agent_was_away_arrive_at_reconnect(
    mosquitto: Mosquitto, recorder: Recorder, protocol: Literal["3.1.1", "5"]
) -> None:
    link = make_link(mosquitto.port, protocol, recorder)
    link.start()
    assert wait_until(lambda: link.connected, 5)
    link.stop()
    ack = encode(Ack.model_validate({"event_ids": [uuid.uuid4()]}))
    publish_once(mosquitto.port, topic(SITE, DEVICE, Kind.ACK), ack)
    link = make_link(mosquitto.port, protocol, recorder)
    link.start()
    try:
        assert wait_until(lambda: recorder.messages == [(Kind.ACK, ack)], 5)
    finally:
        link.stop()


def test_retries_until_the_broker_starts_and_reconnects_after_a_restart(
    mosquitto: Mosquitto, recorder: Recorder
) -> None:
    mosquitto.stop()
    link = make_link(mosquitto.port, "5", recorder)
    link.start()
    try:
        assert wait_until(lambda: link.counters["connect_failures"] >= 2, 5)
        assert not link.connected
        mosquitto.start()
        assert wait_until(lambda: link.connected, 5)
        first_epoch = link.epoch
        mosquitto.kill()
        assert wait_until(lambda: not link.connected, 5)
        mosquitto.start()
        assert wait_until(lambda: link.connected, 5)
        assert link.epoch == first_epoch + 1
        assert recorder.changes == [True, False, True]
    finally:
        link.stop()


def test_last_will_says_offline_when_the_connection_dies_abruptly(
    mosquitto: Mosquitto, recorder: Recorder, watchers: Callable[[str], Watcher]
) -> None:
    link = make_link(mosquitto.port, "5", recorder)
    link.start()
    try:
        assert wait_until(lambda: link.connected, 5)
        [fd] = link_socket_fds(mosquitto.port)
        watcher = watchers(topic(SITE, DEVICE, Kind.STATUS))
        assert wait_until(lambda: watcher.onlines() == [True], 5)
        # Cut the TCP connection under paho without a DISCONNECT packet, as a network loss would.
        cut = socket.socket(fileno=fd)
        cut.shutdown(socket.SHUT_RDWR)
        cut.detach()
        assert wait_until(lambda: watcher.onlines()[:2] == [True, False], 5)
        assert wait_until(lambda: watcher.onlines() == [True, False, True], 5)
        assert recorder.changes == [True, False, True]
    finally:
        link.stop()


def test_unreadable_password_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        MqttLink(
            MqttConfig(username="laser-1-pi", password_file=tmp_path / "missing"),
            DeviceConfig(site=SITE, device_id=DEVICE, machine_id=MACHINE),
            will_payload=b"",
            status_payload=lambda: b"",
            on_message=lambda _k, _p: None,
        )
