"""The hub's MQTT consumer: events in, ledger commit, then the ack the edge waits for.

Messages are PUBACKed to the broker only after the batch holding them is committed (paho's
manual ack), so a hub killed mid-batch gets them again from its persistent session; the edge's
outbox covers the rest. Anything that is not a valid event from the device its topic names is
dead-lettered with the reason, counted, and acknowledged so it never blocks the stream.

One thread does all the MQTT work (paho's external-loop API: our own select over the socket and
the committer's pipe), and a committer validates and commits each batch elsewhere (see
`committer.py`): paho's network work and the ledger's never wait for each other.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt import connect_persistent
from contracts.topics import DEFAULT_PREFIX, Kind, site_filter
from edge.link import QuietDisconnect
from hub.errors import StoreUnavailable
from hub.ingest.batch import DeadLetter, EventSink, ForgedDevice, Outcome
from hub.ingest.committer import Committer, CommitterLost
from hub.ingest.metrics import Metrics

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

__all__ = ["DeadLetter", "EventSink", "ForgedDevice", "Ingest", "IngestSettings"]

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

SESSION_EXPIRY_S = 7 * 24 * 3600  # a hub down for a long weekend still finds its queue
RETRY_S = 1.0
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
IDLE_S = 0.25  # how soon an idle loop notices stop()
FINAL_COMMIT_S = 10.0  # stop() waits this long for the batches being committed, to ack them
# Batches at the committer at once: it validates the next while it commits one.
MAX_IN_FLIGHT = 2
READ_BURST = 100  # packets read per wake-up at most, so batches still leave on time
FLUSH_S = 2.0


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
    # Commit in a child process (when the database can be opened from one), else in a thread.
    commit_process: bool = True


@dataclass(frozen=True)
class _Batch:
    messages: list[tuple[str, bytes]]
    mids: list[int]  # packet ids to PUBACK once committed (0: nothing to ack)
    connection: int  # the broker connection the packet ids belong to


class Ingest:
    def __init__(
        self,
        settings: IngestSettings,
        sink: EventSink,
        metrics: Metrics | None = None,
        *,
        on_commit: Callable[[], object] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        # Told after each batch that recorded new events (telemetry export, maintenance): it
        # must only set a flag, it runs on the ingest's thread.
        self._on_commit = on_commit
        _describe(self.metrics)
        self._committer = Committer(sink, settings.prefix, process=settings.commit_process)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        # Owned by the loop thread alone, like every call on the client.
        # Each message as (topic, payload) and its packet id, never paho's message object: a
        # backlog of those (properties and all) made every garbage collection crawl.
        self._pending: list[tuple[str, bytes]] = []
        self._pending_mids: list[int] = []
        self._oldest = 0.0  # when the oldest pending message came (monotonic)
        self._in_flight: deque[_Batch] = deque()  # at the committer, results due in this order
        self._unsent: deque[_Batch] = deque()  # refused or lost, sent again from _retry_at on
        self._retry_at = 0.0
        self._connection = 0  # counts connections: packet ids only mean something in theirs
        self._reconnect_delay = RECONNECT_MIN_S
        self._address = (settings.host, settings.port)
        self._client = self._build_client()

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> Ingest:
        s = self.settings
        connect_persistent(
            self._client, s.host, s.port, v5=s.protocol == "5", expiry_s=SESSION_EXPIRY_S
        )
        self._committer.start()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()
        self._connected.wait(timeout)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(FINAL_COMMIT_S + 5)
        self._committer.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def commit_in_process(self) -> bool:
        """True once batches are committed in the committer process (not in a thread)."""
        return self._committer.in_process

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
        self._reconnect_delay = RECONNECT_MIN_S
        # A new connection: the packet ids of what we hold are the old one's. The broker sends
        # again what the old one did not acknowledge; a PUBACK now could hit another message.
        self._connection += 1
        self._pending_mids = [0] * len(self._pending)
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
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append((message.topic, bytes(message.payload)))
        # QoS 0 (a device's choice) has nothing to acknowledge; the subscription caps it at 1.
        self._pending_mids.append(message.mid if message.qos else 0)

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        first = True
        while not self._stopping.is_set():
            sock = self._client.socket()
            if sock is not None:
                try:
                    self._step(sock)
                except Exception:
                    # A bug here must not end the ingest for good: what is not acked comes again.
                    log.exception("ingest loop failure")
                    self._stopping.wait(RETRY_S)
                continue
            # As paho's own loop: a pause before every reconnect, longer after each failure.
            if not first and self._stopping.wait(self._reconnect_delay):
                break
            first = False
            self._reconnect_delay = min(self._reconnect_delay * 2, RECONNECT_MAX_S)
            try:
                self._client.reconnect()
            except OSError as exc:
                log.warning("cannot reach the broker at %s:%d: %s", *self._address, exc)
        self._finish()

    def _step(self, sock: SocketLike) -> None:
        client = self._client
        fd, committer = sock.fileno(), self._committer.connection.fileno()
        readable, writable, _ = select.select(
            [fd, committer], [fd] if client.want_write() else [], [], self._timeout()
        )
        if fd in readable:
            self._read_burst()
        if fd in writable:
            client.loop_write()
        client.loop_misc()
        if committer in readable:
            self._take_result()
        self._dispatch()

    def _read_burst(self) -> None:
        # paho reads one packet per call; while events keep coming, read on rather than go
        # through select and the loop's bookkeeping for each one.
        for _ in range(READ_BURST):
            count = len(self._pending)
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if len(self._pending) == count:
                return  # nothing more buffered, or not an event (acks of our own acks)

    def _timeout(self) -> float:
        if not self._committer.room(MAX_IN_FLIGHT):
            return IDLE_S  # the committer's pipe wakes us
        now = time.monotonic()
        if self._unsent:
            return min(IDLE_S, max(0.0, self._retry_at - now))
        if self._pending:
            return min(IDLE_S, max(0.0, self._oldest + self.settings.batch_wait_s - now))
        return IDLE_S

    def _dispatch(self) -> None:
        """Hand the committer batches while it has room and one is due; refused ones first."""
        now = time.monotonic()
        while self._committer.room(MAX_IN_FLIGHT):
            if self._unsent:
                if now < self._retry_at:
                    return
                batch = self._unsent.popleft()
            elif self._pending and (
                len(self._pending) >= self.settings.batch_max
                or now >= self._oldest + self.settings.batch_wait_s
            ):
                batch = self._cut(now)
            else:
                return
            try:
                self._committer.submit(batch.messages, datetime.now(UTC))
            except CommitterLost as exc:
                self._unsent.appendleft(batch)
                self._lost(exc)
                return
            self._in_flight.append(batch)

    def _cut(self, now: float) -> _Batch:
        size = self.settings.batch_max
        batch = _Batch(self._pending[:size], self._pending_mids[:size], self._connection)
        del self._pending[:size], self._pending_mids[:size]
        # What stays has waited already: it goes as soon as the committer has room.
        self._oldest = now - self.settings.batch_wait_s
        return batch

    def _take_result(self) -> None:
        try:
            outcome = self._committer.take()
        except CommitterLost as exc:
            self._lost(exc)
            return
        except StoreUnavailable as exc:
            self._unsent.append(self._in_flight.popleft())
            self._failed(exc)
            return
        batch = self._in_flight.popleft()
        self._count(outcome)
        if outcome.new and self._on_commit is not None:
            self._on_commit()
        # Committed: now, and only now, the edge may forget these events.
        for ack_topic, payload in outcome.acks:
            self._client.publish(ack_topic, payload, qos=1)
            self.metrics.inc("ingest_acks_sent_total")
        if batch.connection == self._connection:
            for mid in batch.mids:
                if mid:
                    self._client.ack(mid, 1)

    def _lost(self, exc: CommitterLost) -> None:
        # Whatever it had is lost with it: all of that goes again, oldest first, to its
        # successor (whose results must not be taken for those of the dead one's batches).
        self._unsent.extendleft(reversed(self._in_flight))
        self._in_flight.clear()
        self._failed(exc)

    def _failed(self, exc: StoreUnavailable) -> None:
        self.metrics.inc("ingest_store_failures_total")
        waiting = sum(len(batch.messages) for batch in self._unsent)
        log.error("cannot store %d messages, retrying: %s", waiting, exc)
        if isinstance(exc, CommitterLost) and not self._stopping.is_set():
            self._committer.restart()
        self._retry_at = time.monotonic() + RETRY_S

    def _count(self, outcome: Outcome) -> None:
        for refused in outcome.refused:
            self.metrics.inc("ingest_dead_letters_total", reason=refused.kind)
            log.warning("dead letter from %s: %s", refused.topic, refused.reason)
        for where in outcome.misrouted:
            self.metrics.inc("ingest_misrouted_total")
            log.debug("ignored a message on %s, outside the event subscription", where)
        self.metrics.inc("ingest_events_total", outcome.events)
        self.metrics.inc("ingest_events_new_total", outcome.new)
        self.metrics.inc("ingest_batches_total")

    def _finish(self) -> None:
        """On stop: ack the batches being committed if they end soon, then leave the broker."""
        deadline = time.monotonic() + FINAL_COMMIT_S
        while self._in_flight and self._committer.connection.poll(
            max(0.0, deadline - time.monotonic())
        ):
            self._take_result()
        self._flush()
        self._client.disconnect()
        self._flush()

    def _flush(self) -> None:
        # Written at once unless the socket's buffer was full; then give it a moment.
        deadline = time.monotonic() + FLUSH_S
        while self._client.want_write() and (sock := self._client.socket()) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            select.select([], [sock.fileno()], [], left)
            self._client.loop_write()


def _describe(metrics: Metrics) -> None:
    metrics.describe("ingest_events_total", "Valid events received (duplicates included).")
    metrics.describe("ingest_events_new_total", "Events recorded for the first time.")
    metrics.describe("ingest_dead_letters_total", "Messages refused and kept as dead letters.")
    metrics.describe("ingest_batches_total", "Batches committed.")
    metrics.describe("ingest_acks_sent_total", "Ack messages published to devices.")
    metrics.describe("ingest_store_failures_total", "Batches the database refused (retried).")
    metrics.describe("ingest_misrouted_total", "Messages the broker sent outside our subscription.")
