"""The monitor against a real database and a real Mosquitto: alerts once, lock, unlock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contracts.models import AlertCounter, AlertLevel
from hub.commands import CommandSender
from hub.db import session_factory, writing
from hub.maintenance import service
from hub.maintenance.models import MaintenanceAlert
from hub.maintenance.monitor import MaintenanceMonitor
from hub.maintenance.settings import MaintenanceSettings
from hub.mqtt import BrokerLogin
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto
from tests.hub_maintenance.conftest import (
    LASER,
    MILL,
    T0,
    Commands,
    Notified,
    record,
    session_event,
)

DAY = timedelta(days=1)
LASER_DEVICE, MILL_DEVICE = "laser-1-pi", "mill-1-pi"


@pytest.fixture
def sender(mosquitto: Mosquitto) -> Iterator[CommandSender]:
    login = BrokerLogin(host="127.0.0.1", port=mosquitto.port, username="hub", password="")
    with CommandSender(login) as started:
        assert started.wait_connected(10)
        yield started


def _monitor(
    world: Engine, notified: Notified, sender: CommandSender | None = None, **kw: object
) -> MaintenanceMonitor:
    return MaintenanceMonitor(world, MaintenanceSettings(), notify=notified, sender=sender, **kw)  # type: ignore[arg-type]


def _lens(world: Engine, *, lock: bool = True) -> int:
    with writing(session_factory(world)) as db:
        plan = service.create_plan(
            db,
            machine_id=LASER,
            name="lens and mirror cleaning",
            counter=AlertCounter.BUSY_HOURS,
            warning=16,
            limit=20,
            lock_at_limit=lock,
            now=T0,
        )
    return plan.id


def _alerts(world: Engine) -> list[tuple[str, bool]]:
    with session_factory(world)() as db:
        rows = db.scalars(select(MaintenanceAlert).order_by(MaintenanceAlert.raised_at))
        return [(a.level.value, a.acknowledged_at is not None) for a in rows]


def test_a_warning_is_raised_once_however_often_it_is_evaluated(world: Engine) -> None:
    _lens(world)
    notified = Notified()
    monitor = _monitor(world, notified)
    record(world, session_event(LASER, T0 + DAY, busy_h=16.5))
    first = monitor.evaluate(T0 + DAY)
    [alert] = first.raised
    assert (alert.level, alert.plan, alert.value, alert.threshold) == (
        AlertLevel.WARNING,
        "lens and mirror cleaning",
        16.5,
        16,
    )
    assert alert.due_at is not None and alert.site == "dony"
    # The counter creeps up, hovers: nothing more until the limit.
    record(world, session_event(LASER, T0 + 2 * DAY, busy_h=0.5))
    for hours in range(3, 8):
        assert monitor.evaluate(T0 + hours * DAY).raised == []
    # A restarted hub remembers through the database.
    assert _monitor(world, notified).evaluate(T0 + 9 * DAY).raised == []
    assert [(a.alert_id, device) for a, device in notified.calls] == [
        (alert.alert_id, LASER_DEVICE)
    ]
    assert _alerts(world) == [("warning", False)]
    assert monitor.metrics.value("maintenance_alerts_total", level="warning") == 1


def test_two_monitors_racing_raise_one_alert(world: Engine) -> None:
    _lens(world)
    record(world, session_event(LASER, T0 + DAY, busy_h=17))
    notified = Notified()
    monitors = [_monitor(world, notified) for _ in range(4)]
    barrier = threading.Barrier(len(monitors))

    def run(monitor: MaintenanceMonitor) -> None:
        barrier.wait()
        monitor.evaluate(T0 + DAY)

    threads = [threading.Thread(target=run, args=(m,)) for m in monitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(notified.calls) == 1
    assert _alerts(world) == [("warning", False)]


def test_a_failed_notification_loses_nothing_and_is_retried(world: Engine) -> None:
    _lens(world)
    record(world, session_event(LASER, T0 + DAY, busy_h=17))

    def broken(_db: Session, *_args: object) -> None:
        raise RuntimeError("queue table missing")

    with pytest.raises(RuntimeError):
        _monitor(world, broken).evaluate(T0 + DAY)  # type: ignore[arg-type]
    assert _alerts(world) == []  # rolled back with the notification
    notified = Notified()
    assert len(_monitor(world, notified).evaluate(T0 + DAY).raised) == 1
    assert len(notified.calls) == 1


def test_the_limit_locks_the_machine_once_and_an_intervention_unlocks_it(
    world: Engine, sender: CommandSender, commands: Commands
) -> None:
    plan_id = _lens(world)
    notified = Notified()
    monitor = _monitor(world, notified, sender)
    record(world, session_event(LASER, T0 + DAY, busy_h=20.5))
    result = monitor.evaluate(T0 + DAY)
    assert [a.level for a in result.raised] == [AlertLevel.LIMIT]
    assert result.locked == [LASER]
    assert commands.wait_for(LASER_DEVICE, ["lock"])
    [(_, lock)] = commands.received
    assert lock.reason == "maintenance: lens and mirror cleaning (20.5 busy h ≥ 20)"
    assert lock.issued_by == "maintenance"
    for _ in range(3):
        assert monitor.evaluate(T0 + 2 * DAY).locked == []

    with writing(session_factory(world)) as db:
        status = service.record_intervention(
            db, plan_id=plan_id, by="ben", what="cleaned", at=T0 + 3 * DAY
        )
    assert status.value == 0
    assert _alerts(world) == [("limit", True)]
    assert monitor.evaluate(T0 + 3 * DAY).unlocked == [LASER]
    assert commands.wait_for(LASER_DEVICE, ["lock", "unlock"])
    assert monitor.evaluate(T0 + 4 * DAY).unlocked == []
    assert commands.actions(MILL_DEVICE) == []
    # The broker confirmed the unlock: nothing is pending any more.
    assert wait_until(lambda: _pending_unlocks(world, monitor) == 0, 10)
    assert monitor.metrics.value("maintenance_locks_total") == 1
    assert monitor.metrics.value("maintenance_unlocks_total") == 1


def _pending_unlocks(world: Engine, monitor: MaintenanceMonitor) -> int:
    monitor.evaluate(T0 + 4 * DAY)
    with session_factory(world)() as db:
        return len([row for row in service.locks(db) if row.unlock_pending])


def test_a_manual_lock_is_not_lifted_by_maintenance(
    world: Engine, sender: CommandSender, commands: Commands
) -> None:
    plan_id = _lens(world)
    monitor = _monitor(world, Notified(), sender)
    monitor.lock_manually(LASER, by="manager-ann", reason="exhaust fan broken")
    assert commands.wait_for(LASER_DEVICE, ["lock"])
    record(world, session_event(LASER, T0 + DAY, busy_h=25))
    assert monitor.evaluate(T0 + DAY).locked == [LASER]
    with writing(session_factory(world)) as db:
        service.record_intervention(db, plan_id=plan_id, by="ben", what="cleaned", at=T0 + 2 * DAY)
    assert monitor.evaluate(T0 + 2 * DAY).unlocked == [LASER]
    monitor.unlock_manually(MILL, by="manager-ann")  # not locked: nothing to send
    assert not wait_until(lambda: "unlock" in commands.actions(LASER_DEVICE), 1.0)
    assert commands.actions(MILL_DEVICE) == []
    monitor.unlock_manually(LASER, by="manager-ann")
    assert wait_until(lambda: commands.actions(LASER_DEVICE)[-1] == "unlock", 10)
    # Every lock the device heard was the manager's (sent again when the monitor started).
    locks = [c for d, c in commands.received if c.action.value == "lock"]
    assert {(c.reason, c.issued_by) for c in locks} == {("exhaust fan broken", "manager-ann")}


def test_a_restarted_hub_sends_the_lock_state_again(
    world: Engine, sender: CommandSender, commands: Commands
) -> None:
    _lens(world)
    record(world, session_event(LASER, T0 + DAY, busy_h=21))
    _monitor(world, Notified(), sender).evaluate(T0 + DAY)
    assert commands.wait_for(LASER_DEVICE, ["lock"])
    # A new process (its sender connected once): the locked machine hears LOCK again, which the
    # edge ignores when already locked, and no second alert.
    notified = Notified()
    again = _monitor(world, notified, sender).evaluate(T0 + DAY)
    assert (again.raised, again.locked) == ([], [])
    assert commands.wait_for(LASER_DEVICE, ["lock", "lock"])
    assert notified.calls == []


def test_a_plan_that_does_not_lock_only_alerts(
    world: Engine, sender: CommandSender, commands: Commands
) -> None:
    _lens(world, lock=False)
    record(world, session_event(LASER, T0 + DAY, busy_h=30))
    result = _monitor(world, Notified(), sender).evaluate(T0 + DAY)
    assert [a.level for a in result.raised] == [AlertLevel.LIMIT]
    assert result.locked == []
    assert not wait_until(lambda: bool(commands.received), 0.5)


def test_points_are_offered_per_plan_and_per_alert(world: Engine) -> None:
    _lens(world)
    with writing(session_factory(world)) as db:
        service.apply_defaults(db, machine_id=MILL, now=T0)
    record(world, session_event(LASER, T0 + DAY, busy_h=17))
    offered: list[list[str]] = []
    _monitor(world, Notified(), offer=offered.append).evaluate(T0 + DAY)
    [lines] = offered
    maintenance = [line for line in lines if line.startswith("maintenance,")]
    alerts = [line for line in lines if line.startswith("alert,")]
    assert len(maintenance) == 4 and len(alerts) == 1
    assert any("plan=lens\\ and\\ mirror\\ cleaning" in line for line in maintenance)
    assert "level=warning" in alerts[0]


def test_the_thread_evaluates_when_woken(world: Engine) -> None:
    _lens(world)
    notified = Notified()
    monitor = _monitor(world, notified, clock=lambda: T0 + DAY)
    monitor.start()
    try:
        assert wait_until(lambda: monitor.metrics.value("maintenance_evaluations_total") >= 1, 10)
        record(world, session_event(LASER, T0 + DAY, busy_h=18))
        monitor.wake()
        assert wait_until(lambda: len(notified.calls) == 1, 10)
    finally:
        monitor.stop()
    with session_factory(world)() as db:
        assert db.scalar(select(func.count()).select_from(MaintenanceAlert)) == 1
