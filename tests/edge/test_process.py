"""The agent as systemd runs it: a separate process, SIGKILLed mid-session, notify protocol."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import decode_status
from contracts.models import AgentStarted, EventType, SessionEnded, Status
from contracts.signing import KeyPair
from contracts.topics import Kind, topic
from edge.hw.simreader import send_badge
from machinerie.ackhub import AckingHub, wait_until
from machinerie.control import HubControl, access_list
from machinerie.servers import Mosquitto
from tests.edge.rig import ALICE, DEVICE, SITE, entries

CONFIG = """
[device]
site = "{site}"
device_id = "{device}"
machine_id = "{device}"
data_dir = "{folder}/edge"

[mqtt]
host = "127.0.0.1"
port = {port}

[reader]
kind = "simulated"
socket = "{folder}/reader.sock"

[gpio]
pin_factory = "mock"
relay_pin = 17

[session]
heartbeat_s = 0.2
idle_timeout_s = 0

[access.trusted_keys]
{key_id} = "{public}"
"""


def write_config(folder: Path, port: int, keys: KeyPair) -> Path:
    path = folder / "edge.toml"
    path.write_text(
        CONFIG.format(
            site=SITE,
            device=DEVICE,
            folder=folder,
            port=port,
            key_id=keys.key_id,
            public=keys.public_base64(),
        )
    )
    return path


def start_agent(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "machinerie",
            "edge",
            "run",
            "--config",
            str(config),
            "--log-level",
            "warning",
        ],
        env={**os.environ, **(env or {})},
    )


def wait_socket(path: Path) -> None:
    assert wait_until(path.exists, 15), "agent did not open its reader socket"


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

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_sigkill_mid_session_closes_it_at_last_heartbeat(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    keys = KeyPair.generate("hub-test")
    config = write_config(tmp_path, mosquitto.port, keys)
    hub = AckingHub(mosquitto.port).start()
    control = HubControl(mosquitto.port, keys)
    control.publish_access_list(DEVICE, access_list(SITE, DEVICE, entries(), version=1))
    watcher = StatusWatcher(mosquitto.port)
    process = start_agent(config)
    try:
        wait_socket(tmp_path / "reader.sock")
        assert wait_until(
            lambda: watcher.latest is not None and watcher.latest.acl_version == 1, 15
        )
        assert send_badge(tmp_path / "reader.sock", ALICE).startswith("ok")
        assert wait_until(lambda: any(e.type is EventType.SESSION_STARTED for e in hub.events), 10)
        assert wait_until(lambda: watcher.latest is not None and bool(watcher.latest.relay_on), 10)
        time.sleep(1.0)  # several heartbeats
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = datetime.now(UTC)
        process = start_agent(config)
        assert wait_until(lambda: any(e.type is EventType.SESSION_ENDED for e in hub.events), 15)
        ended = next(e.data for e in hub.events if e.type is EventType.SESSION_ENDED)
        assert isinstance(ended, SessionEnded) and ended.unclean
        assert ended.end_reason.value == "unclean_shutdown"
        # Closed at the last heartbeat: no earlier than one heartbeat (plus slack) before the kill.
        assert killed_at - timedelta(seconds=1) <= ended.ended_at <= killed_at
        restarts = [e.data for e in hub.events if e.type is EventType.AGENT_STARTED]
        assert isinstance(restarts[-1], AgentStarted)
        assert restarts[-1].recovered_session_id == ended.session_id
        assert wait_until(
            lambda: (
                watcher.latest is not None
                and watcher.latest.online
                and watcher.latest.relay_on is False
                and watcher.latest.session is None
            ),
            10,
        )
        seqs = [e.seq for e in hub.events]
        assert seqs == list(range(1, len(seqs) + 1)), f"lost or duplicated: {seqs}"
        assert hub.duplicates == 0 or len({e.event_id for e in hub.events}) == len(hub.events)
    finally:
        process.terminate()
        process.wait(15)
        watcher.close()
        control.close()
        hub.stop()


def test_sigterm_ends_session_cleanly_and_says_offline(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    keys = KeyPair.generate("hub-test")
    config = write_config(tmp_path, mosquitto.port, keys)
    hub = AckingHub(mosquitto.port).start()
    control = HubControl(mosquitto.port, keys)
    control.publish_access_list(DEVICE, access_list(SITE, DEVICE, entries(), version=1))
    watcher = StatusWatcher(mosquitto.port)
    process = start_agent(config)
    try:
        wait_socket(tmp_path / "reader.sock")
        assert wait_until(
            lambda: watcher.latest is not None and watcher.latest.acl_version == 1, 15
        )
        send_badge(tmp_path / "reader.sock", ALICE)
        assert wait_until(lambda: any(e.type is EventType.SESSION_STARTED for e in hub.events), 10)
        process.terminate()
        assert process.wait(15) == 0
        assert wait_until(lambda: any(e.type is EventType.SESSION_ENDED for e in hub.events), 5)
        ended = next(e.data for e in hub.events if e.type is EventType.SESSION_ENDED)
        assert isinstance(ended, SessionEnded) and ended.end_reason.value == "shutdown"
        assert wait_until(lambda: watcher.latest is not None and not watcher.latest.online, 5)
    finally:
        process.kill()
        watcher.close()
        control.close()
        hub.stop()


def test_systemd_notify_ready_and_watchdog(tmp_path: Path, mosquitto: Mosquitto) -> None:
    keys = KeyPair.generate("hub-test")
    config = write_config(tmp_path, mosquitto.port, keys)
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(15)
        process = start_agent(config, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
        try:
            messages = [sock.recv(4096).decode() for _ in range(3)]
        finally:
            process.terminate()
            process.wait(15)
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" in messages[1:]
