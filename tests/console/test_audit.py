"""The audit log: entries recorded for managers' and accountants' console actions, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.billing import service
from hub.billing.models import BillingDocument
from hub.billing.settings import BillingSettings
from hub.console import audit
from hub.db import writing
from hub.maintenance.monitor import MaintenanceMonitor
from hub.maintenance.service import locks
from hub.maintenance.settings import MaintenanceSettings
from tests.console.pages import csrf_of, logged_in
from tests.hub.factories import T0
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api
from tests.hub_billing import world as w
from tests.hub_maintenance.conftest import LASER, Notified, make_workshop

# The API over a migrated database and a session on it, as fixtures of this module.
api, db = hub_api.api, hub_api.db

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
NOV = "2026-11"
FAST = BillingSettings(validate_drafts=False)


def test_entries_come_back_newest_first(db: Session) -> None:
    audit.record(
        db,
        username="compta",
        role=UserRole.ACCOUNTANT,
        action="invoice.issue",
        target="F-2026-0001",
        detail="novembre",
        at=T0,
    )
    audit.record(db, username="gerante", role="manager", action="login", at=T0 + timedelta(hours=1))
    db.commit()
    entries = audit.entries(db)
    assert [(e.username, e.action, e.target) for e in entries] == [
        ("gerante", "login", ""),
        ("compta", "invoice.issue", "F-2026-0001"),
    ]
    assert entries[0].at == T0 + timedelta(hours=1)
    assert [e.action for e in audit.entries(db, limit=1)] == ["login"]


def test_manager_and_accountant_logins_and_logouts_are_audited(api: Api, db: Session) -> None:
    for name, role in (
        ("gerante", UserRole.MANAGER),
        ("compta", UserRole.ACCOUNTANT),
        ("maintenance", UserRole.MAINTAINER),
    ):
        api.add_user(name, role)
    accountant = logged_in(api, "compta")
    board = accountant.get("/console/")
    accountant.post("/console/logout", data={"csrf": csrf_of(board)})
    logged_in(api, "maintenance")
    manager = logged_in(api, "gerante")
    recorded = [(e.username, e.role, e.action) for e in audit.entries(db)]
    assert recorded == [
        ("gerante", "manager", "login"),
        ("compta", "accountant", "logout"),
        ("compta", "accountant", "login"),
    ]
    page = manager.get("/console/audit")
    assert page.status_code == 200
    assert page.text.count('<tr data-action="login">') == 2
    assert "comptable" in page.text and "Déconnexion" in page.text


@sqlite_only
def test_a_refused_logout_leaves_no_trace(api: Api, db: Session) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    assert client.post("/console/logout", data={}).status_code == 403
    assert [e.action for e in audit.entries(db)] == ["login"]


def _billing_actions(api: Api) -> list[tuple[str, str]]:
    with api.sessions() as db:
        return [(e.action, e.target) for e in audit.entries(db) if e.action.startswith("billing")]


def _drafts(api: Api) -> int:
    with api.sessions() as db:
        rows = db.scalars(select(BillingDocument).where(BillingDocument.status == "draft"))
        return len(list(rows))


def test_a_billing_action_and_its_audit_entry_are_committed_together(api: Api) -> None:
    api.now = w.NOW
    with api.sessions() as db:
        w.price_list(db)
        w.november(db, w.build(db))
    api.add_user("compta", UserRole.ACCOUNTANT)
    accountant = logged_in(api, "compta")

    def unwritable(_session: Session, _result: object) -> None:
        raise RuntimeError("the audit entry cannot be written")

    with pytest.raises(RuntimeError):
        service.draft_month(api.sessions, NOV, FAST, now=w.NOW, also=unwritable)
    assert _drafts(api) == 0  # no drafts without their trace

    form = accountant.get("/console/billing")
    bad = accountant.post("/console/billing/run", data={"csrf": csrf_of(form), "month": "2026-13"})
    assert bad.status_code == 422
    never = accountant.get(f"/console/billing/{NOV}")
    refused = accountant.post(
        f"/console/billing/{NOV}/issue",
        data={"csrf": csrf_of(never), "count": "0", "payable": "0.00"},
    )
    assert refused.status_code == 404
    assert _billing_actions(api) == []
    assert api.metrics.value("console_billing_refused", form="issue") == 1

    ran = accountant.post("/console/billing/run", data={"csrf": csrf_of(form), "month": NOV})
    assert ran.status_code == 303
    assert _billing_actions(api) == [("billing.run", NOV)]
    assert _drafts(api) == 5


@sqlite_only
def test_a_manual_lock_and_its_audit_entry_are_committed_together(api: Api) -> None:
    with writing(api.sessions) as db:
        make_workshop(db)
    engine: Engine = api.sessions.kw["bind"]
    monitor = MaintenanceMonitor(engine, MaintenanceSettings(), notify=Notified(), sender=None)

    def unwritable(_session: Session) -> None:
        raise RuntimeError("the audit entry cannot be written")

    with pytest.raises(RuntimeError):
        monitor.lock_manually(LASER, by="gerante", reason="belt", also=unwritable)
    with api.sessions() as db:
        assert locks(db) == []  # not locked without its trace

    api.app.state.maintenance_monitor = monitor
    api.add_user("gerante", UserRole.MANAGER)
    manager = logged_in(api, "gerante")
    page = manager.get("/console/maintenance")
    lock = f"/console/maintenance/machines/{LASER}/lock"
    refused = manager.post(lock, data={"csrf": csrf_of(page), "reason": " "})
    assert refused.status_code == 422
    missing = manager.post(
        "/console/maintenance/machines/nope/lock", data={"csrf": csrf_of(page), "reason": "belt"}
    )
    assert missing.status_code == 404
    with api.sessions() as db:
        assert [e.action for e in audit.entries(db) if e.action != "login"] == []
    assert manager.post(lock, data={"csrf": csrf_of(page), "reason": "belt"}).status_code == 303
    with api.sessions() as db:
        assert [(e.action, e.target, e.detail) for e in audit.entries(db)][:1] == [
            ("maintenance.lock", LASER, "belt")
        ]
        assert [row.machine_id for row in locks(db)] == [LASER]
