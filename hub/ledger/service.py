"""Recording device events exactly once, and the sessions and sightings they describe.

Events arrive at least once and in any order; every write here is an idempotent upsert, so a
resent or reordered batch leaves the ledger as if each event had come once, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlalchemy.orm import Session

from contracts.models import (
    AccessDenied,
    DenyReason,
    Event,
    SessionEnded,
    SessionStarted,
)
from hub.db import upsert
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


def record_batch(session: Session, events: Sequence[Event], *, received_at: datetime) -> Recorded:
    """`record_events`, also counting the events that were new (for ingest metrics)."""
    fresh = _insert_new(session, events, received_at=received_at)
    apply_sessions(session, fresh)
    note_sightings(session, _sightings(fresh, received_at=received_at))
    return Recorded(ids=[event.event_id for event in events], new=len(fresh))


def _insert_new(session: Session, events: Sequence[Event], *, received_at: datetime) -> list[Event]:
    if not events:
        return []
    table = EventRecord.__table__
    stmt = (
        upsert(session, table)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=[table.c.event_id])
        .returning(table.c.event_id)
    )
    # One multi-row statement per chunk on both backends (SQLAlchemy's insertmanyvalues);
    # RETURNING tells which rows were new without a SELECT per event.
    inserted = set(session.execute(stmt, [_row(e, received_at) for e in events]).scalars())
    fresh: dict[UUID, Event] = {}
    for event in events:
        if event.event_id in inserted:
            fresh.setdefault(event.event_id, event)
    return list(fresh.values())


def _row(event: Event, received_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "site": event.site,
        "device_id": event.device_id,
        "machine_id": event.machine_id,
        "boot_id": event.boot_id,
        "seq": event.seq,
        "type": event.type.value,
        "time": event.time,
        "clock_synced": event.clock_synced,
        "payload": event.model_dump_json(by_alias=True),
        "received_at": received_at,
    }


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
