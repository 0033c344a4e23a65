"""Plans, counters from the ledger, interventions and defaults, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contracts.models import AlertCounter
from hub.errors import Conflict, Invalid, NotFound
from hub.maintenance import service
from hub.maintenance.plans import PlanState
from tests.hub_maintenance.conftest import (
    HOUR,
    LASER,
    MILL,
    T0,
    job_event,
    record,
    session_event,
)

DAY = timedelta(days=1)


def _plan(db: Session, machine: str, counter: AlertCounter, limit: float, **kw: object) -> int:
    plan = service.create_plan(
        db,
        machine_id=machine,
        name=str(counter),
        counter=counter,
        limit=limit,
        now=T0,
        **kw,  # type: ignore[arg-type]
    )
    db.commit()
    return plan.id


def _values(db: Session, machine: str, at: object) -> dict[str, float]:
    found = service.plan_status(db, machine_id=machine, now=at)  # type: ignore[arg-type]
    return {s.name: round(s.value, 6) for s in found}


def test_each_counter_sums_its_machine_since_the_plan_began(db: Session, world: Engine) -> None:
    for counter in AlertCounter:
        _plan(db, LASER, counter, 1000)
    _plan(db, MILL, AlertCounter.BUSY_HOURS, 1000)
    record(
        world,
        session_event(LASER, T0 - HOUR, busy_h=50, energy_kwh=9),  # before the plans: ignored
        session_event(LASER, T0 + HOUR, badge_h=2, busy_h=1.5, energy_kwh=3.25),
        session_event(LASER, T0 + 2 * DAY, badge_h=3, busy_h=2),  # no meter: no energy
        session_event(LASER, T0 + 3 * DAY, badge_h=1),  # no bridge: no busy time
        session_event(MILL, T0 + DAY, busy_h=7),
        job_event(LASER, T0 + HOUR),
        job_event(LASER, T0 + DAY),
        job_event(MILL, T0 + DAY),
        job_event(LASER, T0 - HOUR),
    )
    assert _values(db, LASER, T0 + 10 * DAY) == {
        "busy_hours": 3.5,
        "badge_hours": 6.0,
        "energy_kwh": 3.25,
        "jobs": 2.0,
        "days": 10.0,
    }
    assert _values(db, MILL, T0 + 10 * DAY) == {"busy_hours": 7.0}
    # As of an earlier moment, later sessions do not count yet.
    assert _values(db, LASER, T0 + DAY)["busy_hours"] == 1.5


def test_an_intervention_resets_the_counter_and_keeps_the_history(
    db: Session, world: Engine
) -> None:
    plan_id = _plan(db, LASER, AlertCounter.BUSY_HOURS, 20, warning=16)
    record(world, session_event(LASER, T0 + DAY, busy_h=18))
    assert service.plan_status(db, plan_id=plan_id, now=T0 + DAY)[0].state is PlanState.WARNING

    status = service.record_intervention(
        db,
        plan_id=plan_id,
        by="maintainer-ben",
        what="cleaned lens and mirrors",
        parts="lens wipes",
        at=T0 + 2 * DAY,
    )
    db.commit()
    assert (status.value, status.state, status.cycle_started_at) == (0, PlanState.OK, T0 + 2 * DAY)
    record(world, session_event(LASER, T0 + 3 * DAY, busy_h=4))
    assert _values(db, LASER, T0 + 4 * DAY) == {"busy_hours": 4.0}
    [done] = service.interventions(db, plan_id=plan_id)
    assert (done.by, done.what, done.parts, done.value) == (
        "maintainer-ben",
        "cleaned lens and mirrors",
        "lens wipes",
        18.0,
    )


def test_interventions_refuse_nonsense(db: Session) -> None:
    plan_id = _plan(db, LASER, AlertCounter.BUSY_HOURS, 20)
    with pytest.raises(Invalid):
        service.record_intervention(db, plan_id=plan_id, by="ben", what="x", at=T0 - DAY)
    with pytest.raises(Invalid):
        service.record_intervention(db, plan_id=plan_id, by="ben", what="  ", at=T0 + DAY)
    with pytest.raises(Invalid):  # in the future
        service.record_intervention(
            db, plan_id=plan_id, by="ben", what="x", at=T0 + 2 * DAY, now=T0 + DAY
        )
    with pytest.raises(NotFound):
        service.record_intervention(db, plan_id=999, by="ben", what="x", at=T0 + DAY)


def test_plans_refuse_duplicates_bad_thresholds_and_unknown_machines(db: Session) -> None:
    _plan(db, LASER, AlertCounter.BUSY_HOURS, 20)
    with pytest.raises(Conflict):
        _plan(db, LASER, AlertCounter.BUSY_HOURS, 30)
    with pytest.raises(Invalid):
        _plan(db, MILL, AlertCounter.JOBS, 10, warning=12)
    with pytest.raises(NotFound):
        _plan(db, "nowhere", AlertCounter.JOBS, 10)
    # The refused attempts left the session usable.
    assert [p.name for p in service.list_plans(db)] == ["busy_hours"]


def test_update_changes_thresholds_and_can_drop_the_warning(db: Session) -> None:
    plan_id = _plan(db, LASER, AlertCounter.BUSY_HOURS, 20, warning=16)
    row = service.update_plan(db, plan_id=plan_id, limit=30)
    assert (row.warning, row.limit) == (16, 30)
    row = service.update_plan(db, plan_id=plan_id, warning=None, active=False)
    assert (row.warning, row.active) == (None, False)
    with pytest.raises(Invalid):
        service.update_plan(db, plan_id=plan_id, warning=40)


def test_defaults_are_added_once(db: Session) -> None:
    added = service.apply_defaults(db, machine_id=LASER, now=T0)
    db.commit()
    assert [p.name for p in added] == ["laser tube", "lens and mirror cleaning"]
    assert service.apply_defaults(db, machine_id=LASER, now=T0 + DAY) == []
    mill = service.apply_defaults(db, machine_id=MILL, now=T0)
    assert [(p.name, p.counter, p.warning, p.limit) for p in mill][2] == (
        "lubrication",
        AlertCounter.DAYS,
        25,
        30,
    )
    db.commit()
    assert len(service.list_plans(db)) == 5


def test_forecast_follows_the_recent_pace(db: Session, world: Engine) -> None:
    plan_id = _plan(db, LASER, AlertCounter.BUSY_HOURS, 100, warning=80)
    # 10 busy hours a day for 4 days, then nothing for 2 weeks, then 14 hours in the last week.
    record(world, *(session_event(LASER, T0 + d * DAY, busy_h=10) for d in range(1, 5)))
    record(world, session_event(LASER, T0 + 20 * DAY, busy_h=14))
    now = T0 + 40 * DAY
    [status] = service.plan_status(db, plan_id=plan_id, now=now, window_days=28)
    # The last 28 days hold 14 hours: 0.5 h/day; 46 hours to go take 92 days.
    assert status.value == 54
    assert status.due_at == now + timedelta(days=92)
    [young] = service.plan_status(db, plan_id=plan_id, now=T0 + 5 * DAY, window_days=28)
    # A plan younger than the window: 40 hours in 5 days, 60 to go take 7.5 days.
    assert young.due_at == T0 + 5 * DAY + timedelta(days=7.5)
    idle = service.plan_status(db, plan_id=plan_id, now=T0 + 60 * DAY, window_days=28)[0]
    assert idle.due_at is None
