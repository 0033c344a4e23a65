"""The ledger: exactly-once events, sessions from any order of their events, dead letters."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.ledger.models import DeadLetter, EventRecord, MachineSession
from hub.ledger.service import (
    MAX_DEAD_PAYLOAD,
    dead_letter,
    record_batch,
    record_events,
)
from tests.hub.factories import T0, denied, ended, started

END = T0 + timedelta(minutes=25, seconds=0.4)


def _sessions(db: Session) -> list[MachineSession]:
    db.expire_all()
    return list(db.scalars(select(MachineSession).order_by(MachineSession.started_at)))


def test_a_batch_sent_twice_is_recorded_once_and_acked_twice(db: Session) -> None:
    sid = uuid.uuid4()
    batch = [started(sid, T0), ended(sid, T0, END), denied("04C0FFEE")]
    ids = [e.event_id for e in batch]
    assert record_events(db, batch, received_at=T0) == ids
    db.commit()
    assert record_events(db, batch + batch, received_at=END) == ids + ids
    db.commit()
    assert db.scalar(select(func.count()).select_from(EventRecord)) == 3
    row = db.scalars(select(EventRecord).where(EventRecord.event_id == ids[0])).one()
    assert (row.type, row.seq, row.received_at, row.time) == ("session_started", 1, T0, T0)
    assert '"schema":"machinerie.event/1"' in row.payload
    assert record_events(db, [], received_at=T0) == []


def test_started_then_ended_makes_one_billed_session(db: Session) -> None:
    sid = uuid.uuid4()
    record_events(db, [started(sid, T0)], received_at=T0)
    db.commit()
    [open_session] = _sessions(db)
    assert (open_session.ended_at, open_session.role, open_session.badge_seconds) == (
        None,
        "user",
        None,
    )
    record_events(db, [ended(sid, T0, END)], received_at=END)
    db.commit()
    [done] = _sessions(db)
    assert (done.session_id, done.machine_id, done.device_id, done.member_id) == (
        sid,
        "laser-1",
        "laser-1-pi",
        "m-0001",
    )
    assert (done.started_at, done.ended_at, done.end_reason) == (T0, END, "badge_out")
    assert done.badge_seconds == 25 * 60
    assert done.busy_seconds is None and done.energy_wh is None


def test_an_end_alone_makes_a_complete_session(db: Session) -> None:
    sid = uuid.uuid4()
    record_events(db, [ended(sid, T0, END, reason="unclean_shutdown")], received_at=END)
    db.commit()
    [only] = _sessions(db)
    assert (only.started_at, only.ended_at, only.unclean, only.role) == (T0, END, True, None)
    assert only.badge_seconds == 1500


def test_end_before_start_and_a_second_end(db: Session) -> None:
    sid, boss = uuid.uuid4(), uuid.uuid4()
    start = started(sid, T0)
    takeover = start.model_copy(
        update={"data": start.data.model_copy(update={"takeover_of": boss})}
    )
    record_events(db, [ended(sid, T0, END)], received_at=END)
    record_events(db, [takeover], received_at=END)
    later_end = END + timedelta(hours=1)
    record_events(db, [ended(sid, T0, later_end, reason="forced_stop", seq=3)], received_at=END)
    db.commit()
    [only] = _sessions(db)
    assert (only.role, only.takeover_of) == ("user", boss)
    assert (only.ended_at, only.end_reason, only.badge_seconds) == (END, "badge_out", 1500)


def test_the_firmware_bridge_adds_machine_time(db: Session) -> None:
    bridged, bare = uuid.uuid4(), uuid.uuid4()
    measured = {"busy_s": 1199.6, "energy_wh": 310.5}
    record_events(
        db,
        [ended(bridged, T0, END, machine=measured), ended(bare, T0, END, seq=3)],
        received_at=END,
    )
    db.commit()
    rows = {row.session_id: row for row in _sessions(db)}
    assert (rows[bridged].busy_seconds, rows[bridged].energy_wh) == (1200, 310.5)
    assert (rows[bare].busy_seconds, rows[bare].energy_wh) == (None, None)


def test_dead_letters_are_kept_bounded(db: Session) -> None:
    huge = b"\xff" * (MAX_DEAD_PAYLOAD + 10)
    dead_letter(
        db,
        topic="machinerie/v1/dony/laser-1-pi/events",
        payload=huge,
        reason="not JSON",
        received_at=T0,
    )
    dead_letter(db, topic="t", payload='{"schema": "x"}', reason="unknown schema", received_at=END)
    db.commit()
    rows = db.scalars(select(DeadLetter).order_by(DeadLetter.received_at)).all()
    assert [(len(r.payload), r.payload_size, r.reason) for r in rows] == [
        (MAX_DEAD_PAYLOAD, MAX_DEAD_PAYLOAD + 10, "not JSON"),
        (15, 15, "unknown schema"),
    ]
    assert rows[1].payload == b'{"schema": "x"}' and rows[0].received_at == T0


def test_a_batch_reports_how_many_events_were_new(db: Session) -> None:
    first, second = denied("04C0FFEE"), denied("04C0FFEE")
    assert record_batch(db, [first, first], received_at=T0).new == 1
    recorded = record_batch(db, [first, second], received_at=T0)
    assert (recorded.ids, recorded.new) == ([first.event_id, second.event_id], 1)
