"""Maintenance end to end: a simulated Marlin printer on a pty, the edge agent with its bridge,
a real Mosquitto, the real hub (ingest, ledger, maintenance monitor, alert notifier, web API)
and a real SMTP server.

Busy hours accumulate from the printer's own jobs; the warning e-mail arrives once; the limit
locks the machine at the edge (the artisan is refused, the maintainer is let in); the
maintainer logs the intervention through the API, which unlocks the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import decode
from contracts.models import AccessDenied, Alert, AlertCounter, AlertLevel, EventType
from contracts.topics import Kind, topic
from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.simport import PtyServer
from hub.api.accounts import create_user
from hub.cli import api_factory
from hub.db import writing
from hub.maintenance import service as maintenance
from hub.registry import service as registry
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, MARC, SITE, Sandbox
from machinerie.servers import Mosquitto, free_port, wait_for_port
from tests.hub_service.conftest import bridge_table, edge, hub_settings, seed
from tests.smtp import SmtpServer

PRINT_S = 3.0
# In hours, as plans count: the first print passes the warning, the second the limit.
WARNING_H = 2.0 / 3600
LIMIT_H = 4.5 / 3600
PASSWORD = "nozzle-swap-42"  # noqa: S105 - the test maintainer's


@pytest.fixture
def printer() -> Iterator[PtyServer]:
    with PtyServer(MarlinSimulator()) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"


def print_job(sandbox: Sandbox, printer: PtyServer, name: str) -> None:
    """Alice badges in, prints, and badges out once the print is done."""
    sandbox.badge(ALICE.uid)
    sandbox.wait_relay(True)
    device = printer.device
    assert isinstance(device, MarlinSimulator)
    with printer.lock:
        truth = device.start_sd_print(name, PRINT_S)
    assert wait_until(lambda: truth.end is not None, PRINT_S + 10)
    time.sleep(1.0)  # the bridge's next report sees the printer idle
    sandbox.badge(ALICE.uid)
    sandbox.wait_relay(False, timeout=10)


class AlertWatcher:
    """A workshop display subscribed to the machine's alert topic."""

    def __init__(self, port: int) -> None:
        self.alerts: list[Alert] = []
        self.client = Client(CallbackAPIVersion.VERSION2, client_id="display")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic(SITE, DEVICE, Kind.ALERT), qos=1)
        self.client.loop_start()

    def _on_message(self, _client: Client, _userdata: object, message: MQTTMessage) -> None:
        self.alerts.append(decode(Alert, bytes(message.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_hours_from_jobs_warn_once_lock_at_the_limit_and_the_intervention_unlocks(
    tmp_path: Path,
    mosquitto: Mosquitto,
    printer: PtyServer,
    smtp: SmtpServer,
    sqlite_url: str,
) -> None:
    seed(sqlite_url)
    api_port = free_port()
    settings = hub_settings(
        tmp_path,
        sqlite_url,
        mosquitto.port,
        api={"port": api_port},
        maintenance={"interval_s": 0.5},
        notify={
            "email": {
                "enabled": True,
                "port": smtp.port,
                "recipients": ["atelier@dynamocoop.be"],
                "language": "en",
            },
            "poll_s": 0.2,
        },
    )
    watcher = AlertWatcher(mosquitto.port)
    with Hub(settings, app_factory=api_factory()) as hub:
        with writing(hub.sessions) as db:
            marc = registry.create_member(db, name=MARC.name)
            registry.enrol_badge(db, uid=MARC.uid, member_id=marc.id)
            registry.grant_qualification(
                db, member_id=marc.id, machine_id=DEVICE, role="maintainer", granted_by="test"
            )
            plan = maintenance.create_plan(
                db,
                machine_id=DEVICE,
                name="nozzle",
                counter=AlertCounter.BUSY_HOURS,
                warning=WARNING_H,
                limit=LIMIT_H,
                now=datetime.now(UTC),
            )
            plan_id = plan.id
            create_user(db, username="marc", password=PASSWORD, role="maintainer")
        hub.acl.changed()
        with edge(tmp_path, mosquitto.port, hub.keys, bridge=bridge_table(printer.path)) as box:
            assert wait_until(lambda: box.acl_version() == hub.acl.published_version, 10)

            print_job(box, printer, "hook_v1.gcode")
            [warning] = smtp.wait_for(1, timeout=15)
            assert "nozzle" in str(warning["Subject"])
            assert not box.agent.parts.machine.locked

            print_job(box, printer, "hook_v2.gcode")
            assert wait_until(lambda: box.agent.parts.machine.locked, 15), "never locked"
            mails = smtp.wait_for(2, timeout=15)

            # Locked: the artisan is refused, the maintainer gets power.
            box.badge(ALICE.uid)
            [denied] = box.wait_event(EventType.ACCESS_DENIED)
            assert isinstance(denied.data, AccessDenied)
            assert not box.relay_on()
            box.badge(MARC.uid)
            box.wait_relay(True)
            box.badge(MARC.uid)
            box.wait_relay(False)

            wait_for_port(api_port)
            base = f"http://127.0.0.1:{api_port}"
            login = {"username": "marc", "password": PASSWORD}
            token = httpx.post(f"{base}/auth/login", json=login, timeout=10).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            done = httpx.post(
                f"{base}/maintenance/plans/{plan_id}/interventions",
                json={"what": "nozzle replaced", "parts": "E3D V6 0.4 mm brass nozzle"},
                headers=headers,
                timeout=10,
            )
            assert done.status_code == 201, done.text
            assert done.json()["value"] == 0
            assert wait_until(lambda: not box.agent.parts.machine.locked, 15), "still locked"
            box.badge(ALICE.uid)
            box.wait_relay(True)
            box.badge(ALICE.uid)
            box.wait_relay(False)

            # Several evaluations later: still one e-mail per crossing, none after the reset.
            time.sleep(2.0)
            assert len(smtp.messages) == 2
    watcher.close()
    levels = [str(m["Subject"]) for m in mails]
    assert "warning" in levels[0].lower() and "warning" not in levels[1].lower(), levels
    assert [a.level for a in watcher.alerts] == [AlertLevel.WARNING, AlertLevel.LIMIT]
    assert all(a.plan == "nozzle" and a.machine_id == DEVICE for a in watcher.alerts)
    assert watcher.alerts[1].value >= LIMIT_H
