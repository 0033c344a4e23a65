"""Edge agent to broker to hub ingest to ledger, on SQLite and PostgreSQL, bad input mixed in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psutil
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.codec import encode
from contracts.models import (
    AccessDenied,
    DenyReason,
    EndReason,
    Event,
    EventType,
    SessionEnded,
)
from contracts.topics import Kind, topic
from hub.db import session_factory
from hub.ingest.consumer import Ingest, IngestSettings
from hub.ingest.sink import LedgerSink
from hub.ledger.models import DeadLetter, EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, BRUNO, DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto


def count(engine: Engine, model: type[object]) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def start_ingest(engine: Engine, port: int, **settings: object) -> Ingest:
    return Ingest(IngestSettings(port=port, **settings), LedgerSink(engine)).start()  # type: ignore[arg-type]


def test_badges_reach_the_ledger_and_the_outbox_empties(
    tmp_path: Path, mosquitto: Mosquitto, engine: Engine
) -> None:
    ingest = start_ingest(engine, mosquitto.port)
    try:
        with Sandbox(tmp_path, mosquitto.port, acking_hub=False) as sandbox:
            sandbox.publish_acl()
            for artisan in (ALICE, BRUNO):
                sandbox.badge(artisan.uid)
                sandbox.wait_relay(True)
                sandbox.badge(artisan.uid)
                sandbox.wait_relay(False)
            assert sandbox.drained(15), "the hub's acks never emptied the outbox"
            sent = sandbox.agent.parts.outbox.last_seq
        with session_factory(engine)() as session:
            sessions = session.scalars(
                select(MachineSession).order_by(MachineSession.started_at)
            ).all()
            assert [s.member_id for s in sessions] == ["alice", "bruno"]
            assert all(s.ended_at is not None and s.end_reason == "badge_out" for s in sessions)
        assert count(engine, EventRecord) == sent
        assert ingest.metrics.value("ingest_events_new_total") == sent
    finally:
        ingest.stop()


def test_bad_payloads_are_dead_lettered_and_counted(mosquitto: Mosquitto, engine: Engine) -> None:
    ingest = start_ingest(engine, mosquitto.port)
    client = Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        events_topic = topic(SITE, DEVICE, Kind.EVENT)
        other_topic = topic(SITE, "cnc-1", Kind.EVENT)
        forged = encode(_an_event())
        for payload, where in [
            (b"not json", events_topic),
            (b"{}", events_topic),
            (b"x" * 70_000, events_topic),
            (forged.replace(b'"seq":7', b'"seq":-1'), events_topic),
            (forged, other_topic),  # a device speaking on another's topic
            (forged, events_topic),  # the one valid event
        ]:
            client.publish(where, payload, qos=1).wait_for_publish(5)
        assert wait_until(lambda: count(engine, DeadLetter) == 5, 10)
        assert wait_until(lambda: count(engine, EventRecord) == 1, 10)
        text = ingest.metrics.render()
        assert 'machinerie_ingest_dead_letters_total{reason="ForgedDevice"} 1' in text
        assert 'machinerie_ingest_dead_letters_total{reason="InvalidPayload"} 4' in text
        with session_factory(engine)() as session:
            reasons = session.scalars(select(DeadLetter.reason)).all()
        assert any("exceeds" in r for r in reasons)
        assert any("on the topic of dony/cnc-1" in r for r in reasons)
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()


def test_an_event_the_ledger_refuses_is_dead_lettered_and_acked_and_holds_nothing_up(
    mosquitto: Mosquitto, engine: Engine
) -> None:
    """A session whose busy time no database integer holds (a bridge gone wrong): valid per
    contract, refused by the ledger. It must not stall the ingest, nor take its batch with it."""
    ingest = start_ingest(engine, mosquitto.port, batch_wait_s=0.2)
    acked: list[bytes] = []
    client = Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, message: acked.append(bytes(message.payload))
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe(topic(SITE, DEVICE, Kind.ACK), qos=1)
    client.loop_start()
    try:
        absurd = _ended(busy_s=1e20, seq=8)
        events = [_an_event(), absurd, _ended(busy_s=90.0, seq=9)]
        for event in events:
            client.publish(topic(SITE, DEVICE, Kind.EVENT), encode(event), qos=1)
        assert wait_until(lambda: count(engine, EventRecord) == 2, 15), "ingest stalled"
        assert wait_until(lambda: count(engine, DeadLetter) == 1, 10)
        with session_factory(engine)() as session:
            [letter] = session.scalars(select(DeadLetter)).all()
            assert letter.topic == topic(SITE, DEVICE, Kind.EVENT)
            assert letter.reason.startswith("the ledger refused the event")
            assert str(absurd.event_id) in letter.payload.decode()
            kept = session.scalars(select(MachineSession)).all()
            assert [row.busy_seconds for row in kept] == [90]
        # Acknowledged all the same: the device stops sending it; the hub keeps it to look at.
        assert wait_until(lambda: any(str(absurd.event_id).encode() in a for a in acked), 10)
        assert ingest.metrics.value("ingest_dead_letters_total", reason="LedgerRefused") == 1
        assert ingest.metrics.value("ingest_store_failures_total") == 0
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()


def _ended(*, busy_s: float, seq: int) -> Event:
    started = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    return Event.model_validate(
        {
            "event_id": uuid4(),
            "site": SITE,
            "device_id": DEVICE,
            "machine_id": DEVICE,
            "boot_id": uuid4(),
            "seq": seq,
            "time": started + timedelta(hours=1),
            "clock_synced": True,
            "type": EventType.SESSION_ENDED,
            "data": SessionEnded(
                session_id=uuid4(),
                badge_uid=ALICE.uid,
                member_id="alice",
                started_at=started,
                ended_at=started + timedelta(hours=1),
                end_reason=EndReason.BADGE_OUT,
                busy_s=busy_s,
            ),
        }
    )


def test_two_hubs_in_one_group_record_each_event_once(
    tmp_path: Path, mosquitto: Mosquitto, engine: Engine
) -> None:
    hubs = [
        start_ingest(engine, mosquitto.port, client_id=f"hub-{i}", group="hubs") for i in (1, 2)
    ]
    try:
        with Sandbox(tmp_path, mosquitto.port, acking_hub=False) as sandbox:
            sandbox.publish_acl()
            for _ in range(10):
                sandbox.badge(ALICE.uid)
                sandbox.wait_relay(True)
                sandbox.badge(ALICE.uid)
                sandbox.wait_relay(False)
            assert sandbox.drained(20)
            sent = sandbox.agent.parts.outbox.last_seq
        assert count(engine, EventRecord) == sent
        shares = [hub.metrics.value("ingest_events_total") for hub in hubs]
        assert sum(shares) >= sent and all(shares), f"the group did not share the load: {shares}"
        with session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(MachineSession)) == 10
    finally:
        for hub in hubs:
            hub.stop()


def _an_event() -> Event:
    return Event.model_validate(
        {
            "event_id": uuid4(),
            "site": SITE,
            "device_id": DEVICE,
            "machine_id": DEVICE,
            "boot_id": uuid4(),
            "seq": 7,
            "time": datetime.now(UTC),
            "clock_synced": True,
            "type": EventType.ACCESS_DENIED,
            "data": AccessDenied(badge_uid="DEADBEEF", reason=DenyReason.UNKNOWN_BADGE),
        }
    )


def test_a_committer_killed_mid_burst_loses_and_duplicates_nothing(
    mosquitto: Mosquitto, engine: Engine
) -> None:
    ingest = start_ingest(engine, mosquitto.port)
    client = Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    burst = [_an_event() for _ in range(2000)]
    try:
        assert wait_until(lambda: ingest.commit_in_process, 20), "the committer never took over"
        [committer] = _committers()
        events_topic = topic(SITE, DEVICE, Kind.EVENT)

        def send() -> None:
            for event in burst:
                client.publish(events_topic, encode(event), qos=1)

        sender = threading.Thread(target=send)
        sender.start()
        assert wait_until(lambda: count(engine, EventRecord) >= 200, 30)
        committer.kill()  # mid-burst: its batches in flight must be committed again
        sender.join(60)
        assert wait_until(lambda: count(engine, EventRecord) == len(burst), 60)
        assert wait_until(lambda: ingest.commit_in_process, 20), "no new committer"
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()
    assert count(engine, EventRecord) == len(burst)  # event_id is unique: none twice


def _committers() -> list[psutil.Process]:
    children = psutil.Process().children(recursive=True)
    return [c for c in children if "spawn_main" in " ".join(c.cmdline())]
