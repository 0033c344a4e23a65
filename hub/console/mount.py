"""Mounting the console on the hub's FastAPI app: pages, static files, `/`, error pages.

`hub.api.app.create_app` calls `install`; anonymous visitors of a guarded page go to the login
page, visitors whose role may not see it get a friendly 403 page, refused forms too.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from hub.console import (
    badge_pages,
    billing_files,
    billing_pages,
    devices_pages,
    i18n,
    maintenance_pages,
    registry_pages,
    usage_pages,
)
from hub.console.auth import HOME, CsrfRefused, LoginRequired, NotAllowed, Visitor, current_visitor
from hub.console.router import router
from hub.console.web import HERE, ConsoleState, language, render

log = logging.getLogger(__name__)
STATIC_PATH = "/console/static"


def install(app: FastAPI, *, secure_cookies: bool = False) -> None:
    """Add the console's pages, its static files and `/` → `/console/` to `app`."""
    templates = Jinja2Templates(directory=HERE / "templates")
    app.state.console = ConsoleState(templates=templates, secure_cookies=secure_cookies)
    app.state.metrics.describe("console_logins", "Console logins, by outcome")
    app.state.metrics.describe("console_csrf_refused", "Console forms refused for their token")
    app.include_router(router)
    for section in (
        registry_pages,
        badge_pages,
        billing_pages,
        billing_files,
        maintenance_pages,
        usage_pages,
        devices_pages,
    ):
        app.include_router(section.router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_api_route("/", _to_console, include_in_schema=False)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


def _to_console() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/console/login?next={quote(exc.next_path)}", status_code=303)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAllowed)
    return _refusal(request, title="forbidden.title", body="forbidden.body", role=exc.role)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    request.app.state.metrics.inc("console_csrf_refused")
    log.warning("console form refused on %s: %s", request.url.path, exc)
    return _refusal(request, title="csrf.title", body="csrf.body", role=None)


def _refusal(request: Request, *, title: str, body: str, role: Any) -> Response:
    """The friendly 403 page; the visitor is looked up again, outside the failed dependency."""
    visitor = _visitor_of(request)
    t = i18n.translator(language(request))
    return render(
        request,
        "forbidden.html",
        visitor=visitor,
        status_code=403,
        title_id=title,
        message=t(body, role=t(f"role.{role}")) if role else t(body),
    )


def _visitor_of(request: Request) -> Visitor | None:
    now = request.app.state.clock()
    with request.app.state.sessions() as db:
        return current_visitor(request, db, now)
