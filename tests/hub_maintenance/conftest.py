"""A workshop with a laser and a mill, usage written through the ledger's own `record_batch`,
and a real subscriber on the devices' command topics."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contracts.codec import decode_command
from contracts.models import Alert, Command, Event
from contracts.topics import Kind, topic
from hub.db import session_factory
from hub.ledger.service import record_batch
from hub.registry import service as registry
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto
from tests.hub.factories import BOOT, T0
from tests.hub_api.conftest import api  # the API fixture, for test_api.py

SITE = "dony"
LASER, LASER_DEVICE = "laser-1", "laser-1-pi"
MILL, MILL_DEVICE = "mill-1", "mill-1-pi"
DEVICES = {LASER: LASER_DEVICE, MILL: MILL_DEVICE}
HOUR = timedelta(hours=1)


def make_workshop(db: Session) -> None:
    registry.create_site(db, site_id=SITE, name="Dony")
    registry.create_machine(
        db,
        machine_id=LASER,
        site_id=SITE,
        name="Trotec Speedy 400",
        kind="laser_cutter",
        device_id=LASER_DEVICE,
    )
    registry.create_machine(
        db, machine_id=MILL, site_id=SITE, name="Stepcraft", kind="cnc_mill", device_id=MILL_DEVICE
    )
    db.commit()


def _event(machine: str, kind: str, data: dict[str, Any], at: datetime) -> Event:
    return Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "site": SITE,
            "device_id": DEVICES[machine],
            "machine_id": machine,
            "boot_id": str(BOOT),
            "seq": 1,
            "time": at.isoformat(),
            "clock_synced": True,
            "type": kind,
            "data": data,
        }
    )


def session_event(
    machine: str,
    end: datetime,
    *,
    badge_h: float = 1.0,
    busy_h: float | None = None,
    energy_kwh: float | None = None,
) -> Event:
    """A session that ended at `end`, as its `session_ended` event from the edge."""
    start = end - timedelta(hours=badge_h)
    data: dict[str, Any] = {
        "session_id": str(uuid.uuid4()),
        "badge_uid": "04A2246AB12C80",
        "member_id": "m-0001",
        "started_at": start.isoformat(),
        "ended_at": end.isoformat(),
        "end_reason": "badge_out",
    }
    if busy_h is not None:
        data["busy_s"] = busy_h * 3600
    if energy_kwh is not None:
        data["energy_wh"] = energy_kwh * 1000
    return _event(machine, "session_ended", data, end)


def job_event(machine: str, end: datetime, *, busy_h: float = 0.5) -> Event:
    data = {
        "job_id": uuid.uuid4().hex,
        "started_at": (end - timedelta(hours=busy_h)).isoformat(),
        "ended_at": end.isoformat(),
        "outcome": "completed",
        "busy_s": busy_h * 3600,
    }
    return _event(machine, "job_ended", data, end)


def record(engine: Engine, *events: Event) -> None:
    with session_factory(engine).begin() as db:
        record_batch(db, list(events), received_at=max(e.time for e in events))


@pytest.fixture
def world(engine: Engine) -> Engine:
    """The migrated database (SQLite and PostgreSQL) with site `dony`, a laser and a mill."""
    with session_factory(engine)() as db:
        make_workshop(db)
    return engine


@pytest.fixture
def db(world: Engine) -> Iterator[Session]:
    with session_factory(world)() as session:
        yield session


@dataclass
class Notified:
    """What the monitor handed to the notification queue, in the alert's own transaction."""

    calls: list[tuple[Alert, str]] = field(default_factory=list)

    def __call__(self, _session: Session, alert: Alert, device_level: str) -> None:
        self.calls.append((alert, device_level))


@dataclass
class Commands:
    """A real MQTT subscriber on every device's command topic."""

    received: list[tuple[str, Command]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, _client: Client, _userdata: object, message: MQTTMessage) -> None:
        device = message.topic.split("/")[3]
        with self.lock:
            self.received.append((device, decode_command(bytes(message.payload))))

    def actions(self, device: str) -> list[str]:
        with self.lock:
            return [c.action.value for d, c in self.received if d == device]

    def wait_for(self, device: str, actions: list[str], timeout: float = 10.0) -> bool:
        return wait_until(lambda: self.actions(device) == actions, timeout)


@pytest.fixture
def commands(mosquitto: Mosquitto) -> Iterator[Commands]:
    seen = Commands()
    subscribed = threading.Event()
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"devices-{uuid.uuid4().hex[:6]}")
    client.on_message = seen.on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    client.subscribe([(topic(SITE, d, Kind.COMMAND), 1) for d in DEVICES.values()])
    assert subscribed.wait(10)
    yield seen
    client.disconnect()
    client.loop_stop()


__all__ = ["HOUR", "LASER", "MILL", "T0", "api"]
