"""A Mosquitto that demands passwords and applies the ACL, both written by hub.devices.

`Peer` is a minimal paho client for the tests: log in, subscribe, publish, collect messages.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from paho.mqtt.client import Client, ConnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.devices import BrokerFiles, add_device, write_broker_files
from machinerie.servers import Mosquitto

Protocol = Literal["3.1.1", "5"]


def auth_config(files: BrokerFiles) -> str:
    # machinerie.servers writes `allow_anonymous true` first; the later line must win.
    return f"allow_anonymous false\npassword_file {files.passwd}\nacl_file {files.acl}\n"


@dataclass(frozen=True)
class SecuredBroker:
    broker: Mosquitto
    data_dir: Path
    files: BrokerFiles
    passwords: dict[str, str]  # device id -> password, as handed to the installer

    @property
    def port(self) -> int:
        return self.broker.port


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredBroker]:
    """Devices laser-1 and laser-2 at Dony, with the broker files written by hub.devices."""
    data_dir = tmp_path / "hub"
    passwords = {
        device: add_device(data_dir, device, site="dony", machine_id=device)[1]
        for device in ("laser-1", "laser-2")
    }
    files = write_broker_files(data_dir, tmp_path / "broker")
    with Mosquitto(extra=auth_config(files), persistence=False) as broker:
        yield SecuredBroker(broker, data_dir, files, passwords)


class Peer:
    """One MQTT client under a given account; messages it receives are kept in order."""

    def __init__(
        self, port: int, username: str | None, password: str | None, protocol: Protocol
    ) -> None:
        version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{username or 'anon'}-{uuid.uuid4().hex[:6]}",
            protocol=version,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.messages: list[MQTTMessage] = []
        self.reason: ReasonCode | None = None
        self._answered = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, message: self.messages.append(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._answered.wait(5), "no CONNACK"
        if not self.accepted:
            self.close()  # or paho's loop keeps retrying the refused login every second

    def _on_connect(
        self,
        _client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.reason = reason
        self._answered.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_args: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(5), "no SUBACK"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]

    def wait_for(self, topic: str, timeout: float = 5) -> MQTTMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if message.topic == topic:
                    return message
            time.sleep(0.01)
        raise AssertionError(f"nothing on {topic}; got {self.topics()}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    """Collects the test's peers and disconnects them all at the end."""
    made: list[Peer] = []
    yield made
    for peer in made:
        peer.close()
