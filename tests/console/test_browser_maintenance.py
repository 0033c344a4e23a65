"""The maintenance pages in Chromium, against the live hub: a maintainer applies the default
plans, locks a machine by hand, logs an intervention."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from hub.console.text_maintenance import FR
from tests.console.browser import log_in, look
from tests.console.conftest import Console


def test_a_maintainer_looks_after_the_laser(page: Page, console: Console) -> None:
    log_in(page, console.base_url, "maintenance", console.passwords["maintenance"])
    page.goto(console.url("/console/maintenance"))
    laser = page.locator('[data-machine="laser-1"]')
    with page.expect_navigation():
        laser.get_by_role("button", name=FR["maint.defaults"]).click()
    expect(page.locator("#maint-done")).to_contain_text("2")
    laser = page.locator('[data-machine="laser-1"]')
    laser.get_by_label(FR["maint.lock_reason"]).fill("courroie à changer")
    with page.expect_navigation():
        laser.get_by_role("button", name=FR["maint.lock"], exact=True).click()
    expect(page.locator('[data-machine="laser-1"]')).to_contain_text("courroie à changer")
    look(page, "maintenance")

    page.locator("[data-plan]").first.get_by_role("link").click()
    page.get_by_label(FR["maint.what"]).fill("nettoyé la lentille")
    page.get_by_label(FR["maint.parts"]).fill("lingettes optiques")
    with page.expect_navigation():
        page.get_by_role("button", name=FR["maint.log"]).click()
    expect(page.locator("#maint-history-table")).to_contain_text("nettoyé la lentille")
    look(page, "maintenance-plan")
