"""Devices' statuses and newest telemetry, from the broker: what the console shows of them.

A client of its own subscribes to every device's retained `status` (QoS 1: a device's last
will says when it went away) and its `telemetry` (QoS 0). Each status from the device its
machine has registered is kept in `device_status`; the newest sample per device stays in
memory, for the live board's job progress. Statuses are written by a thread of their own, at
most once a second, all devices in one transaction: paho's thread never waits for the database
(a slow one would make it miss its keepalive), and a device flooding statuses costs the ledger
one short write a second, not one per message; a device's last few statuses are applied in
the order they came, so a late will is judged against what came before it.

A status or sample that is malformed, names another device than its topic, or comes from a
device no machine has, is refused, counted by reason and logged once a minute; nothing else is
affected.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from contracts.codec import decode_status, decode_telemetry
from contracts.errors import ContractError
from contracts.models import Status, Telemetry
from contracts.topics import Kind, Topic, parse, site_filter
from edge.link import QuietDisconnect
from hub.db import writing
from hub.devices.health import record_status, registered_machine
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin, Refusals, Subscription

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

Clock = Callable[[], datetime]
FLUSH_S = 1.0
# Statuses kept per device between two writes; a flood beyond keeps the newest.
MAX_PENDING = 8


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Heard:
    """A device's newest sample and when the hub received it (its own clock may be off)."""

    sample: Telemetry
    received_at: datetime


Latest = Callable[[str, str], Heard | None]


class DeviceWatch:
    """`handle` judges a message, usable without a broker; `flush` writes the statuses it
    queued (`start` does so every second, and subscribes)."""

    def __init__(
        self,
        login: BrokerLogin,
        sessions: sessionmaker[Session],
        *,
        site: str | None = None,
        metrics: Metrics | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self._prefix = login.prefix
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics or Metrics()
        _describe(self._metrics)
        self._refuse = Refusals(self._metrics, "device_messages_rejected_total", log)
        where = site or "+"
        filters = [
            (site_filter(Kind.STATUS, where, login.prefix), 1),
            (site_filter(Kind.TELEMETRY, where, login.prefix), 0),
        ]
        # Not shared between replicas: each one's console shows every device.
        self._subscription = Subscription(login, "devices", filters, self.handle, paho_log)
        self._samples: dict[tuple[str, str], Heard] = {}
        self._pending: dict[str, deque[tuple[Status, datetime]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DeviceWatch:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="device-watch", daemon=True)
        self._thread.start()
        self._subscription.start()
        return self

    def stop(self) -> None:
        self._subscription.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def flush(self) -> int:
        """Write the statuses received since the last flush; how many were kept."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with writing(self._sessions) as session:
                kept = sum(self._record(session, queued) for queued in pending.values())
        except SQLAlchemyError as exc:
            # Devices repeat their status every minute, and the broker retains the last.
            count = sum(len(queued) for queued in pending.values())
            self._refuse("store", f"{count} device statuses not stored: {exc}")
            return 0
        self._metrics.inc("device_statuses_total", kept)
        return kept

    def _record(self, session: Session, queued: deque[tuple[Status, datetime]]) -> int:
        kept = 0
        for status, received_at in queued:
            wrong = registered_machine(session, status)
            if wrong is not None:
                self._refuse("unregistered", f"status refused: {wrong}")
                continue
            record_status(session, status, received_at)
            kept += 1
        return kept

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            try:
                self.flush()
            except Exception:
                # Whatever it was, the next second tries again with what came since.
                log.exception("device statuses not written")

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscription.wait_subscribed(timeout)

    def latest(self, site: str, device_id: str) -> Heard | None:
        """The newest sample the device sent since the hub started, if any."""
        with self._lock:
            return self._samples.get((site, device_id))

    def handle(self, topic: str, payload: bytes) -> bool:
        """Keep the sample, or queue the status; False (counted, logged) when it is refused."""
        try:
            where = parse(topic, self._prefix)
            if where.kind is Kind.STATUS:
                return self._status(where, decode_status(payload))
            if where.kind is Kind.TELEMETRY:
                return self._sample(where, decode_telemetry(payload))
        except ContractError as exc:
            self._refuse("malformed", f"device message on {topic} refused: {exc}")
            return False
        self._refuse("malformed", f"device message on {topic} refused: not a status or sample")
        return False

    def _status(self, where: Topic, status: Status) -> bool:
        """Queue the status for the next write (where its device's registration is checked)."""
        if not self._from_topic(where, status.site, status.device_id):
            return False
        with self._lock:
            queued = self._pending.setdefault(status.device_id, deque(maxlen=MAX_PENDING))
            queued.append((status, self._clock()))
        return True

    def _sample(self, where: Topic, sample: Telemetry) -> bool:
        if not self._from_topic(where, sample.site, sample.device_id):
            return False
        # The last received, not the latest timed: a device rebooted with its clock behind
        # would otherwise never be shown again.
        heard = Heard(sample, self._clock())
        with self._lock:
            self._samples[(sample.site, sample.device_id)] = heard
        return True

    def _from_topic(self, where: Topic, site: str, device_id: str) -> bool:
        if (site, device_id) == (where.site, where.device):
            return True
        self._refuse("forged", f"message on {where} names {site}/{device_id}: refused")
        return False


def _describe(metrics: Metrics) -> None:
    metrics.describe("device_statuses_total", "Device statuses kept for the console.")
    metrics.describe(
        "device_messages_rejected_total",
        "Device statuses and samples the console's watch refused, by reason.",
    )
