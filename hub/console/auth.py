"""The console's cookie session and CSRF tokens, over the API's own login tokens and roles.

The session cookie holds the same login token `POST /auth/login` gives (HttpOnly, SameSite=Lax),
so the console and the API share users, roles, expiry and revocation. A form's CSRF token is an
HMAC keyed with that secret token: only a page the hub rendered for this session can know it,
any replica can check it, and logging out voids it. Before login, a random cookie echoed in the
form (double submit) stands in for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from hub.api.accounts import LOGIN_LIFETIME, Principal, resolve_token
from hub.api.deps import Now, SessionDep
from hub.api.errors import Forbidden, Unauthenticated
from hub.api.models import UserRole

SESSION_COOKIE = "machinerie_session"
PRELOGIN_COOKIE = "machinerie_login_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "csrf"
_CSRF_LABEL = b"machinerie console csrf v1"
HOME = "/console/"
MEMBER_HOME = "/console/me"


class LoginRequired(Unauthenticated):
    """An anonymous visitor asked for a page that needs a login; `next` brings them back."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to see this page")
        self.next_path = next_path


class NotAllowed(Forbidden):
    """The visitor's role may not open this page."""

    def __init__(self, role: UserRole) -> None:
        super().__init__(f"role {role} may not open this page")
        self.role = role


class CsrfRefused(Forbidden):
    """A form came without the token of this session: nothing it asked for is done."""


@dataclass(frozen=True)
class Visitor:
    """A logged-in person and the CSRF token their forms must carry."""

    principal: Principal
    csrf: str

    @property
    def role(self) -> UserRole:
        return self.principal.role


def csrf_token(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def same_token(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def new_prelogin_token() -> str:
    return secrets.token_urlsafe(32)


def home_of(role: UserRole) -> str:
    return MEMBER_HOME if role is UserRole.MEMBER else HOME


def safe_next(candidate: str | None, *, fallback: str) -> str:
    """A path inside the console to go back to; anything else (another site) is ignored."""
    if not candidate or not candidate.startswith("/console") or "\\" in candidate:
        return fallback
    if candidate.startswith("//") or "://" in candidate:
        return fallback
    return candidate


def current_visitor(request: Request, db: SessionDep, now: Now) -> Visitor | None:
    """Who the session cookie belongs to; None when absent, unknown, expired or disabled."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        principal = resolve_token(db, secret=secret, now=now)
    except Unauthenticated:
        return None
    return Visitor(principal=principal, csrf=csrf_token(secret))


MaybeVisitor = Annotated[Visitor | None, Depends(current_visitor)]


def _requested(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def page_for(*roles: UserRole) -> Any:
    """A dependency: the visitor if their role is one of `roles`; else login or a 403 page."""
    allowed = frozenset(roles)

    def guard(request: Request, visitor: MaybeVisitor) -> Visitor:
        if visitor is None:
            raise LoginRequired(_requested(request))
        if visitor.role not in allowed:
            raise NotAllowed(visitor.role)
        return visitor

    return Depends(guard)


def checked_form(visitor: MaybeVisitor, csrf: Annotated[str, Form()] = "") -> Visitor | None:
    """The visitor of a state-changing form, once its token matches their session."""
    if visitor is not None and not same_token(visitor.csrf, csrf):
        raise CsrfRefused("the form's CSRF token does not match this session")
    return visitor


STAFF = (UserRole.MANAGER, UserRole.ACCOUNTANT, UserRole.MAINTAINER)
Staff = Annotated[Visitor, page_for(*STAFF)]
ManagerPage = Annotated[Visitor, page_for(UserRole.MANAGER)]
Anyone = Annotated[Visitor, page_for(*UserRole)]
SignedForm = Annotated[Visitor | None, Depends(checked_form)]


def secure(request: Request) -> bool:
    """Cookies are `Secure` on https, or always when the hub is configured so (behind a proxy)."""
    return request.url.scheme == "https" or bool(request.app.state.console.secure_cookies)


def set_session(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request)
    )


def set_prelogin(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        PRELOGIN_COOKIE,
        token,
        path="/console/login",
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )
