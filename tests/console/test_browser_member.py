"""An artisan in Chromium: his own month on `/console/me`, and no way into managers' pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hub.console.i18n import FR
from tests.console.browser import log_in, look
from tests.console.conftest import Console


def test_an_artisan_sees_his_own_month_and_nobody_elses(page: Page, console: Console) -> None:
    log_in(page, console.base_url, "alice", console.passwords["alice"])
    assert page.url == console.url("/console/me")
    main = page.locator("main")
    expect(main).to_contain_text("Alice")
    sessions = page.locator("#me-sessions tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="Laser Trotec")).to_have_count(1)
    expect(sessions.filter(has_text="Prusa MK4")).to_have_count(1)
    # Chloe used the laser this month and holds the mill now: none of it is Alice's business.
    expect(page.locator("body")).not_to_contain_text("Chloe")
    look(page, "me")


@pytest.mark.parametrize("path", ["/console/", "/console/audit"])
def test_an_artisan_gets_the_forbidden_page_on_managers_pages(
    page: Page, console: Console, path: str
) -> None:
    log_in(page, console.base_url, "alice", console.passwords["alice"])
    response = page.goto(console.url(path))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(FR["forbidden.title"])
    expect(page.locator("[data-machine]")).to_have_count(0)
    look(page, "forbidden")
