"""Turns the session machine's Record commands into numbered events in the outbox.

The open-session journal is written in the same transaction as the event that changes it, so
after a crash the disk never holds a session the outbox does not know about, or the reverse.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from contracts.models import Event, EventType, Model, OpenSession
from edge import journal
from edge.clock import Clock
from edge.errors import OutboxError, OutboxFull
from edge.outbox import Outbox
from edge.session import Cleared

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    site: str
    device_id: str
    machine_id: str
    boot_id: UUID


def read_boot_id() -> UUID:
    """The kernel's id for this boot; a fresh one where there is none (not Linux)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return UUID(handle.read().strip())
    except (OSError, ValueError):
        return uuid.uuid4()


class Recorder:
    def __init__(
        self,
        outbox: Outbox,
        identity: Identity,
        clock: Clock,
        *,
        on_appended: Callable[[], None] = lambda: None,
    ) -> None:
        self._outbox = outbox
        self._identity = identity
        self._clock = clock
        self._on_appended = on_appended
        self.counters = {"refused": 0}

    def record(
        self, type_: EventType, data: Model, journal_change: OpenSession | Cleared | None = None
    ) -> Event | None:
        """Store the event durably; None if the outbox refused a non-billable one.

        Raises OutboxError when a billable event cannot be stored: the caller must not act
        (close the relay) on an unrecorded session.
        """
        try:
            event = self._outbox.append(
                self._builder(type_, data), also=self._journal(journal_change)
            )
        except OutboxFull as exc:
            self.counters["refused"] += 1
            log.warning("%s", exc)
            return None
        self._on_appended()
        return event

    def _builder(self, type_: EventType, data: Model) -> Callable[[int], Event]:
        identity, clock = self._identity, self._clock

        def make(seq: int) -> Event:
            return Event.model_validate(
                {
                    "event_id": uuid.uuid4(),
                    "site": identity.site,
                    "device_id": identity.device_id,
                    "machine_id": identity.machine_id,
                    "boot_id": identity.boot_id,
                    "seq": seq,
                    "time": clock.now(),
                    "clock_synced": clock.synced(),
                    "type": type_,
                    "data": data,
                }
            )

        return make

    def _journal(
        self, change: OpenSession | Cleared | None
    ) -> Callable[[sqlite3.Connection], None] | None:
        if change is None:
            return None
        now = self._clock.now()
        if isinstance(change, OpenSession):
            return lambda conn: journal.save(conn, change, now)
        return journal.clear


__all__ = ["Identity", "OutboxError", "Recorder", "read_boot_id"]
