"""The maintenance pages: plans against their thresholds, alerts, interventions, manual locks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from contracts.models import AlertCounter
from hub.api.models import UserRole
from hub.commands import CommandSender
from hub.console.models import AuditEntry
from hub.db import writing
from hub.maintenance import service
from hub.maintenance.models import MaintenanceAlert
from hub.maintenance.monitor import MaintenanceMonitor
from hub.maintenance.settings import MaintenanceSettings
from hub.mqtt import BrokerLogin
from hub.registry import service as registry
from machinerie.servers import Mosquitto
from tests.console.pages import csrf_of, logged_in
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api
from tests.hub_maintenance import conftest as maintenance
from tests.hub_maintenance.conftest import (
    LASER,
    LASER_DEVICE,
    MILL,
    T0,
    Commands,
    Notified,
    make_workshop,
    record,
    session_event,
)

api = hub_api.api  # the API over a migrated database, as a fixture of this module
commands = maintenance.commands  # a real subscriber on the devices' command topics
DAY = timedelta(days=1)
HOME = "/console/maintenance"
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _engine(api: Api) -> Engine:
    engine: Engine = api.sessions.kw["bind"]
    return engine


def _workshop(api: Api) -> None:
    with writing(api.sessions) as db:
        make_workshop(db)


def _lens(api: Api, *, warning: float = 16, limit: float = 20) -> int:
    with writing(api.sessions) as db:
        plan = service.create_plan(
            db,
            machine_id=LASER,
            name="lens and mirror cleaning",
            counter=AlertCounter.BUSY_HOURS,
            warning=warning,
            limit=limit,
            now=T0,
        )
    return plan.id


def _overdue_lens(api: Api) -> int:
    """The laser's lens plan past its limit, its alert raised, two days after T0."""
    plan_id = _lens(api)
    record(_engine(api), session_event(LASER, T0 + DAY, busy_h=21))
    api.now = T0 + 2 * DAY
    monitor = MaintenanceMonitor(
        _engine(api), MaintenanceSettings(), notify=Notified(), sender=None
    )
    assert len(monitor.evaluate(api.now).raised) == 1
    return plan_id


def _post(client: TestClient, path: str, page: str, **fields: str) -> httpx.Response:
    """Send a form as the browser would, with the token the page `page` carried."""
    token = csrf_of(client.get(page))
    response: httpx.Response = client.post(path, data={"csrf": token, **fields})
    return response


def _audit_actions(api: Api) -> list[tuple[str, str, str]]:
    with api.sessions() as db:
        rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.username, r.action, r.target) for r in rows if r.action.startswith("maint")]


def _plan_order(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-plan="(\d+)" data-state="(\w+)"', page)


# ------------------------------------------------------------ who may see and act


@SQLITE_ONLY
def test_members_and_accountants_get_the_refusal_page(api: Api) -> None:
    _workshop(api)
    api.add_user("compta", UserRole.ACCOUNTANT)
    with writing(api.sessions) as db:
        member = registry.create_member(db, name="Ada Lovelace", email="ada@example.org")
    api.add_user("ada", UserRole.MEMBER, member_id=member.id)
    for username in ("compta", "ada"):
        client = logged_in(api, username)
        page = client.get(HOME)
        assert page.status_code == 403
        assert "<h1>Accès refusé</h1>" in page.text
        assert 'href="/console/maintenance"' not in page.text  # not in their menu either
        refused = client.post(f"{HOME}/machines/{LASER}/defaults", data={"csrf": "x"})
        assert refused.status_code == 403
    with api.sessions() as db:
        assert service.list_plans(db) == []


@SQLITE_ONLY
def test_managers_and_maintainers_find_the_page_in_their_menu(api: Api) -> None:
    _workshop(api)
    api.add_user("gerante", UserRole.MANAGER)
    api.add_user("maintenance", UserRole.MAINTAINER)
    for username in ("gerante", "maintenance"):
        page = logged_in(api, username).get(HOME)
        assert page.status_code == 200
        assert '<a href="/console/maintenance" aria-current="page">Maintenance</a>' in page.text
        assert page.text.count("<h1") == 1


@SQLITE_ONLY
def test_a_form_without_the_session_token_changes_nothing(api: Api) -> None:
    _workshop(api)
    plan_id = _lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    response = client.post(
        f"{HOME}/plans/{plan_id}/interventions", data={"what": "cleaned", "csrf": "forged"}
    )
    assert response.status_code == 403
    assert "Formulaire refusé" in response.text
    with api.sessions() as db:
        assert service.interventions(db, plan_id=plan_id) == []


# ------------------------------------------------------------ the overview


def test_the_overview_shows_every_plan_against_its_thresholds_due_first(api: Api) -> None:
    _workshop(api)
    with writing(api.sessions) as db:
        service.apply_defaults(db, machine_id=MILL, now=T0)
    lens = _overdue_lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    page = logged_in(api, "maintenance").get(HOME)
    assert page.status_code == 200
    order = _plan_order(page.text)
    assert order[0] == (str(lens), "limit")  # the overdue plan leads
    assert [state for _, state in order[1:]] == ["ok", "ok", "ok"]
    card = page.text.split(f'data-plan="{lens}"')[1].split("</article>")[0]
    assert "En retard" in card
    assert 'max="20.0" low="16.0" high="16.0" optimum="0" value="20.0"' in card
    assert "21 sur 20 h de travail" in card
    assert "maintenant" in card  # due now
    assert f'href="/console/maintenance/plans/{lens}"' in card
    # The mill's lubrication plan counts days: its forecast is its limit after the cycle began.
    assert "pas d&#39;usage récent" in page.text  # the spindle, never used


def test_a_maintainer_acknowledges_an_open_alert(api: Api) -> None:
    _workshop(api)
    _overdue_lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    page = client.get(HOME)
    [alert_id] = re.findall(r'data-alert="([0-9a-f-]+)"', page.text)
    assert "Limite atteinte" in page.text
    assert "Marquer comme vue l&#39;alerte lens and mirror cleaning de Trotec Speedy 400" in (
        page.text
    )
    done = _post(client, f"{HOME}/alerts/{alert_id}/acknowledge", HOME)
    assert done.status_code == 303
    assert done.headers["location"] == f"{HOME}?done=acknowledged"
    after = client.get(done.headers["location"]).text
    assert "Alerte marquée comme vue." in after
    assert "Aucune alerte ouverte." in after
    with api.sessions() as db:
        [alert] = db.scalars(select(MaintenanceAlert)).all()
        assert (alert.acknowledged_by, alert.acknowledged_at) == ("maintenance", api.now)
    assert _audit_actions(api) == []  # maintainers act on their own work, untraced


@SQLITE_ONLY
def test_acknowledging_an_unknown_alert_says_so(api: Api) -> None:
    _workshop(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    unknown = "6f1c2a8e-3b7d-4e0a-9c55-0d2f4b8a1e11"
    response = _post(client, f"{HOME}/alerts/{unknown}/acknowledge", HOME)
    assert response.status_code == 404
    assert "Cette alerte n&#39;existe pas." in response.text
    assert api.metrics.value("console_maintenance_refused", form="acknowledge") == 1


# ------------------------------------------------------------ interventions


def test_logging_an_intervention_resets_the_counter_and_wakes_the_monitor(api: Api) -> None:
    _workshop(api)
    plan_id = _overdue_lens(api)
    woken: list[int] = []
    api.app.state.maintenance_changed = lambda: woken.append(1)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    path = f"{HOME}/plans/{plan_id}"
    page = client.get(path).text
    assert '<label for="what">Travail effectué</label>' in page
    assert '<label for="parts">Pièces</label>' in page
    assert '<button type="submit">Enregistrer l&#39;intervention</button>' in page
    # The time field is filled with now, in the site's time (Brussels, UTC+1 in November).
    assert 'name="at" type="datetime-local" value="2026-11-25T14:31"' in page
    assert "Aucune intervention enregistrée pour ce plan." in page

    logged = _post(
        client,
        f"{path}/interventions",
        path,
        what="cleaned lens, replaced mirror 2",
        parts="mirror 20 mm Si",
        at="2026-11-25T14:31",
    )
    assert logged.status_code == 303, logged.text
    assert logged.headers["location"] == f"{path}?done=logged"
    assert woken == [1]
    after = client.get(logged.headers["location"]).text
    assert "Intervention enregistrée" in after
    assert 'data-state="ok"' in after and "0 sur 20 h de travail" in after
    row = after.split("data-intervention=")[1].split("</tr>")[0]
    for shown in ("25/11/2026 14:31", "maintenance", "cleaned lens, replaced mirror 2"):
        assert shown in row
    assert "mirror 20 mm Si" in row and "21 h de travail" in row
    with api.sessions() as db:
        [done] = service.interventions(db, plan_id=plan_id)
        assert (done.at, done.by) == (api.now, "maintenance")
        assert [a.acknowledged_by for a in db.scalars(select(MaintenanceAlert))] == ["maintenance"]


def test_an_intervention_by_a_manager_is_in_the_audit_log(api: Api) -> None:
    _workshop(api)
    plan_id = _lens(api)
    api.now = T0 + DAY
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    path = f"{HOME}/plans/{plan_id}"
    logged = _post(client, f"{path}/interventions", path, what="lens wiped", at="2026-11-24T09:00")
    assert logged.status_code == 303
    assert _audit_actions(api) == [
        ("gerante", "maintenance.intervention", f"{LASER}: lens and mirror cleaning")
    ]
    with api.sessions() as db:
        [done] = service.interventions(db, plan_id=plan_id)
        assert done.at == T0.replace(day=24, hour=8, minute=0)  # 09:00 in Brussels
    audit_page = client.get("/console/audit").text
    assert "Intervention de maintenance" in audit_page


def test_a_bad_intervention_is_refused_in_the_page_and_changes_nothing(api: Api) -> None:
    _workshop(api)
    plan_id = _overdue_lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    path = f"{HOME}/plans/{plan_id}"
    cases = [
        ({"what": "   ", "parts": "wipes"}, "Dites quel travail a été effectué."),
        ({"what": "cleaned", "at": "tomorrow"}, "Date et heure illisibles"),
        ({"what": "cleaned", "at": "2026-12-01T10:00"}, "ne pas être dans le futur"),
        (
            {"what": "cleaned", "at": "2026-11-20T10:00"},
            "début du cycle en cours (23/11/2026 14:31)",
        ),
        ({"what": "x" * 2001}, "Le texte est trop long (2000 caractères au plus)."),
    ]
    for fields, message in cases:
        refused = _post(client, f"{path}/interventions", path, **fields)
        assert refused.status_code == 422, fields
        assert message in refused.text
        assert 'role="alert"' in refused.text
        if "parts" in fields:  # what was typed is kept
            assert 'value="wipes"' in refused.text
    assert api.metrics.value("console_maintenance_refused", form="intervention") == len(cases)
    with api.sessions() as db:
        assert service.interventions(db, plan_id=plan_id) == []
        [status] = service.plan_status(db, plan_id=plan_id, now=api.now)
        assert status.value == 21
    missing = _post(client, f"{HOME}/plans/999/interventions", path, what="cleaned")
    assert missing.status_code == 404
    assert "Ce plan d&#39;entretien n&#39;existe pas." in missing.text


@SQLITE_ONLY
def test_the_intervention_form_speaks_english(api: Api) -> None:
    _workshop(api)
    plan_id = _lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    client.get("/console/lang/en")
    page = client.get(f"{HOME}/plans/{plan_id}").text
    assert '<label for="what">Work done</label>' in page
    assert '<label for="parts">Parts</label>' in page
    assert '<button type="submit">Log the intervention</button>' in page
    assert "0 of 20 busy h" in page


@SQLITE_ONLY
def test_figures_are_written_as_each_language_writes_them(api: Api) -> None:
    _workshop(api)
    plan_id = _lens(api, warning=1200.5, limit=1500.25)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    page = f"{HOME}/plans/{plan_id}"
    assert "0 sur 1\u202f500,2 h de travail" in client.get(page).text
    assert "1\u202f200,5 h de travail" in client.get(page).text
    client.get("/console/lang/en")
    assert "0 of 1,500.2 busy h" in client.get(page).text


# ------------------------------------------------------------ plans


def test_default_plans_and_a_new_plan_are_added_from_the_page(api: Api) -> None:
    _workshop(api)
    woken: list[int] = []
    api.app.state.maintenance_changed = lambda: woken.append(1)
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    applied = _post(client, f"{HOME}/machines/{LASER}/defaults", HOME)
    assert applied.status_code == 303
    assert applied.headers["location"] == f"{HOME}?done=defaults&count=2"
    assert (
        "Plans par défaut appliqués : 2 ajouté(s)." in client.get(applied.headers["location"]).text
    )
    again = _post(client, f"{HOME}/machines/{LASER}/defaults", HOME)
    assert again.headers["location"] == f"{HOME}?done=defaults&count=0"

    fields = {"machine_id": LASER, "name": "chiller  water", "counter": "days"}
    added = _post(client, f"{HOME}/plans", HOME, **fields, warning="80", limit="90,5")
    assert added.status_code == 303, added.text
    assert re.fullmatch(rf"{HOME}/plans/\d+\?done=plan_added", added.headers["location"])
    assert woken == [1, 1, 1]
    with api.sessions() as db:
        names = sorted(p.name for p in service.list_plans(db, machine_id=LASER))
        chiller = next(p for p in service.list_plans(db) if p.name == "chiller water")
        assert (chiller.warning, chiller.limit, chiller.lock_at_limit) == (80, 90.5, False)
    assert names == ["chiller water", "laser tube", "lens and mirror cleaning"]
    assert [action for _, action, _ in _audit_actions(api)] == [
        "maintenance.defaults",
        "maintenance.defaults",
        "maintenance.plan_add",
    ]


def test_a_plan_the_page_cannot_add_is_refused_with_the_reason(api: Api) -> None:
    _workshop(api)
    _lens(api)
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    base = {"machine_id": LASER, "counter": "busy_hours", "lock_at_limit": "1"}
    cases = [
        ({"name": "lens and mirror cleaning", "limit": "30"}, 409, "déjà un plan nommé"),
        ({"name": "nozzle", "warning": "30", "limit": "20"}, 422, "sous la limite"),
        ({"name": "nozzle", "limit": "beaucoup"}, 422, "Limite : indiquez un nombre positif."),
        ({"name": "nozzle", "limit": "-3"}, 422, "Limite : indiquez un nombre positif."),
        ({"name": "", "limit": "20"}, 422, "de 1 à 64 caractères"),
        ({"name": "nozzle", "limit": "20", "counter": "smiles"}, 422, "Choisissez un compteur"),
        ({"name": "nozzle", "limit": "20", "machine_id": "nope"}, 404, "n&#39;existe pas"),
    ]
    for fields, status, message in cases:
        refused = _post(client, f"{HOME}/plans", HOME, **(base | fields))
        assert refused.status_code == status, fields
        assert message in refused.text, fields
    with api.sessions() as db:
        assert [p.name for p in service.list_plans(db)] == ["lens and mirror cleaning"]
    assert api.metrics.value("console_maintenance_refused", form="plan") == len(cases)


# ------------------------------------------------------------ manual locks


@pytest.fixture
def sender(mosquitto: Mosquitto) -> Iterator[CommandSender]:
    login = BrokerLogin(host="127.0.0.1", port=mosquitto.port, username="hub", password="")
    with CommandSender(login) as started:
        assert started.wait_connected(10)
        yield started


@SQLITE_ONLY
def test_without_a_running_hub_the_lock_buttons_are_not_offered(api: Api) -> None:
    _workshop(api)
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    page = client.get(HOME).text
    assert "demande le hub en marche" in page
    assert "/lock" not in page and "/unlock" not in page
    refused = _post(client, f"{HOME}/machines/{LASER}/lock", HOME, reason="belt")
    assert refused.status_code == 409
    assert "Le verrouillage manuel demande le hub en marche." in refused.text
    assert _audit_actions(api) == []


def test_a_manager_locks_and_unlocks_a_machine_by_hand(
    api: Api, sender: CommandSender, commands: Commands
) -> None:
    _workshop(api)
    monitor = MaintenanceMonitor(
        _engine(api), MaintenanceSettings(), notify=Notified(), sender=sender
    )
    api.app.state.maintenance_monitor = monitor
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    page = client.get(HOME).text
    assert "demande le hub en marche" not in page
    assert f'<label for="lock-reason-{LASER}">Raison du verrouillage</label>' in page

    empty = _post(client, f"{HOME}/machines/{LASER}/lock", HOME, reason="  ")
    assert empty.status_code == 422
    assert "Donnez la raison du verrouillage" in empty.text

    locked = _post(client, f"{HOME}/machines/{LASER}/lock", HOME, reason="courroie cassée")
    assert locked.status_code == 303
    assert locked.headers["location"] == f"{HOME}?done=locked"
    assert commands.wait_for(LASER_DEVICE, ["lock"])
    [(_, command)] = commands.received
    assert (command.reason, command.issued_by) == ("courroie cassée", "gerante")
    after = client.get(locked.headers["location"]).text
    card = after.split(f'data-machine="{LASER}"')[1].split("</li>")[0]
    assert "Verrouillée à la main par gerante : courroie cassée" in card
    assert f"/machines/{LASER}/unlock" in card and "/lock" not in card

    unlocked = _post(client, f"{HOME}/machines/{LASER}/unlock", HOME)
    assert unlocked.status_code == 303
    assert commands.wait_for(LASER_DEVICE, ["lock", "unlock"])
    card = client.get(HOME).text.split(f'data-machine="{LASER}"')[1].split("</li>")[0]
    assert "Libre" in card
    assert _audit_actions(api) == [
        ("gerante", "maintenance.lock", LASER),
        ("gerante", "maintenance.unlock", LASER),
    ]
    missing = _post(client, f"{HOME}/machines/nope/lock", HOME, reason="belt")
    assert missing.status_code == 404
