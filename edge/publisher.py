"""Sends outbox rows to the hub oldest first and forgets them only on the hub's ack.

A window bounds the events in flight; on a reconnect or an ack timeout everything unacked is
resent from the oldest, so the first arrival of every event at the hub stays in seq order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contracts.codec import decode_ack
from contracts.errors import InvalidPayload
from contracts.topics import Kind
from edge.errors import OutboxError
from edge.outbox import Outbox, OutboxRow

log = logging.getLogger(__name__)

# Without a wake-up (the agent did not wire a callback) the thread still notices changes.
IDLE_POLL_S = 0.5


class Link(Protocol):
    """What the publisher needs from the MQTT link (edge.link.MqttLink)."""

    @property
    def connected(self) -> bool: ...

    @property
    def epoch(self) -> int: ...

    def publish(
        self,
        kind: Kind,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        epoch: int | None = None,
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class _InFlight:
    seq: int
    sent_at: float


class Publisher:
    """One thread: acks in, outbox rows out, at most `window` awaiting the hub."""

    def __init__(
        self,
        outbox: Outbox,
        link: Link,
        *,
        window: int,
        ack_timeout_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._window = window
        self._ack_timeout_s = ack_timeout_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._acks: deque[bytes] = deque()
        self._in_flight: OrderedDict[str, _InFlight] = OrderedDict()
        self._cursor = 0  # highest seq handed to the current connection
        self._sent_high = 0  # highest seq ever published: anything at or below is a resend
        self._epoch = -1
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters: dict[str, int] = dict.fromkeys(
            ("published", "resent", "acked", "malformed_acks", "rewinds"), 0
        )

    # ------------------------------------------------------------------ agent-facing

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Call after an append: the new row goes out without waiting for the poll."""
        self._wakeup.set()

    def on_connection_change(self, _connected: bool) -> None:
        """Wire to MqttLink.on_connection_change; the link's epoch tells what changed."""
        self._wakeup.set()

    def handle_ack(self, payload: bytes) -> None:
        """Queue an ack payload; quick enough to call from paho's network thread."""
        self._acks.append(payload)
        self._wakeup.set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                self._step()
            except OutboxError:
                log.exception("outbox failure; retrying in %.1f s", IDLE_POLL_S)
            self._wakeup.wait(self._sleep_s())

    def _step(self) -> None:
        self._apply_acks()
        if not self._link.connected:
            return
        if self._link.epoch != self._epoch:
            self._rewind(f"connection {self._link.epoch}")
        elif self._oldest_overdue():
            self._rewind(f"no ack within {self._ack_timeout_s:.1f} s")
        self._fill_window()

    def _apply_acks(self) -> None:
        while self._acks:
            payload = self._acks.popleft()
            try:
                ack = decode_ack(payload)
            except InvalidPayload as exc:
                self.counters["malformed_acks"] += 1
                log.warning("ignored a malformed ack (%d bytes): %s", len(payload), exc)
                continue
            ids = [str(event_id) for event_id in ack.event_ids]
            self.counters["acked"] += self._outbox.acknowledge(ids)
            with self._lock:
                for event_id in ids:
                    self._in_flight.pop(event_id, None)

    def _oldest_overdue(self) -> bool:
        with self._lock:
            oldest = next(iter(self._in_flight.values()), None)
        return oldest is not None and self._monotonic() - oldest.sent_at > self._ack_timeout_s

    def _rewind(self, why: str) -> None:
        with self._lock:
            unacked = len(self._in_flight)
            self._in_flight.clear()
        self._cursor = 0
        self._epoch = self._link.epoch
        if unacked:
            self.counters["rewinds"] += 1
            log.info("resending %d unacked events from the oldest: %s", unacked, why)

    def _fill_window(self) -> None:
        room = self._window - self.in_flight()
        if room <= 0:
            return
        sent: list[OutboxRow] = []
        for row in self._outbox.pending(self._cursor, room):
            if not self._link.publish(Kind.EVENT, row.payload, qos=1, epoch=self._epoch):
                break
            sent.append(row)
            self._cursor = row.seq
            self._count_sent(row.seq)
        # Acks are applied on this thread too, so none can overtake the bookkeeping below.
        now = self._monotonic()
        with self._lock:
            for row in sent:
                self._in_flight[row.event_id] = _InFlight(row.seq, now)

    def _count_sent(self, seq: int) -> None:
        if seq <= self._sent_high:
            self.counters["resent"] += 1
        else:
            self._sent_high = seq
            self.counters["published"] += 1

    def _sleep_s(self) -> float:
        if not self._link.connected:
            return IDLE_POLL_S
        with self._lock:
            oldest = next(iter(self._in_flight.values()), None)
        if oldest is None:
            return IDLE_POLL_S
        overdue_in = oldest.sent_at + self._ack_timeout_s - self._monotonic()
        return max(0.01, min(IDLE_POLL_S, overdue_in))
