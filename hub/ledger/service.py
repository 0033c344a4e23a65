"""Recording device events exactly once, and the sessions and sightings they describe.

Events arrive at least once and in any order; every write here is an idempotent upsert, so a
resent or reordered batch leaves the ledger as if each event had come once, in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, String, func
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from contracts.models import (
    AccessDenied,
    DenyReason,
    Event,
    SessionEnded,
    SessionStarted,
)
from hub.db import upsert
from hub.errors import Invalid, StoreUnavailable
from hub.ledger.models import DeadLetter, EventRecord, MachineSession
from hub.registry.sightings import Sighting, note_sightings

MAX_DEAD_PAYLOAD = 64 * 1024
MAX_TOPIC = 512
MAX_REASON = 2000


@dataclass(frozen=True)
class Recorded:
    """What a batch did: every id to ack, and how many events were new to the ledger."""

    ids: list[UUID]
    new: int


def record_events(
    session: Session, events: Sequence[Event], *, received_at: datetime
) -> list[UUID]:
    """Insert new events, skip known ones, update sessions; returns every id given, to ack.

    Duplicates are acked too: the device resends when our first ack was lost.
    """
    return record_batch(session, events, received_at=received_at).ids


def record_batch(
    session: Session,
    events: Sequence[Event],
    *,
    received_at: datetime,
    payloads: Sequence[bytes] | None = None,
) -> Recorded:
    """`record_events`, also counting the events that were new (for ingest metrics).

    `payloads`, when given, are the JSON documents the events were validated from, one per
    event: the ledger keeps them as received instead of serialising every event again.
    """
    fresh = _insert_new(session, events, received_at=received_at, payloads=payloads)
    apply_sessions(session, fresh)
    note_sightings(session, _sightings(fresh, received_at=received_at))
    return Recorded(ids=[event.event_id for event in events], new=len(fresh))


def _insert_new(
    session: Session,
    events: Sequence[Event],
    *,
    received_at: datetime,
    payloads: Sequence[bytes] | None = None,
) -> list[Event]:
    """Insert the events the ledger lacks; return exactly those, each once, in batch order.

    Exactly: `note_sightings` counts, so an event taken for new twice is a badge seen twice.
    """
    given: dict[UUID, tuple[Event, bytes | None]] = {}
    for index, event in enumerate(events):
        given.setdefault(event.event_id, (event, None if payloads is None else payloads[index]))
    if not given:
        return []
    connection = session.connection()
    writer = _event_writer(connection.dialect)
    rows = writer.rows(given.values(), received_at)
    new = writer.insert(connection, rows)
    return [event for (event, _), row in zip(given.values(), rows, strict=True) if row[0] in new]


# The ledger's columns for one event, in the order of every row tuple below.
EVENT_COLUMNS = (
    "event_id",
    "site",
    "device_id",
    "machine_id",
    "boot_id",
    "seq",
    "type",
    "time",
    "clock_synced",
    "payload",
    "received_at",
)


class _EventWriter:
    """Inserts a batch of events with statements of one fixed shape, whatever the batch size.

    A fixed shape is prepared once per connection and reused (a multi-row VALUES changes with
    the batch length, and PostgreSQL planned every batch again). Values go through the
    columns' own bind processors, so rows are stored exactly as the ORM would store them.
    """

    def __init__(self, dialect: Dialect) -> None:
        columns = EventRecord.__table__.c
        processors = [
            columns[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in EVENT_COLUMNS
        ]
        # received_at, the last column, is the batch's: converted once per batch.
        *per_row, self._received = processors
        self._processors = [(i, p) for i, p in enumerate(per_row) if p is not None]
        self._table = EventRecord.__tablename__
        self._names = ", ".join(EVENT_COLUMNS)

    def rows(
        self, given: Iterable[tuple[Event, bytes | None]], received_at: datetime
    ) -> list[tuple[Any, ...]]:
        received = received_at if self._received is None else self._received(received_at)
        return [self._row(event, payload, received) for event, payload in given]

    def _row(self, event: Event, payload: bytes | None, received: Any) -> tuple[Any, ...]:
        values = [
            event.event_id,
            event.site,
            event.device_id,
            event.machine_id,
            event.boot_id,
            event.seq,
            event.type.value,
            event.time,
            event.clock_synced,
            # Validated JSON is valid UTF-8. Serialising the model again cost more than the
            # rest of the row.
            event.model_dump_json(by_alias=True) if payload is None else payload.decode(),
            received,
        ]
        for index, process in self._processors:
            values[index] = process(values[index])
        return tuple(values)

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> set[Any]:
        """Insert `rows` (distinct event ids) where new; return the new rows' event ids."""
        raise NotImplementedError


class _SQLiteEventWriter(_EventWriter):
    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        # Built from the model's constant names, never from input (hence the noqa).
        self._known = (
            f"SELECT event_id FROM {self._table} "  # noqa: S608
            "WHERE event_id IN (SELECT value FROM json_each(?))"
        )
        marks = ", ".join("?" for _ in EVENT_COLUMNS)
        self._insert = (
            f"INSERT INTO {self._table} ({self._names}) VALUES ({marks}) "  # noqa: S608
            "ON CONFLICT (event_id) DO NOTHING"
        )

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> set[Any]:
        # SQLite has no executemany with RETURNING, but one writer at a time: what this
        # transaction read cannot change before it writes (had another writer committed in
        # between, SQLite would refuse our write and the batch be retried).
        ids = json.dumps([row[0] for row in rows])
        known = set(connection.exec_driver_sql(self._known, (ids,)).scalars())
        fresh = [row for row in rows if row[0] not in known]
        if fresh:
            inserted = connection.exec_driver_sql(self._insert, fresh).rowcount
            if inserted != len(fresh):
                raise StoreUnavailable(f"{len(fresh) - inserted} events appeared meanwhile")
        return {row[0] for row in fresh}


class _PostgreSQLEventWriter(_EventWriter):
    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        columns = EventRecord.__table__.c
        # One array per column, sent binary (psycopg's %b: no quoting and parsing of the
        # payloads' text), and the batch's one receive time. Arrays of TEXT, not VARCHAR(n):
        # that cast would cut an overlong value silently where the insert refuses it.
        arrays = ", ".join(
            f"%b::{_pg_type(columns[name], dialect)}[]" for name in EVENT_COLUMNS[:-1]
        )
        received = _pg_type(columns[EVENT_COLUMNS[-1]], dialect)
        # RETURNING names the rows this statement inserted: another hub inserting the same
        # event waits for our commit and then skips it, so each event is new to one of them.
        self._insert = (
            f"INSERT INTO {self._table} ({self._names}) "  # noqa: S608 (constant names)
            f"SELECT *, %b::{received} FROM unnest({arrays}) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> set[Any]:
        # In the statement's order: the receive time, then one array per other column.
        columns = [list(values) for values in zip(*rows, strict=True)]
        params = (rows[0][-1], *columns[:-1])
        return set(connection.exec_driver_sql(self._insert, params).scalars())


def _pg_type(column: ColumnElement[Any], dialect: Dialect) -> str:
    return "TEXT" if isinstance(column.type, String) else column.type.compile(dialect=dialect)


_WRITERS: dict[type[Dialect], _EventWriter] = {}


def _event_writer(dialect: Dialect) -> _EventWriter:
    writer = _WRITERS.get(type(dialect))
    if writer is None:
        if dialect.name == "sqlite":
            writer = _SQLiteEventWriter(dialect)
        elif dialect.name == "postgresql" and dialect.driver == "psycopg":
            writer = _PostgreSQLEventWriter(dialect)
        else:
            raise Invalid(
                f"the ledger runs on SQLite or on PostgreSQL through psycopg, not on "
                f"{dialect.name}+{dialect.driver}"
            )
        _WRITERS[type(dialect)] = writer
    return writer


def apply_sessions(session: Session, events: Sequence[Event]) -> None:
    """Fold session events into `sessions`; any order and any repetition give the same rows."""
    started = [_started(e) for e in events if isinstance(e.data, SessionStarted)]
    ended = [_ended(e) for e in events if isinstance(e.data, SessionEnded)]
    table = MachineSession.__table__
    if started:
        stmt = upsert(session, table)  # type: ignore[arg-type]
        # The row may exist from an earlier session_ended: add only what that event lacks.
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.session_id],
            set_={
                "role": func.coalesce(table.c.role, stmt.excluded.role),
                "takeover_of": func.coalesce(table.c.takeover_of, stmt.excluded.takeover_of),
            },
        )
        session.execute(stmt, started)
    if ended:
        stmt = upsert(session, table)  # type: ignore[arg-type]
        ending = (
            "ended_at",
            "end_reason",
            "end_requested_at",
            "unclean",
            "badge_seconds",
            "busy_seconds",
            "energy_wh",
        )
        # The first end wins; a second session_ended for the same session changes nothing.
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.session_id],
            set_={name: stmt.excluded[name] for name in ending},
            where=table.c.ended_at.is_(None),
        )
        session.execute(stmt, ended)


def _common(event: Event, data: SessionStarted | SessionEnded) -> dict[str, Any]:
    return {
        "session_id": data.session_id,
        "site": event.site,
        "machine_id": event.machine_id,
        "device_id": event.device_id,
        "member_id": data.member_id,
        "badge_uid": data.badge_uid,
        "started_at": data.started_at,
        "role": None,
        "takeover_of": None,
        "ended_at": None,
        "end_reason": None,
        "end_requested_at": None,
        "unclean": False,
        "badge_seconds": None,
        "busy_seconds": None,
        "energy_wh": None,
    }


def _started(event: Event) -> dict[str, Any]:
    data = event.data
    assert isinstance(data, SessionStarted)
    return _common(event, data) | {"role": data.role.value, "takeover_of": data.takeover_of}


def _ended(event: Event) -> dict[str, Any]:
    # session_ended repeats start, member and badge, so it alone makes a complete session
    # (after a crash the edge may have recorded only the end).
    data = event.data
    assert isinstance(data, SessionEnded)
    return _common(event, data) | {
        "ended_at": data.ended_at,
        "end_reason": data.end_reason.value,
        "end_requested_at": data.end_requested_at,
        "unclean": data.unclean,
        "badge_seconds": badge_seconds(data.started_at, data.ended_at),
        "busy_seconds": None if data.busy_s is None else round(data.busy_s),
        "energy_wh": data.energy_wh,
    }


def badge_seconds(started_at: datetime, ended_at: datetime) -> int:
    """Billed seconds, rounded to the nearest second; a clock step backwards bills zero."""
    return max(0, round((ended_at - started_at).total_seconds()))


def _sightings(events: Sequence[Event], *, received_at: datetime) -> list[Sighting]:
    found = []
    for event in events:
        data = event.data
        if isinstance(data, AccessDenied) and data.reason is DenyReason.UNKNOWN_BADGE:
            # An unsynchronised device clock would sort the sighting wrongly.
            seen_at = event.time if event.clock_synced else received_at
            found.append(Sighting(data.badge_uid, event.machine_id, event.device_id, seen_at))
    return found


def dead_letter(
    session: Session, *, topic: str, payload: bytes | str, reason: str, received_at: datetime
) -> DeadLetter:
    """Keep a refused message for a human; long payloads are cut to a bound, size kept."""
    raw = payload.encode() if isinstance(payload, str) else payload
    row = DeadLetter(
        received_at=received_at,
        topic=topic[:MAX_TOPIC],
        payload=raw[:MAX_DEAD_PAYLOAD],
        payload_size=len(raw),
        reason=reason[:MAX_REASON],
    )
    session.add(row)
    session.flush()
    return row
