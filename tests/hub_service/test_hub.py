"""The real hub in-process with a real broker and the real edge agent on simulated hardware.

Registry rows become a signed list on the edge, badge sessions become ledger rows and a usage
report, and a revocation written by someone else reaches the machine within five seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from typer.testing import CliRunner

from contracts.signing import load_public_key, open_access_list
from contracts.topics import Kind, topic
from hub.cli import api_factory, app
from hub.db import writing
from hub.ledger.models import EventRecord, MachineSession
from hub.registry import service
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, BRUNO, DEVICE, SITE
from machinerie.servers import Mosquitto, free_port, wait_for_port
from tests.hub_service.conftest import count, edge, hub_settings, seed


def test_registry_to_edge_to_ledger_to_usage_and_revocation(
    tmp_path: Path, mosquitto: Mosquitto, database_url: str
) -> None:
    registry = seed(database_url)
    with (
        Hub(hub_settings(tmp_path, database_url, mosquitto.port)) as hub,
        edge(tmp_path, mosquitto.port, hub.keys) as sandbox,
    ):
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)

        sandbox.badge(ALICE.uid)
        sandbox.wait_relay(True)
        time.sleep(1.5)  # a session long enough to bill a second
        sandbox.badge(ALICE.uid)
        sandbox.wait_relay(False)

        sandbox.badge(ALICE.uid)
        sandbox.wait_relay(True)
        # Written as the CLI or another replica would: nobody tells this hub, it polls.
        with writing(hub.sessions) as db:
            service.revoke_qualification(db, member_id=registry.alice, machine_id=DEVICE)
        revoked = time.monotonic()
        sandbox.wait_relay(False, timeout=5)
        assert time.monotonic() - revoked < 5

        assert sandbox.drained(15), "the hub's acks never emptied the outbox"
        sent = sandbox.agent.parts.outbox.last_seq
        assert count(hub.engine, EventRecord) == sent
        with hub.sessions() as db:
            rows = db.scalars(select(MachineSession).order_by(MachineSession.started_at)).all()
        assert [(s.member_id, s.end_reason) for s in rows] == [
            (registry.alice_ref, "badge_out"),
            (registry.alice_ref, "revoked"),
        ]
        assert (rows[0].badge_seconds or 0) >= 1
        month = rows[0].started_at.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")

    report = CliRunner().invoke(
        app,
        ["usage", "--month", month, "--data-dir", str(tmp_path / "hub")],
        env={"MACHINERIE_HUB_DATABASE_URL": database_url, "COLUMNS": "200"},
    )
    assert report.exit_code == 0, report.output
    line = next(x for x in report.output.splitlines() if registry.alice_ref in x)
    assert ALICE.name in line
    assert " 2 " in line, "two sessions"
    assert "0:00:0" in line and "0:00:00" not in line, "a few seconds of badge time"


def test_a_change_announced_in_process_skips_the_poll(
    tmp_path: Path, mosquitto: Mosquitto, sqlite_url: str
) -> None:
    registry = seed(sqlite_url)
    settings = hub_settings(tmp_path, sqlite_url, mosquitto.port, acl_poll_s=60)
    with Hub(settings) as hub, edge(tmp_path, mosquitto.port, hub.keys) as sandbox:
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)
        first = sandbox.acl_version()
        with writing(hub.sessions) as db:
            service.grant_qualification(
                db, member_id=registry.bruno, machine_id=DEVICE, role="user", granted_by="test"
            )
        hub.acl.changed()
        assert wait_until(lambda: (sandbox.acl_version() or 0) > (first or 0), 3)
        sandbox.badge(BRUNO.uid)
        sandbox.wait_relay(True)


def test_a_wiped_broker_is_refilled_on_reconnect(tmp_path: Path, sqlite_url: str) -> None:
    seed(sqlite_url)
    broker = Mosquitto(persistence=False)
    with broker, Hub(hub_settings(tmp_path, sqlite_url, broker.port)) as hub:
        assert wait_until(lambda: hub.acl.published_version is not None, 10)
        broker.stop()  # no persistence: the retained lists are gone
        broker.start()
        message = retained(broker.port, topic(SITE, DEVICE, Kind.ACL), timeout=15)
        assert message is not None, "the hub did not refill the broker"
        trusted = {hub.keys.key_id: load_public_key(hub.keys.public_base64())}
        listing = open_access_list(bytes(message.payload), trusted)
        assert listing.version == hub.acl.published_version
        assert listing.issued_at <= datetime.now(UTC)


def retained(port: int, where: str, timeout: float) -> MQTTMessage | None:
    """The retained message on `where`, asking again each second until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = _ask_once(port, where)
        if message is not None:
            return message
    return None


def _ask_once(port: int, where: str) -> MQTTMessage | None:
    got: list[MQTTMessage] = []
    client = Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, message: got.append(message)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(where, qos=1)
    wait_until(lambda: bool(got), 1)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else None


def test_the_web_api_shares_the_hubs_metrics(
    tmp_path: Path, mosquitto: Mosquitto, sqlite_url: str
) -> None:
    seed(sqlite_url)
    port = free_port()
    settings = hub_settings(tmp_path, sqlite_url, mosquitto.port, api={"port": port})
    with Hub(settings, app_factory=api_factory()) as hub:
        assert wait_until(lambda: hub.acl.published_version is not None, 10)
        wait_for_port(port)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "machinerie_acl_lists_published_total 1" in text
    assert "machinerie_ingest_events_total" in text
