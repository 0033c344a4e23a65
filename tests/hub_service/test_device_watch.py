"""The hub's device watch over a real Mosquitto: an edge's retained status reaches a hub started
after it, and a device that drops off the network is shown offline through its last will."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import delete

from contracts.codec import encode
from contracts.models import Status
from contracts.topics import Kind, topic
from hub.db import make_engine, session_factory
from hub.devices.models import DeviceStatus
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.sandbox import DEVICE, SITE
from machinerie.servers import Mosquitto
from tests.hub_service.conftest import edge, hub_settings, seed


def forget_statuses(url: str) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as db:
            db.execute(delete(DeviceStatus))
    finally:
        engine.dispose()


def kept(hub: Hub) -> DeviceStatus | None:
    with hub.sessions() as db:
        return db.get(DeviceStatus, DEVICE)


def test_a_hub_started_after_the_edge_learns_its_status_from_the_retained_message(
    tmp_path: Path, mosquitto: Mosquitto, sqlite_url: str
) -> None:
    seed(sqlite_url)
    settings = hub_settings(tmp_path, sqlite_url, mosquitto.port)
    first = Hub(settings).start()
    with edge(tmp_path, mosquitto.port, first.keys) as sandbox:
        try:
            assert wait_until(lambda: sandbox.acl_version() == first.acl.published_version, 10)
            assert wait_until(lambda: kept(first) is not None, 10)
            held = sandbox.acl_version()
        finally:
            first.stop()  # the edge keeps running; its status stays retained on the broker
        forget_statuses(sqlite_url)
        with Hub(settings) as second:
            assert wait_until(lambda: kept(second) is not None, 10)
            status = kept(second)
            assert status is not None and status.online
            assert status.acl_version == held
            assert status.outbox_backlog is not None and status.relay_on is False


def test_a_device_that_drops_off_is_shown_offline_by_its_last_will(
    tmp_path: Path, mosquitto: Mosquitto, sqlite_url: str
) -> None:
    seed(sqlite_url)
    with Hub(hub_settings(tmp_path, sqlite_url, mosquitto.port)) as hub:
        assert hub.devices is not None and hub.devices.wait_subscribed(10)
        where = topic(SITE, DEVICE, Kind.STATUS)
        boot = uuid.uuid4()
        alive = Status(
            site=SITE,
            device_id=DEVICE,
            machine_id=DEVICE,
            boot_id=boot,
            online=True,
            time=datetime.now(UTC),
            outbox_backlog=4,
        )
        device = Client(CallbackAPIVersion.VERSION2, client_id="device-with-a-will")
        device.will_set(where, encode(alive.model_copy(update={"online": False})), 1, True)
        device.connect("127.0.0.1", mosquitto.port)
        device.loop_start()
        device.publish(where, encode(alive), qos=1, retain=True).wait_for_publish(5)
        assert wait_until(lambda: (s := kept(hub)) is not None and s.online, 10)

        device.loop_stop()
        sock = device.socket()
        assert sock is not None
        sock.close()  # the power goes: no DISCONNECT, the broker sends the will

        assert wait_until(lambda: (s := kept(hub)) is not None and not s.online, 15)
        status = kept(hub)
        assert status is not None and status.outbox_backlog == 4  # what it said while alive
        assert status.last_seen_at is not None and status.online_since >= status.last_seen_at
