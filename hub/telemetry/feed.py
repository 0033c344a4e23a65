"""Machine telemetry from the broker to the writer: `machinerie/v1/+/+/telemetry` at QoS 0.

A client of its own, apart from the ingest's: telemetry is at most once and must never queue in
the ingest's persistent session behind billable events, nor hold it up. A sample that is not a
valid `machinerie.telemetry/1` from the device its topic names is refused, logged (once a
minute per reason, a flood must not fill the journal) and counted; nothing else is affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.codec import decode_telemetry
from contracts.errors import ContractError
from contracts.models import Telemetry
from contracts.topics import Kind, parse, site_filter
from edge.link import QuietDisconnect
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin, part_client
from hub.telemetry.points import machine_point

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

LOG_EVERY_S = 60.0
KEEPALIVE_S = 30

Offer = Callable[[Iterable[str]], object]


class TelemetryFeed:
    """Subscribes to every device's telemetry (of one site, or all) and offers `machine`
    points; `handle` is the whole decision, usable without a broker."""

    def __init__(
        self,
        login: BrokerLogin,
        offer: Offer,
        *,
        site: str | None = None,
        group: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._login = login
        self._offer = offer
        self._metrics = metrics or Metrics()
        _describe(self._metrics)
        where = site_filter(Kind.TELEMETRY, site or "+", login.prefix)
        # Replicas in a group share the samples instead of each writing every one.
        self.filter = f"$share/{group}/{where}" if group else where
        self._client: Client | None = None
        self._subscribed = threading.Event()
        self._last_log: dict[str, float] = {}

    def start(self) -> TelemetryFeed:
        client = self._build_client()
        client.connect_async(self._login.host, self._login.port, KEEPALIVE_S)
        client.loop_start()
        self._client = client
        return self

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def handle(self, topic: str, payload: bytes) -> bool:
        """Offer the sample's point; False (counted, logged) when the sample is refused."""
        sample = self._accept(topic, payload)
        if sample is None:
            return False
        self._metrics.inc("telemetry_samples_total")
        self._offer(machine_point(sample))
        return True

    def _accept(self, topic: str, payload: bytes) -> Telemetry | None:
        try:
            where = parse(topic, self._login.prefix)
            sample = decode_telemetry(payload)
        except ContractError as exc:
            self._refuse("malformed", f"telemetry on {topic} refused: {exc}")
            return None
        if (sample.site, sample.device_id) != (where.site, where.device):
            self._refuse(
                "forged",
                f"telemetry on {topic} names site {sample.site!r} device "
                f"{sample.device_id!r}: refused",
            )
            return None
        return sample

    def _refuse(self, reason: str, message: str) -> None:
        self._metrics.inc("telemetry_rejected_total", reason=reason)
        now = time.monotonic()
        if now - self._last_log.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[reason] = now
            log.warning("%s (further ones counted, logged once a minute)", message)

    # ------------------------------------------------------------ paho side

    def _build_client(self) -> Client:
        client = part_client(self._login, "telemetry", paho_log)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the telemetry feed: %s", reason)
            return
        # A clean session: samples missed while away are not worth replaying.
        client.subscribe(self.filter, qos=0)

    def _on_subscribe(
        self,
        _client: Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the telemetry subscription %s: %s", self.filter, reasons)
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
            log.warning("telemetry feed disconnected: %s", reason)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        self.handle(message.topic, bytes(message.payload))


def _describe(metrics: Metrics) -> None:
    metrics.describe("telemetry_samples_total", "Telemetry samples accepted from devices.")
    metrics.describe(
        "telemetry_rejected_total", "Telemetry samples refused (malformed, forged), by reason."
    )
