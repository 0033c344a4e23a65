"""The hub's MQTT consumer: events in, ledger commit, then the ack the edge waits for.

Messages are PUBACKed to the broker only after the batch holding them is committed (paho's
manual ack), so a hub killed mid-batch gets them again from its persistent session; the edge's
outbox covers the rest. Anything that is not a valid event from the device its topic names is
dead-lettered with the reason, counted, and acknowledged so it never blocks the stream.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts import codec
from contracts.errors import ContractError
from contracts.models import Ack, Event
from contracts.mqtt import connect_persistent
from contracts.topics import DEFAULT_PREFIX, Kind, parse, site_filter, topic
from edge.link import QuietDisconnect
from hub.ingest.metrics import Metrics

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

SESSION_EXPIRY_S = 7 * 24 * 3600  # a hub down for a long weekend still finds its queue
MAX_IDS_PER_ACK = 1000  # contracts.models.Ack bound
RETRY_S = 1.0


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str


class EventSink(Protocol):
    def store(self, events: list[Event], dead: list[DeadLetter], *, received_at: datetime) -> int:
        """Commit valid events (idempotent on event_id) and dead letters in one transaction;
        return how many events were new. Raises StoreUnavailable when the database cannot."""
        ...


@dataclass(frozen=True)
class IngestSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "machinerie-hub"
    # Hub replicas in one shared-subscription group share the events between them.
    group: str | None = None
    protocol: Literal["3.1.1", "5"] = "5"
    prefix: str = DEFAULT_PREFIX
    batch_max: int = 500
    batch_wait_s: float = 0.005


@dataclass
class _Batch:
    messages: list[MQTTMessage] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


class Ingest:
    def __init__(
        self, settings: IngestSettings, sink: EventSink, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self._sink = sink
        self.metrics = metrics or Metrics()
        _describe(self.metrics)
        self._inbox: queue.SimpleQueue[MQTTMessage] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._worker: threading.Thread | None = None
        self._client = self._build_client()

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> Ingest:
        s = self.settings
        connect_persistent(
            self._client, s.host, s.port, v5=s.protocol == "5", expiry_s=SESSION_EXPIRY_S
        )
        self._client.loop_start()
        self._worker = threading.Thread(target=self._work, name="ingest", daemon=True)
        self._worker.start()
        self._connected.wait(timeout)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(10)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # ------------------------------------------------------------ paho side

    def _build_client(self) -> Client:
        s = self.settings
        v5 = s.protocol == "5"
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=None if v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        client.enable_logger(paho_log)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(1, 30)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def subscription(self) -> str:
        events = site_filter(Kind.EVENT, prefix=self.settings.prefix)
        group = self.settings.group
        return events if group is None else f"$share/{group}/{events}"

    def _on_connect(
        self,
        client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the hub: %s", reason)
            return
        # Subscribed again on every connect: after a broker crash the stored session may be gone.
        client.subscribe(self.subscription(), qos=1)
        log.info("hub ingest connected, subscribing to %s", self.subscription())

    def _on_subscribe(
        self,
        _client: Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        # Ready only once the broker granted the subscription: an event published before
        # the SUBACK would otherwise find no subscriber and no stored session to queue it.
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the hub's subscription: %s", reasons)
            return
        self._connected.set()

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("hub ingest disconnected: %s", reason)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        # paho's network thread: hand over and return; the worker commits and acks.
        self._inbox.put(message)

    # ------------------------------------------------------------ worker

    def _work(self) -> None:
        pending: list[MQTTMessage] = []
        while not self._stopping.is_set():
            pending += self._collect(self.settings.batch_max - len(pending))
            if pending and self._commit(pending):
                pending = []
            elif pending:
                self._stopping.wait(RETRY_S)

    def _collect(self, room: int) -> list[MQTTMessage]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        messages = [first]
        deadline = time.monotonic() + self.settings.batch_wait_s
        while len(messages) < room:
            try:
                messages.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return messages

    def _commit(self, messages: list[MQTTMessage]) -> bool:
        batch = _Batch(messages)
        for message in messages:
            self._classify(batch, message)
        try:
            new = self._sink.store(batch.events, batch.dead, received_at=datetime.now(UTC))
        except Exception as exc:
            self.metrics.inc("ingest_store_failures_total")
            log.error("cannot store %d events, retrying: %s", len(batch.events), exc)
            return False
        self._acknowledge(batch)
        self.metrics.inc("ingest_events_total", len(batch.events))
        self.metrics.inc("ingest_events_new_total", new)
        self.metrics.inc("ingest_batches_total")
        return True

    def _classify(self, batch: _Batch, message: MQTTMessage) -> None:
        if not message.topic.endswith(f"/{Kind.EVENT.value}"):
            # Not ours to judge: amqtt 0.12 hands a new wildcard subscription retained
            # messages from topics it does not match (access lists). Counted, acked, dropped.
            self.metrics.inc("ingest_misrouted_total")
            log.debug("ignored a message on %s, outside the event subscription", message.topic)
            return
        payload = bytes(message.payload)
        try:
            batch.events.append(self._validate(message.topic, payload))
        except ContractError as exc:
            reason = str(exc)
            batch.dead.append(DeadLetter(message.topic, payload, reason))
            self.metrics.inc("ingest_dead_letters_total", reason=type(exc).__name__)
            log.warning("dead letter from %s: %s", message.topic, reason)

    def _validate(self, raw_topic: str, payload: bytes) -> Event:
        where = parse(raw_topic, self.settings.prefix)
        event = codec.decode_event(payload)
        if (event.site, event.device_id) != (where.site, where.device):
            # The broker ACL already stops this; a hub that trusted payloads would still
            # book one device's sessions on another.
            claimed = f"{event.site}/{event.device_id}"
            raise ForgedDevice(f"event from {claimed} on the topic of {where.site}/{where.device}")
        return event

    def _acknowledge(self, batch: _Batch) -> None:
        by_topic: defaultdict[str, list[str]] = defaultdict(list)
        for event in batch.events:
            ack_topic = topic(event.site, event.device_id, Kind.ACK, self.settings.prefix)
            by_topic[ack_topic].append(str(event.event_id))
        for ack_topic, ids in by_topic.items():
            for start in range(0, len(ids), MAX_IDS_PER_ACK):
                ack = Ack.model_validate({"event_ids": ids[start : start + MAX_IDS_PER_ACK]})
                self._client.publish(ack_topic, codec.encode(ack), qos=1)
                self.metrics.inc("ingest_acks_sent_total")
        for message in batch.messages:
            self._client.ack(message.mid, message.qos)


class ForgedDevice(ContractError):
    """An event whose device is not the one its topic names."""


def _describe(metrics: Metrics) -> None:
    metrics.describe("ingest_events_total", "Valid events received (duplicates included).")
    metrics.describe("ingest_events_new_total", "Events recorded for the first time.")
    metrics.describe("ingest_dead_letters_total", "Messages refused and kept as dead letters.")
    metrics.describe("ingest_batches_total", "Batches committed.")
    metrics.describe("ingest_acks_sent_total", "Ack messages published to devices.")
    metrics.describe("ingest_store_failures_total", "Batches the database refused (retried).")
    metrics.describe("ingest_misrouted_total", "Messages the broker sent outside our subscription.")
