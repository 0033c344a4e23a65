"""Rendering a console page: the visitor's language, `t()`, local times, nav and footer data.

Everything it needs sits on `app.state.console`, set by `hub.console.mount.install`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from hub.console import (
    i18n,
    numbers,
    text_billing,
    text_devices,
    text_maintenance,
    text_registry,
    text_usage,
)
from hub.console.auth import HOME, LANG_COOKIE, Visitor, home_of
from hub.registry.models import DEFAULT_TIMEZONE

HERE = Path(__file__).parent
STAFF = ("manager", "accountant", "maintainer")
# The main navigation: (path, message id, roles that see it). A new page adds its line here.
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/console/", "nav.live", STAFF),
    *text_registry.NAV,
    *text_billing.NAV,
    *text_maintenance.NAV,
    *text_usage.NAV,
    *text_devices.NAV,
    ("/console/audit", "nav.audit", ("manager",)),
    ("/console/me", "nav.me", ("member",)),
)


@dataclass(frozen=True)
class ConsoleState:
    templates: Jinja2Templates
    # Mark cookies Secure even over plain http: the hub sits behind a TLS-terminating proxy.
    secure_cookies: bool = False
    timezone: str = DEFAULT_TIMEZONE


def language(request: Request) -> str:
    return i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    *,
    visitor: Visitor | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page in the visitor's language, with what `base.html` needs for nav and footer."""
    state: ConsoleState = request.app.state.console
    lang = language(request)

    def when(moment: Any, timezone: str | None = None) -> str:
        return i18n.when(moment, lang, timezone or state.timezone)

    return state.templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": i18n.translator(lang),
            "when": when,
            "money": lambda amount: numbers.money(amount, lang),
            "number": lambda value, places=1: numbers.number(value, lang, places),
            "languages": i18n.LANGUAGE_NAMES,
            "here": request.url.path,
            "visitor": visitor,
            "home": home_of(visitor.role) if visitor else HOME,
            "nav": [
                (path, label) for path, label, roles in NAV if visitor and visitor.role in roles
            ],
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"},
    )


def see_other(path: str) -> RedirectResponse:
    """After a form's POST: 303, so the browser follows with a GET (POST/redirect/GET)."""
    return RedirectResponse(path, status_code=303)


def download(data: bytes, media_type: str, filename: str, *, inline: bool = False) -> Response:
    """A file for the browser to save (or, `inline`, to show, as a PDF)."""
    disposition = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})
