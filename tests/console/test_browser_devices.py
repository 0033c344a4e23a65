"""Device health and job progress in Chromium, from a real edge: a printer's edge agent with its
firmware bridge on a simulated Marlin, a real Mosquitto and hub.

The artisan starts a print: the live board shows its progress as the printer reports it; the
device page shows the printer's edge online with the firmware Marlin named, the other machine's
edge never seen; when the edge shuts down, the page shows it offline.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.simport import PtyServer
from hub.api.accounts import create_user
from hub.api.models import UserRole
from hub.cli import api_factory
from hub.db import make_engine, migrate, session_factory
from hub.ledger.models import EventRecord
from hub.registry import service as registry
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto, free_port, wait_for_port
from tests.console.browser import DESKTOP, log_in, look
from tests.hub_api.conftest import CHEAP_HASHER
from tests.hub_service.conftest import bridge_table, edge, hub_settings

PRINT_S = 120.0  # long enough to be caught mid-way; the test ends before the print does


@dataclass
class PrintShop:
    base_url: str
    hub: Hub
    sandbox: Sandbox
    printer: PtyServer
    password: str


def seed(url: str) -> str:
    """The printer (gated by the sandbox's edge), a mill whose edge never came, Alice, a manager."""
    engine = make_engine(url)
    migrate(engine)
    try:
        with session_factory(engine).begin() as db:
            registry.create_site(db, site_id=SITE, name="Ateliers Dony")
            registry.create_machine(
                db,
                machine_id=DEVICE,
                site_id=SITE,
                name="Prusa MK4",
                kind="printer_3d",
                device_id=DEVICE,
            )
            registry.create_machine(
                db,
                machine_id="mill-1",
                site_id=SITE,
                name="Stepcraft D.840",
                kind="cnc_mill",
                device_id="mill-1-pi",
            )
            alice = registry.create_member(db, name=ALICE.name)
            registry.enrol_badge(db, uid=ALICE.uid, member_id=alice.id)
            registry.grant_qualification(
                db, member_id=alice.id, machine_id=DEVICE, role="user", granted_by="test"
            )
            password = secrets.token_urlsafe(12)
            create_user(
                db,
                username="gerante",
                password=password,
                role=UserRole.MANAGER,
                hasher=CHEAP_HASHER,
            )
            return password
    finally:
        engine.dispose()


@pytest.fixture
def shop(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[PrintShop]:
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    password = seed(url)
    port = free_port()
    settings = hub_settings(tmp_path, url, mosquitto.port, api={"port": port})
    with (
        PtyServer(MarlinSimulator()) as printer,
        Hub(settings, app_factory=api_factory()) as hub,
        edge(tmp_path, mosquitto.port, hub.keys, bridge=bridge_table(printer.path)) as sandbox,
    ):
        wait_for_port(port)
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)
        yield PrintShop(f"http://127.0.0.1:{port}", hub, sandbox, printer, password)


def job_started(shop: PrintShop) -> bool:
    with shop.hub.sessions() as db:
        found = select(EventRecord).where(EventRecord.type == "job_started")
        return db.scalars(found).first() is not None


def progress_reported(shop: PrintShop) -> bool:
    watch = shop.hub.devices
    heard = None if watch is None else watch.latest(SITE, DEVICE)
    return heard is not None and heard.sample.metrics.get("progress_pct", 0.0) > 0


def manager(chromium: Browser, shop: PrintShop) -> Page:
    context = chromium.new_context(viewport=DESKTOP, locale="fr-BE", timezone_id="Europe/Brussels")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, shop.base_url, "gerante", shop.password)
    return page


def test_a_print_shows_its_progress_and_the_device_page_its_edge(
    shop: PrintShop, chromium: Browser
) -> None:
    shop.sandbox.badge(ALICE.uid)
    shop.sandbox.wait_relay(True)
    device = shop.printer.device
    assert isinstance(device, MarlinSimulator)
    with shop.printer.lock:
        device.start_sd_print("support_etagere.gcode", PRINT_S)
    assert wait_until(lambda: job_started(shop) and progress_reported(shop), 20)

    page = manager(chromium, shop)
    page.goto(f"{shop.base_url}/console/")
    card = page.locator(f'[data-machine="{DEVICE}"]')
    expect(card.locator('[data-field="job"]')).to_contain_text("support_etagere.gcode")
    bar = card.locator("progress")
    expect(bar).to_have_accessible_name("Avancement de support_etagere.gcode")
    assert 0 < float(bar.get_attribute("value") or 0) < 100
    expect(card.locator('[data-field="controller"]')).to_have_text("En marche")
    look(page, "live-board-printing")

    page.set_viewport_size(DESKTOP)
    page.goto(f"{shop.base_url}/console/devices")
    printer = page.locator(f'[data-device="{DEVICE}"]')
    expect(printer.locator('[data-field="reach"]')).to_contain_text("En ligne")
    expect(printer.locator('[data-field="firmware"]')).to_contain_text("Marlin")
    expect(printer.locator('[data-field="power"]')).to_have_text("machine sous tension")
    expect(printer.locator('[data-field="backlog"]')).to_contain_text("événement")
    mill = page.locator('[data-device="mill-1-pi"]')
    expect(mill.locator('[data-field="reach"]')).to_have_text("Jamais vu")
    look(page, "devices")

    shop.sandbox.stop_agent()  # a clean shutdown says goodbye: offline at once
    page.set_viewport_size(DESKTOP)

    def offline() -> bool:
        page.goto(f"{shop.base_url}/console/devices")
        reach = page.locator(f'[data-device="{DEVICE}"] [data-field="reach"]').inner_text()
        return "Hors ligne" in reach

    assert wait_until(offline, 15), "the edge's goodbye never reached the device page"
