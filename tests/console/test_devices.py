"""Device health: the hub keeps each device's newest status (late and forged ones aside), the
console's device page shows who is online, silent, offline or never seen, and the live board
shows a running job's progress from the newest sample."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from contracts.codec import encode
from contracts.models import MachineState, OpenSession, Status, Telemetry
from contracts.topics import Kind, topic
from hub.api.models import UserRole
from hub.devices.health import Reach, device_health, record_status
from hub.devices.models import DeviceStatus
from hub.devices.watch import MAX_PENDING, DeviceWatch
from hub.ledger.service import record_events
from hub.mqtt import BrokerLogin
from hub.registry import service as registry
from tests.console.pages import logged_in
from tests.console.test_live import _card, job, on
from tests.hub.factories import T0, workshop
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

api, db = hub_api.api, hub_api.db

# The watch is fed by hand here; it never connects.
LOGIN = BrokerLogin(host="127.0.0.1", port=1, username="hub", password="-")  # noqa: S106
STALE_S = 180.0
FIRST_BOOT = uuid.UUID("0b5e3c8e-1d2f-4a6b-8c9d-0e1f2a3b4c5d")
SECOND_BOOT = uuid.UUID("7a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9")


def status(device: str = "laser-1-pi", machine: str = "laser-1", **changes: Any) -> Status:
    values: dict[str, Any] = {
        "site": "dony",
        "device_id": device,
        "machine_id": machine,
        "boot_id": FIRST_BOOT,
        "online": True,
        "time": T0,
        "version": "0.9.0",
        "firmware": "Marlin 2.1.2.4",
        "acl_version": 1,
        "locked": False,
        "relay_on": True,
        "outbox_backlog": 3,
        "counters": {"events_published": 12},
    }
    return Status(**(values | changes))


def will(**changes: Any) -> Status:
    """A last will as edges set it: offline, timed when the device connected."""
    return Status(
        site="dony",
        device_id="laser-1-pi",
        machine_id="laser-1",
        boot_id=changes.pop("boot_id", FIRST_BOOT),
        online=False,
        time=changes.pop("time", T0 - timedelta(hours=2)),
    )


def three_machines(db: Session) -> None:
    workshop(db)
    for machine, name, kind in (
        ("mill-1", "Stepcraft D.840", "cnc_mill"),
        ("printer-1", "Prusa MK4", "printer_3d"),
    ):
        registry.create_machine(
            db, machine_id=machine, site_id="dony", name=name, kind=kind, device_id=f"{machine}-pi"
        )
    db.commit()


def watch_at(api: Api, clock: list[datetime]) -> DeviceWatch:
    return DeviceWatch(LOGIN, api.sessions, metrics=api.metrics, clock=lambda: clock[0])


def send(watch: DeviceWatch, message: Status | Telemetry, kind: Kind = Kind.STATUS) -> bool:
    return watch.handle(topic(message.site, message.device_id, kind), encode(message))


def reach_of(db: Session, now: datetime) -> dict[str, Reach]:
    db.expire_all()
    return {d.device_id: d.reach for d in device_health(db, now, STALE_S)}


# ---------------------------------------------------------------- recording statuses


def test_a_newer_status_replaces_the_kept_one_and_a_late_older_one_is_ignored(db: Session) -> None:
    workshop(db)
    assert record_status(db, status(outbox_backlog=3), T0)
    assert record_status(db, status(time=T0 + timedelta(minutes=1), outbox_backlog=0), T0)
    assert not record_status(db, status(time=T0 + timedelta(seconds=30), outbox_backlog=9), T0)
    db.commit()
    kept = db.get(DeviceStatus, "laser-1-pi")
    assert kept is not None and kept.outbox_backlog == 0


def test_the_last_will_marks_the_device_offline_and_keeps_what_it_said_alive(
    db: Session,
) -> None:
    workshop(db)
    record_status(db, status(), T0)
    gone = T0 + timedelta(minutes=3)
    assert record_status(db, will(), gone)  # timed at connect, long before: still counts
    db.commit()
    kept = db.get(DeviceStatus, "laser-1-pi")
    assert kept is not None and not kept.online
    assert (kept.online_since, kept.last_seen_at) == (gone, T0)
    assert (kept.version, kept.firmware, kept.outbox_backlog) == ("0.9.0", "Marlin 2.1.2.4", 3)
    assert reach_of(db, gone)["laser-1-pi"] is Reach.OFFLINE


def test_a_late_will_of_the_previous_boot_leaves_the_rebooted_device_online(db: Session) -> None:
    workshop(db)
    record_status(db, status(), T0)
    rebooted = T0 + timedelta(minutes=5)
    record_status(db, status(boot_id=SECOND_BOOT, time=rebooted), rebooted)
    assert not record_status(db, will(boot_id=FIRST_BOOT), rebooted + timedelta(seconds=1))
    db.commit()
    assert reach_of(db, rebooted)["laser-1-pi"] is Reach.ONLINE


def test_health_tells_online_silent_offline_and_never_seen(db: Session) -> None:
    three_machines(db)
    record_status(db, status(), T0 - timedelta(minutes=10))
    record_status(db, status("mill-1-pi", "mill-1"), T0 - timedelta(seconds=30))
    db.commit()
    found = reach_of(db, T0)
    assert found == {
        "laser-1-pi": Reach.SILENT,  # says online, but nothing for ten minutes
        "mill-1-pi": Reach.ONLINE,
        "printer-1-pi": Reach.NEVER,
    }


def test_a_device_holding_an_older_access_list_is_flagged(db: Session) -> None:
    three_machines(db)  # each registry change moved the access-list version on
    record_status(db, status(acl_version=1), T0)
    db.commit()
    laser = next(d for d in device_health(db, T0, STALE_S) if d.device_id == "laser-1-pi")
    assert laser.acl_behind


# ---------------------------------------------------------------- the watch


def test_the_watch_keeps_statuses_of_registered_devices_and_counts_the_rest(
    api: Api, db: Session
) -> None:
    three_machines(db)
    clock = [T0]
    watch = watch_at(api, clock)
    assert send(watch, status(session=_holder()))
    laser_topic = topic("dony", "laser-1-pi", Kind.STATUS)
    assert not watch.handle(laser_topic, b"{not json")
    assert not watch.handle(laser_topic, encode(status("mill-1-pi", "mill-1")))  # forged
    # Queued, then refused when written: no machine has it; registered to another machine.
    assert send(watch, status("cupboard-pi", "cupboard"))
    assert send(watch, status("mill-1-pi", "laser-1"))
    assert watch.flush() == 1
    rejected = {
        reason: api.metrics.value("device_messages_rejected_total", reason=reason)
        for reason in ("malformed", "forged", "unregistered")
    }
    assert rejected == {"malformed": 1, "forged": 1, "unregistered": 2}
    assert api.metrics.value("device_statuses_total") == 1
    db.expire_all()
    kept = db.get(DeviceStatus, "laser-1-pi")
    assert kept is not None and kept.holder == "m-0001" and kept.received_at == T0
    assert db.get(DeviceStatus, "mill-1-pi") is None


def test_a_flooding_device_costs_one_write_and_its_newest_status_wins(
    api: Api, db: Session
) -> None:
    three_machines(db)
    watch = watch_at(api, [T0])
    for n in range(1000):
        send(watch, status(time=T0 + timedelta(milliseconds=n), outbox_backlog=n))
    assert watch.flush() == MAX_PENDING  # the newest few, in order; the rest never written
    assert watch.flush() == 0
    db.expire_all()
    kept = db.get(DeviceStatus, "laser-1-pi")
    assert kept is not None and kept.outbox_backlog == 999


def test_the_watch_keeps_each_devices_newest_sample(api: Api, db: Session) -> None:
    three_machines(db)
    clock = [T0]
    watch = watch_at(api, clock)
    assert send(watch, sample(progress=10.0), Kind.TELEMETRY)
    clock[0] = T0 + timedelta(seconds=5)
    assert send(watch, sample(progress=12.5), Kind.TELEMETRY)
    forged = sample(progress=99.0).model_copy(update={"device_id": "mill-1-pi"})
    assert not watch.handle(topic("dony", "laser-1-pi", Kind.TELEMETRY), encode(forged))
    heard = watch.latest("dony", "laser-1-pi")
    assert heard is not None
    assert heard.sample.metrics["progress_pct"] == 12.5 and heard.received_at == clock[0]


def sample(*, progress: float, machine: str = "laser-1") -> Telemetry:
    return Telemetry(
        site="dony",
        device_id=f"{machine}-pi",
        machine_id=machine,
        time=T0,
        state=MachineState.RUNNING,
        metrics={"progress_pct": progress, "power_w": 410.0},
    )


def _holder() -> OpenSession:
    return OpenSession(
        session_id=uuid.uuid4(), member_id="m-0001", badge_uid="04A2246AB12C80", started_at=T0
    )


# ---------------------------------------------------------------- the pages


def test_the_device_page_shows_each_devices_health_in_french(api: Api, db: Session) -> None:
    three_machines(db)
    clock = [T0 - timedelta(minutes=1)]
    watch = watch_at(api, clock)
    send(watch, status(outbox_backlog=250))
    send(watch, status("mill-1-pi", "mill-1", firmware=None, relay_on=False, locked=True))
    clock[0] = T0
    # In the same second as its last status: the mill's will is applied after it.
    send(watch, will().model_copy(update={"device_id": "mill-1-pi", "machine_id": "mill-1"}))
    watch.flush()
    api.app.state.device_watch = watch
    api.add_user("maintenance", UserRole.MAINTAINER)
    page = logged_in(api, "maintenance").get("/console/devices")
    assert page.status_code == 200
    assert "En ligne : 1 · hors ligne : 1 · muets : 0 · jamais vus : 1" in page.text
    laser = _device(page.text, "laser-1-pi")
    assert "En ligne" in laser and "Marlin 2.1.2.4" in laser and "0.9.0" in laser
    assert "250 événement(s)" in laser and 'class="tag-locked">250' in laser
    assert "14:30" in laser  # last seen, Brussels time
    assert "pas à jour" in laser  # version 1, the registry has moved on since
    mill = _device(page.text, "mill-1-pi")
    assert "Hors ligne" in mill and "depuis 23/11/2026 14:31" in mill
    assert "non communiqué" in mill and "Verrouillée" in mill
    assert "Jamais vu" in _device(page.text, "printer-1-pi")


@pytest.mark.parametrize("role", [UserRole.MEMBER, UserRole.ACCOUNTANT])
def test_the_device_page_is_for_managers_and_maintainers(
    api: Api, db: Session, role: UserRole
) -> None:
    member = workshop(db).member_id if role is UserRole.MEMBER else None
    api.add_user("someone", role, member_id=member)
    page = logged_in(api, "someone").get("/console/devices")
    assert page.status_code == 403
    assert "Accès refusé" in page.text


def test_the_live_board_shows_a_running_jobs_progress_while_samples_are_fresh(
    api: Api, db: Session
) -> None:
    three_machines(db)
    data = job("job_started", "j-1", "boite.svg", started=0)
    record_events(db, [on("laser-1", "job_started", data, seq=1, minutes=0)], received_at=T0)
    db.commit()
    clock = [T0 - timedelta(seconds=20)]
    watch = watch_at(api, clock)
    send(watch, sample(progress=42.4), Kind.TELEMETRY)
    api.app.state.device_watch = watch
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    laser = _card(client.get("/console/").text, "laser-1")
    assert '<progress max="100" value="42.4"' in laser and "42 %" in laser
    assert "En marche" in laser
    api.now = T0 + timedelta(minutes=5)  # the device went quiet: no stale progress
    laser = _card(client.get("/console/").text, "laser-1")
    assert "<progress" not in laser and "En marche" not in laser


def _device(html: str, device: str) -> str:
    start = html.index(f'data-device="{device}"')
    return html[start : html.index("</li>", start)]
