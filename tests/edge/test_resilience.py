"""Broker outages, forged and malformed messages, corrupt rows, an unplugged reader."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from contracts.models import Alarm, EventType
from contracts.signing import KeyPair, sign_access_list
from contracts.topics import Kind
from machinerie.ackhub import wait_until
from machinerie.control import access_list
from machinerie.servers import Mosquitto
from tests.edge.rig import ALICE, BOB, DEVICE, SITE, Rig, entries, rig


def assert_exactly_once_in_order(r: Rig) -> None:
    assert r.agent is not None
    seqs = r.hub.seqs(DEVICE)
    assert seqs == sorted(seqs), f"first arrivals out of seq order: {seqs}"
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gap in seqs: {seqs}"
    assert len({e.event_id for e in r.events()}) == len(r.events())
    assert seqs[-1] == r.agent.parts.outbox.last_seq


def badge_sessions(r: Rig, count: int) -> None:
    """Badge in and out `count` times, checking the relay follows at once every time."""
    for i in range(count):
        uid = ALICE if i % 2 == 0 else BOB
        r.badge(uid)
        r.wait_relay(True, timeout=1)
        r.badge(uid)
        r.wait_relay(False, timeout=1)


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_broker_outage_loses_nothing_and_keeps_order(
    tmp_path: Path, mosquitto: Mosquitto, outage: str
) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        badge_sessions(r, 3)
        getattr(mosquitto, outage)()
        # The relay never waits on the broker: each toggle is checked within a second.
        badge_sessions(r, 10)
        assert r.agent.parts.outbox.backlog() >= 20
        mosquitto.start()
        assert wait_until(lambda: r.agent is not None and r.agent.parts.outbox.backlog() == 0, 30)
        assert len(r.events(EventType.SESSION_STARTED)) == 13
        assert len(r.events(EventType.SESSION_ENDED)) == 13
        assert_exactly_once_in_order(r)


def test_hub_down_keeps_events_until_acked(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.hub.acking = False
        badge_sessions(r, 2)
        r.wait_event(EventType.SESSION_ENDED, 2)
        assert r.agent is not None and r.agent.parts.outbox.backlog() >= 4
        r.hub.acking = True
        assert wait_until(lambda: r.agent is not None and r.agent.parts.outbox.backlog() == 0, 15)
        assert_exactly_once_in_order(r)


def test_forged_and_malformed_access_lists_are_refused(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="edge")
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl(1)
        forger = KeyPair.generate("hub-test")  # right key id, wrong key
        only_bob = [e for e in entries() if e.badge_uid == BOB]
        forged = sign_access_list(access_list(SITE, DEVICE, only_bob, version=9), forger)
        other_machine = sign_access_list(access_list(SITE, "cnc-1", only_bob, version=9), r.keys)
        for payload in (forged, b"not json", b'{"schema": "machinerie.signed/1"}', other_machine):
            r.control.publish_raw(SITE, DEVICE, Kind.ACL, payload, retain=True)
        agent = r.agent
        assert agent is not None
        assert wait_until(lambda: agent.counters["acl_rejected"] == 4, 10)
        assert r.acl_version() == 1
        assert "access list refused" in caplog.text
        alarms = r.wait_event(EventType.ALARM)
        assert [a.data.code for a in alarms if isinstance(a.data, Alarm)] == ["acl_rejected"]
        r.badge(ALICE)  # the last valid list still rules
        r.wait_relay(True)


def test_malformed_commands_are_counted_and_survived(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="edge")
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        bad = [
            b"\xff\xfe",
            b"{}",
            b'{"schema":"machinerie.command/1","action":"explode"}',
            b"[" * 100_000,
        ]
        for payload in bad:
            r.control.publish_raw(SITE, DEVICE, Kind.COMMAND, payload)
        agent = r.agent
        assert agent is not None
        assert wait_until(lambda: agent.counters["commands_rejected"] == 4, 10)
        assert "command refused" in caplog.text
        r.badge(ALICE)
        r.wait_relay(True)
        assert agent.status().counters["commands_rejected"] == 4


def test_corrupt_outbox_row_is_quarantined(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        assert r.drained()
        mosquitto.stop()
        badge_sessions(r, 2)
        agent = r.agent
        assert agent is not None
        db = sqlite3.connect(agent.parts.store.path)
        first = db.execute("SELECT MIN(seq) FROM outbox").fetchone()[0]
        db.execute("UPDATE outbox SET payload = '{\"garbage\": 1}' WHERE seq = ?", (first,))
        db.commit()
        db.close()
        mosquitto.start()
        assert wait_until(lambda: agent.parts.outbox.backlog() == 0, 20)
        assert agent.parts.outbox.counters["corrupt_rows"] == 1
        assert agent.parts.outbox.quarantined() == 1
        assert first not in r.hub.seqs(DEVICE)
        assert len(r.events(EventType.SESSION_ENDED)) == 2


def test_unplugged_reader_raises_an_alarm_and_recovers(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.reader.unplug()
        alarm = r.wait_event(EventType.ALARM)[0]
        assert isinstance(alarm.data, Alarm)
        assert (alarm.data.code, alarm.data.active) == ("reader_fault", True)
        r.reader.replug()
        cleared = r.wait_event(EventType.ALARM, 2)[1]
        assert isinstance(cleared.data, Alarm) and not cleared.data.active
        r.badge(ALICE)
        r.wait_relay(True)
        assert r.agent is not None and r.agent.counters["reader_faults"] >= 1
