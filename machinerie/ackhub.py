"""A stand-in for the hub's ingest: records each event once and acks it back to its device.

Used by tests, benchmarks and the demo until the real hub exists; it keeps a persistent QoS 1
session so the broker queues events while it is away, and batches acks for throughput.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.codec import decode_event, encode
from contracts.errors import InvalidPayload, InvalidTopic
from contracts.models import Ack, Event
from contracts.mqtt import connect_persistent
from contracts.topics import DEFAULT_PREFIX, Kind, site_filter, topic
from edge.link import QuietDisconnect

log = logging.getLogger(__name__)
# paho 2.2 logs "Client is not connected" at ERROR after every clean disconnect of a threaded
# loop: its own logger lets operators silence that without losing ours.
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

MAX_IDS_PER_ACK = 1000  # contracts.models.Ack bound
SESSION_EXPIRY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Arrival:
    """Who sent an event and where it stands in that device's sequence."""

    event_id: str
    seq: int
    site: str
    device_id: str

    @classmethod
    def from_json(cls, payload: bytes) -> Arrival:
        try:
            fields = json.loads(payload)
            return cls(
                str(fields["event_id"]),
                int(fields["seq"]),
                str(fields["site"]),
                str(fields["device_id"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidPayload(f"not an event envelope: {exc}") from exc


class AckingHub:
    """Subscribes to every device's events, dedupes by event_id, acks in batches."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        client_id: str = "machinerie-ackhub",
        protocol: Literal["3.1.1", "5"] = "5",
        prefix: str = DEFAULT_PREFIX,
        flush_interval_s: float = 0.02,
        flush_ids: int = 250,
        on_event: Callable[[Event], None] | None = None,
        validate: bool = True,
        acking: bool = True,
    ) -> None:
        self._host, self._port, self._prefix = host, port, prefix
        self._v5 = protocol == "5"
        self._flush_interval_s = flush_interval_s
        self._flush_ids = flush_ids
        self._on_event = on_event
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._seen: set[str] = set()
        self._unacked: defaultdict[str, list[str]] = defaultdict(list)
        self._ack_topics: dict[tuple[str, str], str] = {}
        self._flush_now = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        self._connected = threading.Event()
        self.acking = acking
        # Without validation only the envelope's identity is read: a throughput benchmark
        # measures the edge, not the stand-in's schema checks (the real hub does those).
        self._validate = validate
        self.events: list[Event] = []
        self.arrivals: list[Arrival] = []
        self.duplicates = 0
        self.invalid = 0
        self.acks_sent = 0
        self._client = self._build(client_id)

    def _build(self, client_id: str) -> Client:
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if self._v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311,
        )
        client.suppress_exceptions = True
        client.enable_logger(paho_log)
        client.reconnect_delay_set(1, 2)
        client.max_inflight_messages_set(100)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        return client

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> AckingHub:
        """Connect (waiting up to `timeout` for the subscription) and start acking."""
        connect_persistent(
            self._client, self._host, self._port, v5=self._v5, expiry_s=SESSION_EXPIRY_S
        )
        self._client.loop_start()
        self._flusher = threading.Thread(target=self._flush_loop, name="ackhub-flush", daemon=True)
        self._flusher.start()
        self._connected.wait(timeout)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._flush_now.set()
        if self._flusher is not None:
            self._flusher.join(5)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` distinct events have arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.events) >= count, timeout)

    def seqs(self, device_id: str | None = None) -> list[int]:
        """Seqs in first-arrival order, for one device or all."""
        with self._lock:
            return [a.seq for a in self.arrivals if device_id in (None, a.device_id)]

    # ------------------------------------------------------------------ paho callbacks

    def _handle_connect(
        self,
        client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("ack hub: broker refused the connection: %s", reason)
            return
        # Subscribe on every connect: after a broker SIGKILL the stored session may be gone.
        client.subscribe(site_filter(Kind.EVENT, prefix=self._prefix), qos=1)
        log.info("ack hub connected to %s:%d", self._host, self._port)

    def _handle_subscribe(
        self,
        _client: Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        # Ready once the SUBACK is in: events sent before it would reach no subscriber.
        if any(reason.is_failure for reason in reasons):
            log.warning("ack hub: broker refused the subscription: %s", reasons)
            return
        self._connected.set()

    def _handle_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        log.info("ack hub disconnected: %s", reason)

    def _handle_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        if not message.topic.endswith(f"/{Kind.EVENT.value}"):
            return  # amqtt 0.12 sends new wildcard subscribers unrelated retained messages
        try:
            event, arrival = self._parse(bytes(message.payload))
            ack_topic = self._ack_topic(arrival.site, arrival.device_id)
        except (InvalidPayload, InvalidTopic) as exc:
            self.invalid += 1
            log.warning("ack hub: invalid event on %s: %s", message.topic, exc)
            return
        event_id = arrival.event_id
        with self._arrived:
            first = event_id not in self._seen
            if first:
                self._seen.add(event_id)
                self.arrivals.append(arrival)
                if event is not None:
                    self.events.append(event)
                self._arrived.notify_all()
            else:
                self.duplicates += 1
            # Duplicates are acked again: the first ack may be what got lost.
            batch = self._unacked[ack_topic]
            batch.append(event_id)
            full = len(batch) >= self._flush_ids
        if first and event is not None and self._on_event is not None:
            self._on_event(event)
        if full:
            self._flush_now.set()

    def _parse(self, payload: bytes) -> tuple[Event | None, Arrival]:
        if not self._validate:
            return None, Arrival.from_json(payload)
        event = decode_event(payload)
        return event, Arrival(str(event.event_id), event.seq, event.site, event.device_id)

    def _ack_topic(self, site: str, device_id: str) -> str:
        key = (site, device_id)
        found = self._ack_topics.get(key)
        if found is None:
            found = self._ack_topics[key] = topic(*key, Kind.ACK, self._prefix)
        return found

    # ------------------------------------------------------------------ acks

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            self._flush_now.wait(self._flush_interval_s)
            self._flush_now.clear()
            if self.acking and self._connected.is_set():
                self._flush()

    def _flush(self) -> None:
        with self._lock:
            batches, self._unacked = self._unacked, defaultdict(list)
        for ack_topic, ids in batches.items():
            for start in range(0, len(ids), MAX_IDS_PER_ACK):
                chunk = ids[start : start + MAX_IDS_PER_ACK]
                ack = Ack.model_validate({"event_ids": chunk})
                self._client.publish(ack_topic, encode(ack), qos=1)
                self.acks_sent += 1


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll `predicate` until true or `timeout` seconds passed (for tests and benchmarks)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True
