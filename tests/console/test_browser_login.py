"""Logging in to the console in Chromium: where each role lands, and a wrong password."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from hub.console.i18n import EN, FR
from tests.console.a11y import assert_accessible
from tests.console.browser import log_in, look, untranslated
from tests.console.conftest import Console


def test_a_wrong_password_shows_the_error_and_lets_nobody_in(page: Page, console: Console) -> None:
    page.goto(console.url("/console/login"))
    look(page, "login")
    log_in(page, console.base_url, "gerante", "pas le bon mot de passe")
    assert page.url.startswith(console.url("/console/login"))
    expect(page.get_by_text(FR["login.failed"])).to_be_visible()
    look(page, "login-error")
    page.goto(console.url("/console/"))
    assert page.url.startswith(console.url("/console/login"))


def test_someone_logged_out_is_sent_to_the_login_page_and_back(
    page: Page, console: Console
) -> None:
    page.goto(console.url("/console/audit"))
    assert page.url.startswith(console.url("/console/login"))
    with page.expect_navigation():
        page.locator("#username").fill("gerante")
        page.locator("#password").fill(console.passwords["gerante"])
        page.locator("#password").press("Enter")
    assert page.url == console.url("/console/audit")


def test_the_language_switch_turns_the_console_english(page: Page, console: Console) -> None:
    page.goto(console.url("/console/login"))
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(EN["login.title"])
    log_in(page, console.base_url, "gerante", console.passwords["gerante"])
    expect(page.get_by_role("heading", level=1)).to_have_text(EN["live.title"])
    assert_accessible(page)
    assert untranslated(page) == []


def test_logging_out_closes_the_console(page: Page, console: Console) -> None:
    log_in(page, console.base_url, "gerante", console.passwords["gerante"])
    with page.expect_navigation():
        page.get_by_role("button", name=FR["nav.logout"]).click()
    assert page.url.startswith(console.url("/console/login"))
    page.goto(console.url("/console/"))
    assert page.url.startswith(console.url("/console/login"))
