"""The manager's live board and audit log in Chromium, against the live hub."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hub.console.i18n import FR
from tests.console.browser import log_in, look
from tests.console.conftest import Console

MACHINE_NAMES = {"laser-1": "Laser Trotec", "mill-1": "Fraiseuse CNC", "printer-1": "Prusa MK4"}


def test_the_manager_sees_every_machine_and_who_holds_one(page: Page, console: Console) -> None:
    log_in(page, console.base_url, "gerante", console.passwords["gerante"])
    assert page.url == console.url("/console/")
    for machine, name in MACHINE_NAMES.items():
        expect(page.locator(f'[data-machine="{machine}"]')).to_contain_text(name)
    expect(page.locator('[data-machine="mill-1"]')).to_contain_text("Chloe")
    expect(page.locator('[data-machine="laser-1"]')).not_to_contain_text("Chloe")
    # A fresh load: the board reloads itself every 10 s, the checks must fit in between.
    page.goto(console.url("/console/"))
    look(page, "live-board")


@pytest.mark.parametrize("username", ["compta", "maintenance"])
def test_staff_land_on_the_live_board_too(page: Page, console: Console, username: str) -> None:
    log_in(page, console.base_url, username, console.passwords[username])
    assert page.url == console.url("/console/")
    expect(page.locator("[data-machine]")).to_have_count(len(MACHINE_NAMES))


def test_the_manager_reads_the_logins_in_the_audit_log(page: Page, console: Console) -> None:
    log_in(page, console.base_url, "compta", console.passwords["compta"])
    page.context.clear_cookies()
    log_in(page, console.base_url, "gerante", console.passwords["gerante"])
    page.goto(console.url("/console/audit"))
    expect(page.get_by_role("heading", level=1)).to_have_text(FR["audit.title"])
    expect(page.get_by_role("row").filter(has_text="compta")).to_contain_text(FR["action.login"])
    look(page, "audit")
