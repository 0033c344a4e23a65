"""Debian's headless Chromium driven through playwright, and helpers for pages of the console.

The browser is the system's (`/usr/bin/chromium`, installed by `./run`), never one downloaded
by playwright; it runs with a fresh temporary profile and no background traffic, so a test
talks to nothing but the hub it started.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, ViewportSize

from hub.console.i18n import MESSAGES
from tests.console.a11y import assert_accessible

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: the tests may run as root in a container, where Chromium's sandbox cannot start.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
# The README's pictures; a run writes there only when asked, so it leaves the git tree clean.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS_ENV = "MACHINERIE_SCREENSHOTS"
LOG_IN = re.compile(r"^(Se connecter|Log in)$")
# A message id shown as is ("me.month") is a word the visitor was meant to read, missing.
MESSAGE_GROUPS = "|".join(sorted({key.split(".")[0] for key in MESSAGES["fr"]}))
MESSAGE_ID = re.compile(rf"\b(?:{MESSAGE_GROUPS})\.[a-z_]+\b")


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium; `launch` gives it a fresh temporary profile, removed on close."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
    )


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Fill the console's login form as a person would and wait for the next page."""
    page.goto(f"{base_url}/console/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name=LOG_IN).click()


def scrolls_sideways(page: Page) -> bool:
    """Whether the page is wider than its viewport, which on a phone means sideways scrolling."""
    wider: bool = page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    return wider


def untranslated(page: Page) -> list[str]:
    """Message ids the page shows instead of words, e.g. a `t("me.month")` with no entry."""
    return sorted(set(MESSAGE_ID.findall(page.locator("body").inner_text())))


def screenshots() -> Path:
    """docs/screenshots when `MACHINERIE_SCREENSHOTS=docs`; else one folder under the system's
    temporary directory, each run overwriting the last one's pictures."""
    folder = (
        DOCS_SCREENSHOTS
        if os.environ.get(SCREENSHOTS_ENV) == "docs"
        else Path(tempfile.gettempdir()) / "machinerie-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG named by page and width (`live-board-phone.png`) in `screenshots()`."""
    path = screenshots() / f"{name}.png"
    # Frozen caret and no animations, so the same page gives the same picture.
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    return path


def look(page: Page, name: str) -> None:
    """Check the open page at a desktop's and a phone's width and keep a picture of each.

    At both widths the page must pass the accessibility basics; on the phone it must also fit
    the screen's width. Every word must be translated. The viewport ends at the phone's width.
    """
    missing = untranslated(page)
    assert not missing, f"{page.url} shows message ids instead of words: {missing}"
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        assert_accessible(page)
        screenshot(page, f"{name}-{width}")
    assert not scrolls_sideways(page), f"{page.url} scrolls sideways at {PHONE['width']} px"
