"""The agent's durable outbox: every event is committed to SQLite before anything else happens.

Rows leave the outbox only when the hub acknowledges them; a corrupt row is quarantined, never
silently dropped, and the bound refuses only events that cost no money.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from contracts.codec import encode
from contracts.models import BILLABLE, Event
from edge.errors import OutboxError, OutboxFull
from edge.store import Store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    crc INTEGER NOT NULL,
    billable INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    event_id TEXT,
    payload TEXT,
    crc INTEGER,
    reason TEXT NOT NULL,
    quarantined_at REAL NOT NULL
);
"""
# The seq lives in kv, not in MAX(seq): rows are deleted once acked, and a seq must never be
# reused or the hub would see a restarted sequence as a gap or a replay.
_LAST_SEQ = "outbox.last_seq"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored event, ready for the wire."""

    seq: int
    event_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Raw:
    seq: int
    event_id: str
    payload: str
    crc: int


class Outbox:
    """Bounded, crash-safe queue of events awaiting the hub's ack."""

    def __init__(
        self,
        store: Store,
        *,
        max_events: int,
        alarm_fraction: float,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._max = max_events
        self._alarm_at = max(1, int(max_events * alarm_fraction))
        self._wall = wall_clock
        self.counters: dict[str, int] = dict.fromkeys(
            ("appended", "refused", "acknowledged", "corrupt_rows"), 0
        )
        try:
            store.ensure(_SCHEMA)
            self._last_seq = int(store.get(_LAST_SEQ) or 0)
            with store.reading() as conn:
                self._backlog = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox in {store.path}: {exc}") from exc
        self.alarm_active = self._backlog >= self._alarm_at

    def backlog(self) -> int:
        """Events stored and not yet acknowledged by the hub."""
        return self._backlog

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def append(
        self,
        make: Callable[[int], Event],
        *,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Event:
        """Build the event with the next seq and commit it durably; return it.

        `also` runs in the same transaction (the session journal), so both land or neither.
        """
        with self._store.lock:
            seq = self._last_seq + 1
            event = make(seq)
            if event.seq != seq:
                raise OutboxError(f"event built with seq={event.seq}, expected {seq}")
            self._check_room(event)
            payload = encode(event).decode()
            try:
                with self._store.transaction() as conn:
                    _insert(conn, event, payload, self._wall())
                    if also is not None:
                        also(conn)
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot store event seq={seq}: {exc}") from exc
            self._last_seq = seq
            self._backlog += 1
            self.counters["appended"] += 1
        self._update_alarm()
        return event

    def _check_room(self, event: Event) -> None:
        if self._backlog < self._max or event.type in BILLABLE:
            return
        self.counters["refused"] += 1
        raise OutboxFull(
            f"outbox holds {self._backlog} events (bound {self._max}): {event.type.value} refused"
        )

    def pending(self, after_seq: int, limit: int) -> list[OutboxRow]:
        """Up to `limit` valid rows with seq > after_seq, oldest first; corrupt rows quarantined."""
        rows: list[OutboxRow] = []
        cursor = after_seq
        while len(rows) < limit:
            raws = self._read(cursor, limit - len(rows))
            if not raws:
                break
            for raw in raws:
                row = self._check(raw)
                if row is not None:
                    rows.append(row)
            cursor = raws[-1].seq
        return rows

    def _read(self, after_seq: int, limit: int) -> list[_Raw]:
        try:
            with self._store.reading() as conn:
                found = conn.execute(
                    "SELECT seq, event_id, payload, crc FROM outbox WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (after_seq, limit),
                ).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read the outbox: {exc}") from exc
        return [_Raw(int(s), str(e), str(p), int(c)) for s, e, p, c in found]

    def _check(self, raw: _Raw) -> OutboxRow | None:
        # Validation runs outside the store lock so a long scan never delays an append.
        payload = raw.payload.encode()
        problem = _problem(raw, payload)
        if problem is None:
            return OutboxRow(raw.seq, raw.event_id, payload)
        self._quarantine(raw, problem)
        return None

    def _quarantine(self, raw: _Raw, reason: str) -> None:
        try:
            with self._store.transaction() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO quarantine "
                    "(seq, event_id, payload, crc, reason, quarantined_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (raw.seq, raw.event_id, raw.payload, raw.crc, reason, self._wall()),
                )
                moved = conn.execute("DELETE FROM outbox WHERE seq = ?", (raw.seq,)).rowcount
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot quarantine outbox row seq={raw.seq}: {exc}") from exc
        self._backlog -= moved
        self.counters["corrupt_rows"] += 1
        log.error(
            "outbox row seq=%d event_id=%s is corrupt (%s): quarantined",
            raw.seq,
            raw.event_id,
            reason,
        )
        self._update_alarm()

    def acknowledge(self, event_ids: Iterable[str | UUID]) -> int:
        """Delete the rows the hub has committed; return how many were still stored."""
        params = [(str(event_id),) for event_id in event_ids]
        if not params:
            return 0
        try:
            with self._store.relaxed() as conn:
                deleted = conn.executemany("DELETE FROM outbox WHERE event_id = ?", params).rowcount
                self._backlog -= deleted
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot delete {len(params)} acknowledged events: {exc}") from exc
        self.counters["acknowledged"] += deleted
        self._update_alarm()
        return deleted

    def quarantined(self) -> int:
        with self._store.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])

    def _update_alarm(self) -> None:
        active = self._backlog >= self._alarm_at
        if active != self.alarm_active:
            self.alarm_active = active
            log.warning(
                "outbox backlog %d %s alarm level %d (bound %d)",
                self._backlog,
                "reached" if active else "back below",
                self._alarm_at,
                self._max,
            )


def _insert(conn: sqlite3.Connection, event: Event, payload: str, now: float) -> None:
    conn.execute(
        "INSERT INTO outbox (seq, event_id, type, payload, crc, billable, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            event.seq,
            str(event.event_id),
            event.type.value,
            payload,
            zlib.crc32(payload.encode()),
            int(event.type in BILLABLE),
            now,
        ),
    )
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (_LAST_SEQ, str(event.seq)),
    )


def _problem(raw: _Raw, payload: bytes) -> str | None:
    # The payload was validated when the event was built; the CRC proves these are still those
    # bytes, and the identity check that they belong to this row. A full schema validation here
    # would cost a third of the drain rate for no added safety.
    if zlib.crc32(payload) != raw.crc:
        return "crc mismatch"
    try:
        fields = json.loads(payload)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(fields, dict):
        return "not a JSON object"
    if fields.get("seq") != raw.seq or fields.get("event_id") != raw.event_id:
        return f"payload is seq={fields.get('seq')} event_id={fields.get('event_id')}"
    return None
