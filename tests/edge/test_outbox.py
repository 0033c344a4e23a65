"""The outbox against a real SQLite file: seq, bound, alarm, quarantine, acknowledgement."""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.codec import decode_event
from contracts.models import Event, EventType
from edge.errors import OutboxError, OutboxFull
from edge.outbox import Outbox
from edge.store import Store

SITE, DEVICE, MACHINE = "dony", "laser-1-pi", "laser-1"
BOOT = uuid.uuid4()
UID = "04A2246AB12C80"


def make_event(seq: int, type_: EventType = EventType.ACCESS_DENIED) -> Event:
    """A valid event of `type_` with the given seq (billable or not)."""
    now = datetime.now(UTC)
    data: dict[str, object] = {"badge_uid": UID, "reason": "unknown_badge"}
    if type_ is EventType.SESSION_STARTED:
        data = {
            "session_id": uuid.uuid4(),
            "badge_uid": UID,
            "member_id": "m-1",
            "role": "user",
            "started_at": now,
        }
    return Event.model_validate(
        {
            "event_id": uuid.uuid4(),
            "site": SITE,
            "device_id": DEVICE,
            "machine_id": MACHINE,
            "boot_id": BOOT,
            "seq": seq,
            "time": now,
            "clock_synced": True,
            "type": type_,
            "data": data,
        }
    )


def maker(type_: EventType = EventType.ACCESS_DENIED) -> Callable[[int], Event]:
    return lambda seq: make_event(seq, type_)


def corrupt_row(db: Path, seq: int) -> None:
    """Overwrite one payload behind the agent's back, as a bad sector or a bug would."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute('UPDATE outbox SET payload = \'{"not": "an event"\' WHERE seq = ?', (seq,))
    conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = Store(db)
    yield opened
    opened.close()


def test_append_stores_in_seq_order_and_pending_returns_the_payloads(store: Store) -> None:
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)
    events = [outbox.append(maker()) for _ in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    rows = outbox.pending(after_seq=2, limit=10)
    assert [r.seq for r in rows] == [3, 4, 5]
    assert [decode_event(r.payload).event_id for r in rows] == [e.event_id for e in events[2:]]
    assert outbox.pending(after_seq=0, limit=2)[-1].seq == 2
    assert outbox.backlog() == 5


def test_seq_keeps_increasing_across_a_reopen_even_when_everything_was_acked(db: Path) -> None:
    store = Store(db)
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)
    acked = [outbox.append(maker()) for _ in range(3)]
    assert outbox.acknowledge([e.event_id for e in acked]) == 3
    store.close()
    reopened = Outbox(Store(db), max_events=1000, alarm_fraction=0.8)
    assert reopened.backlog() == 0
    assert reopened.append(maker()).seq == 4


def test_acknowledge_deletes_only_known_rows(store: Store) -> None:
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)
    first, second = outbox.append(maker()), outbox.append(maker())
    assert outbox.acknowledge([first.event_id, uuid.uuid4()]) == 1
    assert outbox.acknowledge([first.event_id]) == 0
    assert [r.event_id for r in outbox.pending(0, 10)] == [str(second.event_id)]
    assert outbox.counters["acknowledged"] == 1


def test_bound_refuses_non_billable_but_always_stores_billable(store: Store) -> None:
    outbox = Outbox(store, max_events=10, alarm_fraction=0.5)
    for _ in range(4):
        outbox.append(maker())
    assert not outbox.alarm_active
    outbox.append(maker())
    assert outbox.alarm_active
    for _ in range(5):
        outbox.append(maker())
    with pytest.raises(OutboxFull):
        outbox.append(maker())
    started = outbox.append(maker(EventType.SESSION_STARTED))
    assert started.seq == 11  # the refused event consumed no seq
    assert outbox.backlog() == 11
    assert outbox.counters["refused"] == 1
    outbox.acknowledge([r.event_id for r in outbox.pending(0, 8)])
    assert not outbox.alarm_active


def test_corrupt_row_is_quarantined_counted_logged_and_skipped(
    db: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)
    for _ in range(4):
        outbox.append(maker())
    corrupt_row(db, 2)
    with caplog.at_level(logging.ERROR, logger="edge.outbox"):
        rows = outbox.pending(0, 3)
    assert [r.seq for r in rows] == [1, 3, 4]
    assert outbox.counters["corrupt_rows"] == 1
    assert "seq=2" in caplog.text
    assert outbox.quarantined() == 1
    assert outbox.backlog() == 3


def test_row_whose_payload_belongs_to_another_seq_is_quarantined(db: Path, store: Store) -> None:
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)
    outbox.append(maker())
    outbox.append(maker())
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE seq = 1), "
            "crc = (SELECT crc FROM outbox WHERE seq = 1) WHERE seq = 2"
        )
    conn.close()
    assert [r.seq for r in outbox.pending(0, 10)] == [1]
    assert outbox.counters["corrupt_rows"] == 1


def test_also_runs_in_the_same_transaction(store: Store) -> None:
    outbox = Outbox(store, max_events=1000, alarm_fraction=0.8)

    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO kv (key, value) VALUES ('journal', 'x')")
        raise sqlite3.OperationalError("disk gone")

    with pytest.raises(OutboxError):
        outbox.append(maker(), also=fail)
    assert outbox.backlog() == 0
    assert store.get("journal") is None
    assert outbox.append(maker()).seq == 1


def test_append_is_cheap(store: Store) -> None:
    outbox = Outbox(store, max_events=100_000, alarm_fraction=0.8)
    durations = []
    for _ in range(200):
        started = time.perf_counter()
        outbox.append(maker(EventType.SESSION_STARTED))
        durations.append(time.perf_counter() - started)
    durations.sort()
    assert durations[len(durations) // 2] < 0.002
