"""The maintenance API: roles, plans with their status, interventions by the logged-in user."""

from __future__ import annotations

from datetime import timedelta

from contracts.models import AlertCounter
from hub.api.models import UserRole
from hub.db import writing
from hub.maintenance.monitor import MaintenanceMonitor
from hub.maintenance.settings import MaintenanceSettings
from hub.registry import service as registry
from tests.hub_api.conftest import Api
from tests.hub_maintenance.conftest import (
    LASER,
    MILL,
    T0,
    Notified,
    make_workshop,
    record,
    session_event,
)

DAY = timedelta(days=1)
LENS = {
    "machine_id": LASER,
    "name": "lens and mirror cleaning",
    "counter": "busy_hours",
    "warning": 16,
    "limit": 20,
}


def _workshop(api: Api) -> None:
    with writing(api.sessions) as db:
        make_workshop(db)


def test_members_and_accountants_may_not_see_or_touch_plans(api: Api) -> None:
    _workshop(api)
    with writing(api.sessions) as db:
        member = registry.create_member(db, name="Ada Lovelace", email="ada@example.org")
    for role, member_id in ((UserRole.MEMBER, member.id), (UserRole.ACCOUNTANT, None)):
        headers = api.as_role(role, member_id=member_id)
        assert api.client.get("/maintenance/plans", headers=headers).status_code == 403
        answer = api.client.post("/maintenance/plans", json=LENS, headers=headers)
        assert answer.status_code == 403
    assert api.client.get("/maintenance/alerts").status_code == 401


def test_a_maintainer_logs_an_intervention_that_resets_the_plan(api: Api) -> None:
    _workshop(api)
    manager, maintainer = api.as_role(UserRole.MANAGER), api.as_role(UserRole.MAINTAINER)
    created = api.client.post("/maintenance/plans", json=LENS, headers=manager)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    engine = api.sessions.kw["bind"]
    record(engine, session_event(LASER, T0 + DAY, busy_h=21))
    api.now = T0 + 2 * DAY
    manager, maintainer = api.headers("manager-0"), api.headers("maintainer-1")
    monitor = MaintenanceMonitor(engine, MaintenanceSettings(), notify=Notified(), sender=None)
    [alert] = monitor.evaluate(api.now).raised
    woken: list[int] = []
    api.app.state.maintenance_changed = lambda: woken.append(1)

    [status] = api.client.get(f"/maintenance/plans?machine_id={LASER}", headers=maintainer).json()
    assert (status["value"], status["state"]) == (21, "limit")
    logged = api.client.post(
        f"/maintenance/plans/{plan_id}/interventions",
        json={"what": "cleaned lens, replaced mirror 2", "parts": "mirror 20 mm Si"},
        headers=maintainer,
    )
    assert logged.status_code == 201, logged.text
    assert (logged.json()["value"], logged.json()["state"]) == (0, "ok")
    assert woken == [1]
    [history] = api.client.get(
        f"/maintenance/plans/{plan_id}/interventions", headers=manager
    ).json()
    assert (history["by"], history["value"], history["parts"]) == (
        "maintainer-1",
        21,
        "mirror 20 mm Si",
    )
    [seen] = api.client.get("/maintenance/alerts", headers=manager).json()
    assert (seen["alert_id"], seen["acknowledged_by"]) == (str(alert.alert_id), "maintainer-1")
    assert api.client.get("/maintenance/alerts?open=true", headers=manager).json() == []


def test_alerts_are_acknowledged_by_whoever_saw_them(api: Api) -> None:
    _workshop(api)
    manager = api.as_role(UserRole.MANAGER)
    api.client.post("/maintenance/plans", json=LENS, headers=manager)
    engine = api.sessions.kw["bind"]
    record(engine, session_event(LASER, T0 + DAY, busy_h=17))
    monitor = MaintenanceMonitor(engine, MaintenanceSettings(), notify=Notified(), sender=None)
    [alert] = monitor.evaluate(T0 + DAY).raised
    url = f"/maintenance/alerts/{alert.alert_id}/acknowledge"
    first = api.client.post(url, headers=manager)
    assert first.status_code == 200
    assert first.json()["acknowledged_by"] == "manager-0"
    again = api.client.post(url, headers=api.as_role(UserRole.MAINTAINER)).json()
    assert again["acknowledged_by"] == "manager-0"
    missing = "/maintenance/alerts/00000000-0000-4000-8000-000000000000/acknowledge"
    assert api.client.post(missing, headers=manager).status_code == 404


def test_plans_are_created_updated_and_defaulted(api: Api) -> None:
    _workshop(api)
    maintainer = api.as_role(UserRole.MAINTAINER)
    plan = api.client.post("/maintenance/plans", json=LENS, headers=maintainer).json()
    again = api.client.post("/maintenance/plans", json=LENS, headers=maintainer)
    assert again.status_code == 409
    bad = api.client.post("/maintenance/plans", json=LENS | {"warning": 30}, headers=maintainer)
    assert bad.status_code == 422
    changed = api.client.patch(
        f"/maintenance/plans/{plan['id']}", json={"warning": None, "limit": 25}, headers=maintainer
    ).json()
    assert (changed["warning"], changed["limit"], changed["lock_at_limit"]) == (None, 25, True)
    added = api.client.post(f"/maintenance/machines/{MILL}/defaults", headers=maintainer).json()
    assert [p["name"] for p in added] == ["lubrication", "spindle", "spindle bearings"]
    assert added[0]["counter"] == AlertCounter.DAYS.value
    assert (
        api.client.post(f"/maintenance/machines/{MILL}/defaults", headers=maintainer).json() == []
    )
    unknown = api.client.post("/maintenance/machines/nowhere/defaults", headers=maintainer)
    assert unknown.status_code == 404
