"""The agent's MQTT connection: one supervisor thread, a fresh paho client per connection attempt.

A fresh client drops paho's in-memory QoS 1 queue with the old connection, so after a broker
crash only the publisher, resending from the outbox in seq order, puts events back on the wire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt import session_properties
from contracts.topics import DEVICE_WRITES, HUB_WRITES, Kind, topic
from edge.config import DeviceConfig, MqttConfig
from edge.errors import ConfigError

log = logging.getLogger(__name__)
# paho 2.2 logs "Client is not connected" at ERROR after every clean disconnect of a threaded
# loop: its own logger lets operators silence that without losing ours.
paho_log = logging.getLogger(f"{__name__}.paho")


class QuietDisconnect(logging.Filter):
    """Drops paho's "Client is not connected" after a disconnect we asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Client is not connected")


paho_log.addFilter(QuietDisconnect())

# Without SessionExpiryInterval an MQTT 5 session is discarded at disconnect, whatever
# clean_start says, and acks queued while the agent was away would be lost.
SESSION_EXPIRY_S = 24 * 3600
CONNECT_TIMEOUT_S = 10.0
STOP_PUBLISH_TIMEOUT_S = 1.0


def _ignore_connection(_up: bool) -> None:
    return None


@dataclass(slots=True)
class _Attempt:
    """One paho client and the events its callbacks signal to the supervisor."""

    client: Client
    connack: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    succeeded: bool = False


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay between connection attempts: doubles from `first_s` up to `max_s`."""

    first_s: float = 0.5
    max_s: float = 30.0


class MqttLink:
    """Keeps the device connected, subscribed and announced; hands hub messages to the agent."""

    def __init__(
        self,
        mqtt: MqttConfig,
        device: DeviceConfig,
        *,
        will_payload: bytes,
        status_payload: Callable[[], bytes],
        on_message: Callable[[Kind, bytes], None],
        on_connection_change: Callable[[bool], None] = _ignore_connection,
        backoff: Backoff = Backoff(),
        max_inflight: int = 100,
    ) -> None:
        self._mqtt = mqtt
        self._device = device
        self._password = _read_password(mqtt)
        self._will = will_payload
        self._status_payload = status_payload
        self._on_message = on_message
        self._on_connection_change = on_connection_change
        self._backoff = backoff
        self._max_inflight = max_inflight
        self._topics = {kind: self._topic(kind) for kind in Kind}
        self._incoming = {self._topics[kind]: kind for kind in HUB_WRITES}
        self._lock = threading.Lock()
        self._attempt: _Attempt | None = None
        self._connected = False
        self._epoch = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters: dict[str, int] = dict.fromkeys(
            ("connects", "disconnects", "connect_failures", "received", "foreign_messages"), 0
        )

    def _topic(self, kind: Kind) -> str:
        return topic(self._device.site, self._device.device_id, kind, self._mqtt.prefix)

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def epoch(self) -> int:
        """Counts successful connections; a publisher compares it to detect a reconnect."""
        return self._epoch

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish the offline status, disconnect cleanly (no will) and end the supervisor."""
        self._stopping.set()
        with self._lock:
            attempt = self._attempt
        if attempt is not None:
            self._say_goodbye(attempt)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def publish(
        self,
        kind: Kind,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        epoch: int | None = None,
    ) -> bool:
        """Hand a message to the current connection; False when not connected.

        With `epoch`, publish only on that connection: a message meant for a connection that
        dropped must not be the first to reach a newer one.
        """
        if kind not in DEVICE_WRITES:
            raise ValueError(f"a device does not publish {kind.value} messages")
        with self._lock:
            attempt = self._attempt
            if not self._connected or attempt is None or epoch not in (None, self._epoch):
                return False
        info = attempt.client.publish(self._topics[kind], payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------ supervisor

    def _supervise(self) -> None:
        delay = self._backoff.first_s
        while not self._stopping.is_set():
            if self._run_attempt():
                delay = self._backoff.first_s
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self._backoff.max_s)

    def _run_attempt(self) -> bool:
        attempt = _Attempt(self._build_client())
        with self._lock:
            self._attempt = attempt
        if self._stopping.is_set() or not self._connect(attempt):
            return False
        attempt.client.loop_start()
        if not attempt.connack.wait(CONNECT_TIMEOUT_S):
            log.warning(
                "no CONNACK from %s:%d within %.0f s",
                self._mqtt.host,
                self._mqtt.port,
                CONNECT_TIMEOUT_S,
            )
        elif attempt.succeeded:
            attempt.done.wait()
        attempt.client.disconnect()
        attempt.client.loop_stop()
        return attempt.succeeded

    def _connect(self, attempt: _Attempt) -> bool:
        mqtt = self._mqtt
        try:
            if mqtt.protocol == "5":
                attempt.client.connect(
                    mqtt.host,
                    mqtt.port,
                    mqtt.keepalive_s,
                    clean_start=False,
                    properties=session_properties(SESSION_EXPIRY_S),
                )
            else:
                attempt.client.connect(mqtt.host, mqtt.port, mqtt.keepalive_s)
        except OSError as exc:
            self.counters["connect_failures"] += 1
            log.info("cannot connect to %s:%d: %s", mqtt.host, mqtt.port, exc)
            return False
        return True

    def _build_client(self) -> Client:
        v5 = self._mqtt.protocol == "5"
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._device.device_id,
            clean_session=None if v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            # paho's own reconnect would re-send its in-memory queue out of seq order.
            reconnect_on_failure=False,
        )
        # A callback that raises would otherwise kill paho's network thread silently.
        client.suppress_exceptions = True
        client.enable_logger(paho_log)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.max_inflight_messages_set(self._max_inflight)
        client.will_set(self._topics[Kind.STATUS], self._will, qos=1, retain=True)
        self._secure(client)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        return client

    def _secure(self, client: Client) -> None:
        mqtt = self._mqtt
        if mqtt.username is not None:
            client.username_pw_set(mqtt.username, self._password)
        if mqtt.tls_ca_file is not None or mqtt.tls_cert_file is not None:
            client.tls_set(
                ca_certs=_path(mqtt.tls_ca_file),
                certfile=_path(mqtt.tls_cert_file),
                keyfile=_path(mqtt.tls_key_file),
            )

    def _say_goodbye(self, attempt: _Attempt) -> None:
        if self._connected:
            info = attempt.client.publish(self._topics[Kind.STATUS], self._will, qos=1, retain=True)
            # Called from the agent's thread, never from a paho callback: waiting is safe here.
            # paho raises from wait_for_publish when the publish already failed (rc != 0).
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
        attempt.client.disconnect()
        attempt.connack.set()
        attempt.done.set()

    # ------------------------------------------------------------------ paho callbacks

    def _handle_connect(
        self,
        client: Client,
        _userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        attempt = self._attempt_of(client)
        if attempt is None:
            return
        if reason.is_failure:
            self.counters["connect_failures"] += 1
            log.warning("broker refused the connection: %s", reason)
            attempt.connack.set()
            attempt.done.set()
            return
        client.subscribe([(self._topics[kind], 1) for kind in sorted(HUB_WRITES)])
        client.publish(self._topics[Kind.STATUS], self._status_payload(), qos=1, retain=True)
        with self._lock:
            self._epoch += 1
            self._connected = True
        attempt.succeeded = True
        self.counters["connects"] += 1
        log.info(
            "connected to %s:%d (MQTT %s, session present: %s)",
            self._mqtt.host,
            self._mqtt.port,
            self._mqtt.protocol,
            flags.session_present,
        )
        attempt.connack.set()
        self._on_connection_change(True)

    def _handle_disconnect(
        self,
        client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        attempt = self._attempt_of(client)
        if attempt is None:
            return
        with self._lock:
            was_connected, self._connected = self._connected, False
        attempt.connack.set()
        attempt.done.set()
        if was_connected:
            self.counters["disconnects"] += 1
            log.info("disconnected from %s:%d: %s", self._mqtt.host, self._mqtt.port, reason)
            self._on_connection_change(False)

    def _handle_message(self, client: Client, _userdata: Any, message: MQTTMessage) -> None:
        kind = self._incoming.get(message.topic)
        if kind is None:
            self.counters["foreign_messages"] += 1
            log.debug("dropped a message on a foreign topic %r", message.topic)
            return
        self.counters["received"] += 1
        self._on_message(kind, bytes(message.payload))

    def _attempt_of(self, client: Client) -> _Attempt | None:
        # Callbacks of a client the supervisor already replaced must not touch the state.
        with self._lock:
            attempt = self._attempt
        return attempt if attempt is not None and attempt.client is client else None


def _read_password(mqtt: MqttConfig) -> str | None:
    if mqtt.password_file is None:
        return None
    try:
        return mqtt.password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read MQTT password file {mqtt.password_file}: {exc}") from exc


def _path(value: object) -> str | None:
    return None if value is None else str(value)
