"""The real hub serving the console, and headless Chromium to look at it.

`console` starts `hub.service.Hub` with its web API on a free port, over a seeded SQLite ledger
and a real Mosquitto: a workshop with three machines, users of every role, sessions of two
artisans this month and one machine held right now. `chromium` is one browser for the run;
`page` is a fresh context (own cookies) per test, in French, at a desktop's width.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session

from hub.api.accounts import create_user
from hub.api.models import UserRole
from hub.cli import api_factory
from hub.db import make_engine, migrate, session_factory
from hub.ledger.models import MachineSession
from hub.service import Hub
from machinerie.servers import Mosquitto, free_port, wait_for_port
from tests.console.browser import DESKTOP, launch
from tests.hub_api.conftest import CHEAP_HASHER
from tests.hub_billing.world import World, build, price_list, session
from tests.hub_service.conftest import hub_settings

SITE_ZONE = ZoneInfo("Europe/Brussels")
# Who logs in, with which role, linked to which artisan of the seeded world.
USERS = (
    ("gerante", UserRole.MANAGER, None),
    ("compta", UserRole.ACCOUNTANT, None),
    ("maintenance", UserRole.MAINTAINER, None),
    ("alice", UserRole.MEMBER, "alice"),
    ("chloe", UserRole.MEMBER, "chloe"),
)
MACHINES = ("laser-1", "mill-1", "printer-1")


@dataclass
class Console:
    """The live hub's address, its users' passwords, and the seeded world's registry ids."""

    base_url: str
    world: World
    passwords: dict[str, str] = field(default_factory=dict)
    machines: tuple[str, ...] = MACHINES

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = launch(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context: no cookies from another test, French first, desktop width."""
    context = chromium.new_context(viewport=DESKTOP, locale="fr-BE", timezone_id="Europe/Brussels")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def console(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    world, passwords = seed(url, now=datetime.now(UTC))
    port = free_port()
    settings = hub_settings(tmp_path, url, mosquitto.port, api={"port": port})
    with Hub(settings, app_factory=api_factory()):
        wait_for_port(port)
        yield Console(base_url=f"http://127.0.0.1:{port}", world=world, passwords=passwords)


def seed(url: str, *, now: datetime) -> tuple[World, dict[str, str]]:
    """The billing tests' cooperative, its price list, this month's sessions and the users."""
    engine = make_engine(url)
    migrate(engine)
    try:
        with session_factory(engine)() as db:
            world = build(db)
            price_list(db)
            this_month(db, world, now=now)
            return world, add_users(db, world)
    finally:
        engine.dispose()


def this_month(db: Session, world: World, *, now: datetime) -> None:
    """Alice and Chloe each worked this month; Chloe holds the mill right now."""
    month_start = now.astimezone(SITE_ZONE).replace(day=1, hour=0, minute=0, second=0)
    # Early on the 1st there is little of the month behind us: squeeze the sessions into it.
    span = min(timedelta(hours=6), now - month_start.astimezone(UTC) - timedelta(minutes=1))
    begin = now - span
    session(
        db, world, "alice", "laser-1", begin, minutes=span.total_seconds() / 240, busy_minutes=1
    )
    session(db, world, "alice", "printer-1", begin + span / 4, minutes=span.total_seconds() / 240)
    session(db, world, "chloe", "laser-1", begin + span / 2, minutes=span.total_seconds() / 240)
    db.add(
        MachineSession(
            session_id=uuid.uuid4(),
            site="dony",
            machine_id="mill-1",
            device_id="mill-1-pi",
            member_id=world.ref("chloe"),
            badge_uid="04B7716AB12C80",
            role="user",
            started_at=now - span / 8,
        )
    )
    db.commit()


def add_users(db: Session, world: World) -> dict[str, str]:
    passwords: dict[str, str] = {}
    for username, role, member in USERS:
        passwords[username] = secrets.token_urlsafe(12)
        create_user(
            db,
            username=username,
            password=passwords[username],
            role=role,
            member_id=None if member is None else world.members[member],
            hasher=CHEAP_HASHER,
        )
    db.commit()
    return passwords
