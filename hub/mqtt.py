"""The hub's MQTT logins: one account, a client per part (ingest aside, which keeps a
persistent session of its own).

Each part gets a unique client id: two hub replicas, or two parts of one hub, must never take
over each other's connection.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt import KEEPALIVE_S
from contracts.topics import DEFAULT_PREFIX
from hub.ingest.metrics import Metrics

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class BrokerLogin:
    host: str
    port: int
    username: str
    password: str
    protocol: Literal["3.1.1", "5"] = "5"
    prefix: str = DEFAULT_PREFIX


def part_client(
    login: BrokerLogin,
    part: str,
    logger: logging.Logger,
    *,
    reconnect_max_s: int = RECONNECT_MAX_S,
) -> Client:
    """A clean-session client for one part of the hub (`acl`, `telemetry`, `cmd`, `notify`),
    logged in, reconnecting on its own once started; callbacks are the caller's."""
    v5 = login.protocol == "5"
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{login.username}-{part}-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
    )
    client.enable_logger(logger)
    client.reconnect_delay_set(RECONNECT_MIN_S, reconnect_max_s)
    client.username_pw_set(login.username, login.password)
    return client


Handler = Callable[[str, bytes], object]


class Subscription:
    """A part's clean-session client subscribed to `filters`, each message handed to `handle`
    (on paho's thread); it resubscribes on every reconnect, since a clean session forgets."""

    def __init__(
        self,
        login: BrokerLogin,
        part: str,
        filters: Sequence[tuple[str, int]],
        handle: Handler,
        logger: logging.Logger,
    ) -> None:
        self._login = login
        self._part = part
        self._filters = list(filters)
        self._handle = handle
        self._log = logger
        self._client: Client | None = None
        self._subscribed = threading.Event()

    def start(self) -> None:
        client = part_client(self._login, self._part, self._log)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(self._login.host, self._login.port, KEEPALIVE_S)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def _on_connect(
        self,
        client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._log.error("broker refused the hub's %s client: %s", self._part, reason)
            return
        client.subscribe(self._filters)

    def _on_subscribe(
        self,
        _client: Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            self._log.error("broker refused the subscription %s: %s", self._filters, reasons)
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._subscribed.clear()
        if self._client is not None:
            self._log.warning("hub's %s client disconnected: %s", self._part, reason)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        self._handle(message.topic, bytes(message.payload))


class Refusals:
    """Messages a part refused: counted by reason, logged at most once a minute per reason, so
    a flood of bad messages never fills the journal."""

    def __init__(self, metrics: Metrics, counter: str, logger: logging.Logger) -> None:
        self._metrics = metrics
        self._counter = counter
        self._log = logger
        self._last_log: dict[str, float] = {}

    def __call__(self, reason: str, message: str) -> None:
        self._metrics.inc(self._counter, reason=reason)
        now = time.monotonic()
        if now - self._last_log.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[reason] = now
            self._log.warning("%s (further ones counted, logged once a minute)", message)
