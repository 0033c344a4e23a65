"""The retained device status names the machine controller's firmware, as the bridge learnt it:
what the console's device page shows beside online, last seen and the outbox backlog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import decode_status
from contracts.models import Status
from contracts.topics import Kind, topic
from firmware_bridge.marlin.sim import FIRMWARE, MarlinSimulator
from firmware_bridge.simport import PtyServer
from machinerie.ackhub import wait_until
from machinerie.sandbox import DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto


class StatusWatcher:
    """A console-like subscriber to the device's status topic: live and retained messages."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[Status, bool]] = []
        self._lock = threading.Lock()
        self._client = Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topic(SITE, DEVICE, Kind.STATUS), qos=1)
        self._client.loop_start()

    def _on_message(self, _client: Client, _userdata: object, message: MQTTMessage) -> None:
        with self._lock:
            self.received.append((decode_status(bytes(message.payload)), message.retain))

    def named(self, firmware: str, *, retained: bool | None = None) -> bool:
        with self._lock:
            return any(
                status.firmware == firmware and retained in (None, flag)
                for status, flag in self.received
            )

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@contextmanager
def watching(port: int) -> Iterator[StatusWatcher]:
    watcher = StatusWatcher(port)
    try:
        yield watcher
    finally:
        watcher.close()


def marlin_bridge(port: str) -> dict[str, object]:
    return {"controller": {"kind": "marlin", "port": port, "poll_s": 0.5}, "stale_after_s": 5}


def test_the_retained_status_names_the_printers_firmware_once_identified(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with (
        PtyServer(MarlinSimulator()) as printer,
        Sandbox(tmp_path, mosquitto.port, bridge=marlin_bridge(printer.path)) as sandbox,
        watching(mosquitto.port) as live,
    ):
        # The periodic status comes every 60 s: the identification itself publishes one.
        assert wait_until(lambda: live.named(FIRMWARE), 15), live.received
        assert sandbox.agent.status().firmware == FIRMWARE
        # Whoever subscribes later (a hub replica starting, the console) reads it retained.
        with watching(mosquitto.port) as newcomer:
            assert wait_until(lambda: newcomer.named(FIRMWARE, retained=True), 5)


def test_an_edge_without_a_bridge_names_no_firmware(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with Sandbox(tmp_path, mosquitto.port) as sandbox:
        status = sandbox.agent.status()
    assert status.online and status.firmware is None
