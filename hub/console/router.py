"""The console's pages: login and logout, the language switch, the live board, the audit log,
and the member's own page.

Routes stay thin: the visitor comes from `hub.console.auth`, data from pure queries
(`live`, `audit`, `me`), the page from `hub.console.web.render`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from hub.api import accounts
from hub.api.deps import FailedLoginsDep, HasherDep, MetricsDep, Now, SessionDep
from hub.api.models import User, UserRole
from hub.billing import service as billing
from hub.billing.pdf import render_pdf
from hub.console import audit, auth, i18n
from hub.console.auth import Anyone, ManagerPage, MaybeVisitor, SignedForm, Staff
from hub.console.live import live_board, samples_of
from hub.console.me import my_documents, my_overview
from hub.console.web import download, language, render, see_other
from hub.errors import NotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
# What the API accepts too; longer input is a wrong password, not worth a hash.
MAX_CREDENTIAL = 200
FormText = Annotated[str, Form()]


@router.get("/login")
def login_page(request: Request, visitor: MaybeVisitor, next: str = "") -> Response:
    if visitor is not None:
        return see_other(auth.safe_next(next, fallback=auth.home_of(visitor.role)))
    return _login_form(request, next_path=next)


def _login_form(
    request: Request, *, next_path: str, error: str = "", username: str = "", status_code: int = 200
) -> Response:
    """The form with a fresh pre-login token, echoed in a cookie (double submit)."""
    token = auth.new_prelogin_token()
    response = render(
        request,
        "login.html",
        visitor=None,
        status_code=status_code,
        csrf=token,
        next_path=auth.safe_next(next_path, fallback=""),
        error=error,
        username=username,
    )
    auth.set_prelogin(response, request, token)
    return response


@router.post("/login")
def login(  # noqa: PLR0917  (a form's fields and the services it needs)
    request: Request,
    db: SessionDep,
    now: Now,
    failed: FailedLoginsDep,
    metrics: MetricsDep,
    hasher: HasherDep,
    username: FormText = "",
    password: FormText = "",
    csrf: FormText = "",
    next: FormText = "",
) -> Response:
    if not auth.same_token(request.cookies.get(auth.PRELOGIN_COOKIE, ""), csrf):
        raise auth.CsrfRefused("the login form's token does not match its cookie")
    t = i18n.translator(language(request))
    name = accounts.normalise_username(username)
    if not name or not password:
        metrics.inc("console_logins", outcome="invalid")
        return _login_form(request, next_path=next, error=t("login.missing"), status_code=422)
    wait = failed.retry_after(name)
    if wait:
        metrics.inc("console_logins", outcome="limited")
        log.warning("console login of %r refused: too many failures", name)
        error = t("login.limited", seconds=wait)
        response = _login_form(request, next_path=next, error=error, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = _authenticate(db, name, password, hasher)
    if user is None:
        failed.fail(name)
        metrics.inc("console_logins", outcome="failed")
        log.info("console login of %r failed", name)
        error = t("login.failed")
        return _login_form(request, next_path=next, error=error, username=name, status_code=401)
    failed.succeed(name)
    return _logged_in(request, db, user=user, now=now, next_path=next, metrics=metrics)


def _authenticate(db: SessionDep, name: str, password: str, hasher: HasherDep) -> User | None:
    if len(name) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
        return None
    if "\x00" in name or "\x00" in password:  # PostgreSQL refuses NUL in text
        return None
    return accounts.authenticate(db, username=name, password=password, hasher=hasher)


def _logged_in(
    request: Request, db: SessionDep, *, user: User, now: Now, next_path: str, metrics: MetricsDep
) -> Response:
    issued = accounts.issue_login_token(db, user=user, now=now)
    if audit.is_audited(user.role):
        audit.record(db, username=user.username, role=user.role, action="login", at=now)
    db.commit()
    metrics.inc("console_logins", outcome="ok")
    response = see_other(auth.safe_next(next_path, fallback=auth.home_of(user.role)))
    auth.set_session(response, request, issued.secret)
    response.delete_cookie(auth.PRELOGIN_COOKIE, path="/console/login")
    return response


@router.post("/logout")
def logout(request: Request, db: SessionDep, now: Now, visitor: SignedForm) -> Response:
    """Ends the session: its token is revoked, so a copied cookie is worthless too."""
    if visitor is not None:
        principal = visitor.principal
        accounts.revoke_token(db, token_id=principal.token_id)
        if audit.is_audited(principal.role):
            audit.record(
                db, username=principal.username, role=principal.role, action="logout", at=now
            )
        db.commit()
    response = see_other("/console/login")
    auth.clear_session(response, request)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "") -> Response:
    """Remember the chosen language for a year; an unknown one falls back to the default."""
    response = see_other(auth.safe_next(next, fallback=auth.HOME))
    chosen = code if code in i18n.LANGUAGES else i18n.DEFAULT
    response.set_cookie(
        auth.LANG_COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        path="/",
        samesite="lax",
        secure=auth.secure(request),
    )
    return response


@router.get("/")
def live_page(request: Request, db: SessionDep, now: Now, visitor: Staff) -> Response:
    board = live_board(db, samples_of(request, now))
    return render(request, "live.html", visitor=visitor, board=board, now=now)


@router.get("/audit")
def audit_page(
    request: Request,
    db: SessionDep,
    visitor: ManagerPage,
    limit: Annotated[int, Query(ge=1, le=1000)] = audit.DEFAULT_PAGE,
) -> Response:
    entries = audit.entries(db, limit=limit)
    return render(request, "audit.html", visitor=visitor, entries=entries)


@router.get("/me")
def me_page(request: Request, db: SessionDep, now: Now, visitor: Anyone) -> Response:
    """A member's own overview; staff accounts, linked to no member, get a note instead."""
    member_id = visitor.principal.member_id
    if visitor.role is not UserRole.MEMBER or member_id is None:
        t = i18n.translator(language(request))
        note = t("me.staff_note", role=t(f"role.{visitor.role}"))
        return render(request, "note.html", visitor=visitor, title_id="me.title", message=note)
    overview = my_overview(db, member_id=member_id, now=now)
    return render(request, "me.html", visitor=visitor, overview=overview)


@router.get("/me/invoices/{number}.pdf")
def my_invoice_pdf(number: str, request: Request, db: SessionDep, visitor: Anyone) -> Response:
    """One of the member's (or his organisation's) issued documents as a PDF; anyone else's
    number is not found, as if it did not exist."""
    member_id = visitor.principal.member_id
    mine = (
        {d.number for d in my_documents(db, member_id=member_id)}
        if visitor.role is UserRole.MEMBER and member_id is not None
        else set()
    )
    if number not in mine:
        raise NotFound(f"no document {number!r} of yours")
    doc = billing.document_of(billing.issued_document(db, number))
    pdf = render_pdf(doc, language=language(request))
    return download(pdf, "application/pdf", f"{number}.pdf", inline=True)
