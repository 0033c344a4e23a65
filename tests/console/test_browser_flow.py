"""The workshop's day through the console, end to end in headless Chromium: a real hub, a real
Mosquitto, and the edge agent on its simulated reader and relay.

A new artisan taps her badge: refused, the badge appears on the manager's badge page; the
manager links it to her and qualifies her on the laser; her next tap switches the laser on and
the live board shows her on it; after she badges out, the accountant prepares and issues the
month and downloads the accountant's zip.
"""

from __future__ import annotations

import random
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub.api.accounts import create_user
from hub.api.models import UserRole
from hub.billing import catalog
from hub.cli import api_factory
from hub.db import make_engine, migrate, session_factory
from hub.ledger.models import EventRecord, MachineSession
from hub.registry import service as registry
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.billing_demo import EXAMPLE_TARIFFS, give_billing_details
from machinerie.cooperative import enterprise_number
from machinerie.sandbox import ALICE, DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto, free_port, wait_for_port
from tests.console.browser import DESKTOP, log_in
from tests.hub_api.conftest import CHEAP_HASHER
from tests.hub_service.conftest import edge, hub_settings


@dataclass
class Workshop:
    base_url: str
    hub: Hub
    sandbox: Sandbox
    passwords: dict[str, str]
    member_id: int


def seed(url: str) -> tuple[int, dict[str, str]]:
    """The laser and its price list, Alice's workshop and Alice without a badge, two users."""
    engine = make_engine(url)
    migrate(engine)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    try:
        with session_factory(engine).begin() as db:
            registry.create_site(db, site_id=SITE, name="Ateliers Dony")
            registry.create_machine(
                db,
                machine_id=DEVICE,
                site_id=SITE,
                name="Laser Trotec",
                kind="laser_cutter",
                device_id=DEVICE,
            )
            number = enterprise_number(random.Random(6))
            org = registry.create_organisation(
                db,
                name="Bois Vif",
                category="resident_artisan",
                enterprise_number=number,
                vat_number=f"BE{number}",
            )
            alice = registry.create_member(db, name=ALICE.name, organisation_id=org.id)
            give_billing_details(db)
            catalog.load_price_list(db, EXAMPLE_TARIFFS, now=earlier)
            passwords = {}
            for username, role in (("gerante", UserRole.MANAGER), ("compta", UserRole.ACCOUNTANT)):
                passwords[username] = secrets.token_urlsafe(12)
                create_user(
                    db,
                    username=username,
                    password=passwords[username],
                    role=role,
                    hasher=CHEAP_HASHER,
                )
            return alice.id, passwords
    finally:
        engine.dispose()


@pytest.fixture
def workshop(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Workshop]:
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    member_id, passwords = seed(url)
    port = free_port()
    settings = hub_settings(tmp_path, url, mosquitto.port, api={"port": port})
    with (
        Hub(settings, app_factory=api_factory()) as hub,
        edge(tmp_path, mosquitto.port, hub.keys) as sandbox,
    ):
        wait_for_port(port)
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)
        yield Workshop(f"http://127.0.0.1:{port}", hub, sandbox, passwords, member_id)


def person(chromium: Browser) -> Page:
    context = chromium.new_context(viewport=DESKTOP, locale="fr-BE", timezone_id="Europe/Brussels")
    context.set_default_timeout(10_000)
    return context.new_page()


def refused_as_unknown(workshop: Workshop) -> bool:
    with workshop.hub.sessions() as db:
        payloads = db.scalars(
            select(EventRecord.payload).where(EventRecord.type == "access_denied")
        )
        return any('"unknown_badge"' in payload for payload in payloads)


def session_open(workshop: Workshop) -> bool:
    with workshop.hub.sessions() as db:
        still_open = select(MachineSession).where(MachineSession.ended_at.is_(None))
        return db.scalars(still_open).first() is not None


def test_tap_enrol_qualify_work_then_bill_the_month(
    workshop: Workshop, chromium: Browser, tmp_path: Path
) -> None:
    box = workshop.sandbox
    box.badge(ALICE.uid)
    assert wait_until(lambda: refused_as_unknown(workshop), 15), "the tap never reached the hub"
    assert not box.relay_on()

    manager = person(chromium)
    log_in(manager, workshop.base_url, "gerante", workshop.passwords["gerante"])
    manager.goto(f"{workshop.base_url}/console/badges")
    row = manager.locator(f'[data-uid="{ALICE.uid}"]')
    row.get_by_label("Membre").select_option(value=str(workshop.member_id))
    with manager.expect_navigation():
        row.get_by_role("button", name="Associer").click()

    manager.goto(f"{workshop.base_url}/console/qualifications")
    manager.get_by_label("Membre", exact=True).select_option(value=str(workshop.member_id))
    manager.get_by_label("Machine", exact=True).select_option(value=DEVICE)
    manager.get_by_label("Rôle", exact=True).select_option(value="user")
    with manager.expect_navigation():
        manager.get_by_role("button", name="Qualifier").click()

    # The registry change goes out as a new signed access list: the laser now lets her in.
    published = workshop.hub.acl
    assert wait_until(lambda: box.acl_version() == published.published_version, 10)
    box.badge(ALICE.uid)
    box.wait_relay(True)
    assert wait_until(lambda: session_open(workshop), 10), "the session never reached the hub"
    manager.goto(f"{workshop.base_url}/console/")
    card = manager.locator(f'[data-machine="{DEVICE}"]')
    expect(card.locator('[data-field="holder"]')).to_contain_text(ALICE.name.split()[0])
    box.badge(ALICE.uid)
    box.wait_relay(False)
    assert box.drained(15)

    accountant = person(chromium)
    log_in(accountant, workshop.base_url, "compta", workshop.passwords["compta"])
    accountant.goto(f"{workshop.base_url}/console/billing")
    month = datetime.now(UTC).astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")
    accountant.get_by_label("Mois à facturer").select_option(value=month)
    with accountant.expect_navigation():
        accountant.get_by_role("button", name="Préparer").click()
    with accountant.expect_navigation():
        accountant.locator("[data-action=issue]").click()
    with accountant.expect_download() as download:
        accountant.locator("[data-download=zip]").click()
    saved = tmp_path / "month.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    ubl = [name for name in names if name.startswith("ubl/") and name.endswith(".xml")]
    assert len(ubl) == 1, names
    assert "journal.csv" in names
