"""The agent as systemd runs it: a separate process, SIGKILLed mid-session, notify protocol."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import decode_status
from contracts.models import AgentStarted, EventType, SessionEnded, Status
from contracts.signing import KeyPair
from contracts.topics import Kind, topic
from edge.hw.simreader import send_badge
from machinerie.ackhub import AckingHub, wait_until
from machinerie.control import HubControl, access_list
from machinerie.sandbox import write_agent_toml
from machinerie.servers import Mosquitto
from tests.edge.rig import ALICE, DEVICE, SITE, entries


class StatusWatcher:
    """Keeps the latest retained status of the device."""

    def __init__(self, port: int) -> None:
        self.latest: Status | None = None
        self.client = Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic(SITE, DEVICE, Kind.STATUS), qos=1)
        self.client.loop_start()

    def _on_message(self, _client: Client, _userdata: object, message: MQTTMessage) -> None:
        self.latest = decode_status(bytes(message.payload))

    def shows(self, **expected: object) -> bool:
        latest = self.latest
        return latest is not None and all(getattr(latest, k) == v for k, v in expected.items())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Site:
    """A broker, the hub's stand-ins, and the agent as its own process."""

    def __init__(self, folder: Path, broker: Mosquitto) -> None:
        keys = KeyPair.generate("hub-test")
        self.folder = folder
        self.config = write_agent_toml(folder, broker.port, keys, heartbeat_s=0.2)
        self.hub = AckingHub(broker.port).start()
        self.control = HubControl(broker.port, keys)
        self.control.publish_access_list(DEVICE, access_list(SITE, DEVICE, entries(), version=1))
        self.watcher = StatusWatcher(broker.port)
        self.process: subprocess.Popen[bytes] | None = None

    def start_agent(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "edge",
            "run",
            "--config",
            str(self.config),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, env={**os.environ, **(env or {})})
        return self.process

    def wait_ready(self) -> None:
        assert wait_until((self.folder / "reader.sock").exists, 15), "no reader socket"
        assert wait_until(lambda: self.watcher.shows(online=True, acl_version=1), 15)

    def badge(self, uid: str) -> None:
        assert send_badge(self.folder / "reader.sock", uid).startswith("ok")

    def first(self, type_: EventType, timeout: float = 10) -> object:
        assert wait_until(lambda: any(e.type is type_ for e in self.hub.events), timeout)
        return next(e.data for e in self.hub.events if e.type is type_)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(15)
        self.watcher.close()
        self.control.close()
        self.hub.stop()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Site]:
    bench = Site(tmp_path, mosquitto)
    try:
        yield bench
    finally:
        bench.close()


def test_sigkill_mid_session_closes_it_at_last_heartbeat(site: Site) -> None:
    process = site.start_agent()
    site.wait_ready()
    site.badge(ALICE)
    site.first(EventType.SESSION_STARTED)
    assert wait_until(lambda: site.watcher.shows(relay_on=True), 10)
    time.sleep(1.0)  # several heartbeats
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed_at = datetime.now(UTC)
    site.start_agent()
    ended = site.first(EventType.SESSION_ENDED, 15)
    assert isinstance(ended, SessionEnded) and ended.unclean
    assert ended.end_reason.value == "unclean_shutdown"
    # Closed at the last heartbeat: at most one heartbeat (plus slack) before the kill.
    assert killed_at - timedelta(seconds=1) <= ended.ended_at <= killed_at
    restart = [e.data for e in site.hub.events if e.type is EventType.AGENT_STARTED][-1]
    assert isinstance(restart, AgentStarted)
    assert restart.recovered_session_id == ended.session_id
    assert wait_until(lambda: site.watcher.shows(online=True, relay_on=False, session=None), 10)
    seqs = [e.seq for e in site.hub.events]
    assert seqs == list(range(1, len(seqs) + 1)), f"lost or out of order: {seqs}"


def test_sigterm_ends_session_cleanly_and_says_offline(site: Site) -> None:
    process = site.start_agent()
    site.wait_ready()
    site.badge(ALICE)
    site.first(EventType.SESSION_STARTED)
    process.terminate()
    assert process.wait(15) == 0
    ended = site.first(EventType.SESSION_ENDED, 5)
    assert isinstance(ended, SessionEnded) and ended.end_reason.value == "shutdown"
    assert wait_until(lambda: site.watcher.shows(online=False), 5)


def test_systemd_notify_ready_and_watchdog(site: Site) -> None:
    address = str(site.folder / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(15)
        site.start_agent({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
        messages = [sock.recv(4096).decode() for _ in range(3)]
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" in messages[1:]
