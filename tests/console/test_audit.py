"""The audit log: entries recorded for managers' and accountants' console actions, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.console import audit
from tests.console.pages import csrf_of, logged_in
from tests.hub.factories import T0
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

# The API over a migrated database and a session on it, as fixtures of this module.
api, db = hub_api.api, hub_api.db

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


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
