"""The live board: who holds each machine, the job it runs, locks and open maintenance alerts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from contracts.models import AlertCounter, AlertLevel, Event
from hub.api.models import UserRole
from hub.console.live import live_board
from hub.ledger.service import record_events
from hub.maintenance.models import MachineLock, MaintenanceAlert, MaintenancePlan
from hub.registry import service as registry
from hub.registry.numbers import member_ref
from tests.console.pages import browser, logged_in
from tests.hub.factories import T0, event, started, workshop
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

# The API over a migrated database and a session on it, as fixtures of this module.
api, db = hub_api.api, hub_api.db

MINUTE = timedelta(minutes=1)


def on(machine: str, kind: str, data: dict[str, Any], *, seq: int, minutes: int) -> Event:
    """An event of `machine`'s device, `minutes` after T0."""
    sent = event(kind, data, seq=seq, time=T0 + minutes * MINUTE)
    return sent.model_copy(update={"machine_id": machine, "device_id": f"{machine}-pi"})


def job(
    kind: str, job_id: str, name: str, *, started: int, ended: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": job_id,
        "name": name,
        "started_at": (T0 + started * MINUTE).isoformat(),
    }
    if kind == "job_ended":
        data |= {"ended_at": (T0 + (ended or 0) * MINUTE).isoformat()}
        data |= {"outcome": "completed", "busy_s": 60.0}
    return data


def seed(db: Session) -> int:
    """Ada holds the laser and cuts a box; the mill is locked for maintenance; the printer idles
    after a finished print and is locked by its edge."""
    member_id = workshop(db).member_id
    for machine, name, kind in (
        ("mill-1", "Stepcraft D.840", "cnc_mill"),
        ("printer-1", "Prusa MK4", "printer_3d"),
    ):
        registry.create_machine(
            db, machine_id=machine, site_id="dony", name=name, kind=kind, device_id=f"{machine}-pi"
        )
    db.commit()
    events = [
        started(uuid.uuid4(), T0, member=member_ref(member_id)),
        on(
            "laser-1",
            "job_started",
            job("job_started", "j1", "boite.svg", started=2),
            seq=2,
            minutes=2,
        ),
        on(
            "printer-1",
            "job_started",
            job("job_started", "p1", "vis.gcode", started=1),
            seq=1,
            minutes=1,
        ),
        on(
            "printer-1",
            "job_ended",
            job("job_ended", "p1", "vis.gcode", started=1, ended=9),
            seq=2,
            minutes=9,
        ),
        on(
            "printer-1",
            "lockout_changed",
            {"locked": True, "reason": "buse bouchée"},
            seq=3,
            minutes=10,
        ),
    ]
    record_events(db, events, received_at=T0 + 11 * MINUTE)
    plan = MaintenancePlan(
        machine_id="mill-1",
        name="broches",
        counter=AlertCounter.BUSY_HOURS,
        limit=100.0,
        lock_at_limit=True,
        active=True,
        created_at=T0,
        cycle=0,
        cycle_started_at=T0,
    )
    db.add(plan)
    db.flush()
    db.add(
        MaintenanceAlert(
            alert_id=uuid.uuid4(),
            plan_id=plan.id,
            cycle=0,
            level=AlertLevel.LIMIT,
            value=101.0,
            threshold=100.0,
            raised_at=T0,
        )
    )
    db.add(MachineLock(machine_id="mill-1", locked_by_maintenance=True, since=T0, plans="broches"))
    db.commit()
    return member_id


def test_the_board_shows_holders_jobs_locks_and_alerts(db: Session) -> None:
    seed(db)
    board = live_board(db)
    cards = {card.machine_id: card for card in board.machines}
    assert set(cards) == {"laser-1", "mill-1", "printer-1"}
    laser = cards["laser-1"]
    assert laser.holder is not None and laser.holder.name == "Ada Lovelace"
    assert laser.holder.since == T0
    assert laser.job is not None and laser.job.name == "boite.svg"
    assert laser.job.since == T0 + 2 * MINUTE
    assert not laser.locked and laser.last_event_at == T0 + 2 * MINUTE
    mill = cards["mill-1"]
    assert mill.locked and mill.lock_reason == "broches" and mill.open_alerts == 1
    assert mill.holder is None and mill.job is None and mill.last_event_at is None
    printer = cards["printer-1"]
    assert printer.job is None  # its print ended
    assert printer.locked and printer.lock_reason == "buse bouchée"
    assert board.open_alerts == 1


def test_an_acknowledged_alert_and_a_lifted_lock_leave_the_board(db: Session) -> None:
    seed(db)
    for alert in db.query(MaintenanceAlert):
        alert.acknowledged_at, alert.acknowledged_by = T0, "gerante"
    lock = db.get(MachineLock, "mill-1")
    assert lock is not None
    lock.locked_by_maintenance = False
    db.commit()
    board = live_board(db)
    mill = next(card for card in board.machines if card.machine_id == "mill-1")
    assert not mill.locked and board.open_alerts == 0


def test_the_board_page_shows_each_machine_in_french(api: Api, db: Session) -> None:
    seed(db)
    api.add_user("maintenance", UserRole.MAINTAINER)
    page = logged_in(api, "maintenance").get("/console/")
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="10">' in page.text
    laser = _card(page.text, "laser-1")
    assert "Trotec Speedy 400" in laser and "Ada Lovelace" in laser
    assert "depuis 23/11/2026 14:31" in laser  # Brussels time
    assert "boite.svg" in laser
    assert "Verrouillée" in _card(page.text, "mill-1")
    assert "Alertes de maintenance ouvertes : 1" in page.text


def test_an_unknown_member_reference_is_shown_as_sent(api: Api, db: Session) -> None:
    workshop(db)
    record_events(db, [started(uuid.uuid4(), T0, member="guest-42")], received_at=T0)
    db.commit()
    api.add_user("gerante", UserRole.MANAGER)
    page = logged_in(api, "gerante").get("/console/")
    assert "guest-42" in _card(page.text, "laser-1")


def test_the_board_is_not_for_anonymous_visitors(api: Api) -> None:
    response = browser(api).get("/console/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/"


def _card(html: str, machine: str) -> str:
    start = html.index(f'data-machine="{machine}"')
    return html[start : html.index("</li>", start)]
