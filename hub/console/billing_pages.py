"""The console's billing pages: the accountant runs a month, reviews its drafts, issues them,
takes the zip away and corrects an invoice with a credit note; a manager may prepare and look.

The same rules as the billing API (`hub.api.billing`): accountants and managers draft and
download, only accountants issue and credit. Runs, issuing and credit notes open transactions of
their own in `hub.billing.service`, so each route first ends the request's transaction (on SQLite
it holds the write lock those would wait for), then records the action in the audit log.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from hub.api.billing import Sessions, Settings
from hub.api.deps import Now, SessionDep
from hub.api.errors import status_of
from hub.api.models import UserRole
from hub.api.types import DbId, Month
from hub.billing import exports, service
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.pdf import render_pdf
from hub.console import audit, billing_view, i18n
from hub.console.auth import Visitor, checked_form, page_for
from hub.console.me import Format
from hub.console.web import download, language, render, see_other
from hub.errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console/billing", include_in_schema=False)

BillingPage = Annotated[Visitor, page_for(UserRole.ACCOUNTANT, UserRole.MANAGER)]
AccountantPage = Annotated[Visitor, page_for(UserRole.ACCOUNTANT)]
FormText = Annotated[str, Form()]
PRESETS = ("generic", "odoo", "winbooks")
# What a redirect after success may announce (`?done=`); anything else shows nothing.
DONE = frozenset({"run", "issue", "credit"})
_MONTH = TypeAdapter(Month)
_DRAFT_ID = TypeAdapter(DbId)
PageError = NotFound | Conflict | Invalid
PAGE_ERRORS = (NotFound, Conflict, Invalid)
MAX_NOTE = 500  # as the API's credit note request
PDF = "application/pdf"
XML = "application/xml"


def _signed_reader(visitor: BillingPage, csrf: FormText = "") -> Visitor:
    checked_form(visitor, csrf)
    return visitor


def _signed_accountant(visitor: AccountantPage, csrf: FormText = "") -> Visitor:
    checked_form(visitor, csrf)
    return visitor


ReaderForm = Annotated[Visitor, Depends(_signed_reader)]
AccountantForm = Annotated[Visitor, Depends(_signed_accountant)]


@router.get("")
def months_page(request: Request, db: SessionDep, now: Now, visitor: BillingPage) -> Response:
    return _months(request, db, now, visitor)


@router.post("/run")
def run_month(
    request: Request,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    now: Now,
    visitor: ReaderForm,
    month: FormText = "",
) -> Response:
    """Draft the month (in place of its previous drafts), then show it."""
    chosen = _month_or_none(month)
    if chosen is None:
        t = i18n.translator(language(request))
        return _months(request, db, now, visitor, error=t("billing.error.month"), status_code=422)
    _release(db)
    try:
        result = service.draft_month(sessions, chosen, settings, now=now)
    except PAGE_ERRORS as exc:
        return _month(request, db, settings, visitor, chosen, failure=exc)
    detail = f"{len(result.drafts)} drafts, payable {result.total_payable}"
    _audit(db, visitor, "billing.run", chosen, detail=detail, now=now)
    return see_other(f"/console/billing/{chosen}?done=run")


@router.get("/drafts/{draft_id}/pdf")
def draft_pdf(
    draft_id: str, request: Request, db: SessionDep, settings: Settings, visitor: BillingPage
) -> Response:
    row = _draft(db, draft_id)
    if row is None:
        return _not_found(request, visitor, "billing.error.no_draft")
    pdf = render_pdf(service.document_of(row), language=settings.language)
    return download(pdf, PDF, f"draft-{row.id}.pdf", inline=True)


@router.get("/documents/{number}")
def document_page(
    number: str,
    request: Request,
    *,
    db: SessionDep,
    visitor: BillingPage,
    done: str = "",
) -> Response:
    return _document(request, db, visitor, number, done=done)


@router.get("/documents/{number}/pdf")
def document_pdf(
    number: str, request: Request, db: SessionDep, settings: Settings, visitor: BillingPage
) -> Response:
    try:
        row = service.issued_document(db, number)
    except NotFound:
        return _not_found(request, visitor, "billing.error.no_document")
    pdf = render_pdf(service.document_of(row), language=settings.language)
    return download(pdf, PDF, f"{number}.pdf", inline=True)


@router.get("/documents/{number}/ubl")
def document_ubl(number: str, request: Request, db: SessionDep, visitor: BillingPage) -> Response:
    try:
        row = service.issued_document(db, number)
    except NotFound:
        return _not_found(request, visitor, "billing.error.no_document")
    assert row.ubl is not None  # issued documents carry their UBL
    return download(row.ubl, XML, f"{number}.xml")


@router.post("/documents/{number}/credit-note")
def credit_note(
    number: str,
    request: Request,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    now: Now,
    visitor: AccountantForm,
    scope: FormText = "whole",
    lines: Annotated[list[str] | None, Form()] = None,
    note: FormText = "",
) -> Response:
    """Credit the invoice wholly or the lines ticked; the invoice page then lists the note."""
    t = i18n.translator(language(request))
    chosen = None if scope == "whole" else sorted(set(lines or ()), key=_line_order)
    problem = _credit_problem(chosen, note)
    if problem:
        return _document(request, db, visitor, number, error=t(problem), status_code=422)
    _release(db)
    try:
        issued = service.issue_credit_note(
            sessions,
            number,
            settings,
            today=_today(request, now),
            now=now,
            line_ids=chosen,
            note=note.strip() or None,
        )
    except PAGE_ERRORS as exc:
        return _document(request, db, visitor, number, failure=exc)
    detail = f"corrects {number}, " + (f"lines {', '.join(chosen)}" if chosen else "whole")
    _audit(db, visitor, "billing.credit_note", issued, detail=detail, now=now)
    return see_other(f"/console/billing/documents/{number}?done=credit")


@router.get("/{month}")
def month_page(
    month: str,
    request: Request,
    *,
    db: SessionDep,
    settings: Settings,
    visitor: BillingPage,
    done: str = "",
) -> Response:
    chosen = _month_or_none(month)
    if chosen is None:
        return _not_found(request, visitor, "billing.error.month")
    return _month(request, db, settings, visitor, chosen, done=done)


@router.post("/{month}/issue")
def issue_month(
    month: str,
    request: Request,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    now: Now,
    visitor: AccountantForm,
    count: FormText = "",
    payable: FormText = "",
) -> Response:
    """Issue the drafts the accountant saw: the form carries their count and total, and a month
    whose drafts changed since the page was shown is shown again instead of issued."""
    chosen = _month_or_none(month)
    if chosen is None:
        return _not_found(request, visitor, "billing.error.month")
    view = billing_view.month_view(db, chosen, settings)
    if (count, payable) != (str(len(view.to_issue)), str(view.to_issue_payable)):
        t = i18n.translator(language(request))
        error = t("billing.issue.changed")
        return _month(request, db, settings, visitor, chosen, error=error, status_code=409)
    _release(db)
    try:
        numbers = service.issue_month(
            sessions, chosen, settings, today=_today(request, now), now=now
        )
    except PAGE_ERRORS as exc:
        return _month(request, db, settings, visitor, chosen, failure=exc)
    detail = f"{len(numbers)} invoices" + (f": {numbers[0]} to {numbers[-1]}" if numbers else "")
    _audit(db, visitor, "billing.issue", chosen, detail=detail, now=now)
    return see_other(f"/console/billing/{chosen}?done=issue")


@router.get("/{month}/export.zip")
def month_zip(
    month: str,
    request: Request,
    *,
    db: SessionDep,
    settings: Settings,
    now: Now,
    visitor: BillingPage,
    preset: str = "",
) -> Response:
    """The accountant's zip: UBL files, PDFs, the journal and the list of documents."""
    chosen, name, refusal = _export_request(
        request, db=db, settings=settings, visitor=visitor, month=month, preset=preset
    )
    if refusal is not None:
        return refusal
    rows = service.documents(db, month=chosen, status=DocumentStatus.ISSUED)
    data = exports.month_zip(rows, settings.accounts, preset_name=name, language=settings.language)
    _audit(db, visitor, "billing.export", chosen, detail=f"zip, {name}", now=now)
    return download(data, "application/zip", f"machinerie-{chosen}.zip")


@router.get("/{month}/journal.csv")
def month_journal(
    month: str,
    request: Request,
    *,
    db: SessionDep,
    settings: Settings,
    now: Now,
    visitor: BillingPage,
    preset: str = "",
) -> Response:
    chosen, name, refusal = _export_request(
        request, db=db, settings=settings, visitor=visitor, month=month, preset=preset
    )
    if refusal is not None:
        return refusal
    rows = service.documents(db, month=chosen, status=DocumentStatus.ISSUED)
    data = exports.journal(rows, settings.accounts, name)
    _audit(db, visitor, "billing.export", chosen, detail=f"journal, {name}", now=now)
    return download(data, "text/csv", f"journal-{chosen}.csv")


def _months(
    request: Request,
    db: Session,
    now: datetime,
    visitor: Visitor,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    known = billing_view.months(db)
    timezone = request.app.state.console.timezone
    return render(
        request,
        "billing_months.html",
        visitor=visitor,
        status_code=status_code,
        months=known,
        choices=billing_view.month_choices(now, timezone, [m.month for m in known]),
        chosen=billing_view.default_month(now, timezone),
        error=error,
        f=Format,
    )


def _month(
    request: Request,
    db: Session,
    settings: Settings,
    visitor: Visitor,
    month: str,
    *,
    done: str = "",
    error: str = "",
    failure: PageError | None = None,
    status_code: int = 200,
) -> Response:
    t = i18n.translator(language(request))
    error, detail, status_code = _failure(t, failure, error, status_code)
    return render(
        request,
        "billing_month.html",
        visitor=visitor,
        status_code=status_code,
        view=billing_view.month_view(db, month, settings),
        done=done if done in DONE else "",
        error=error,
        error_detail=detail,
        presets=PRESETS,
        preset=settings.journal_preset,
        accountant=visitor.role is UserRole.ACCOUNTANT,
        f=Format,
    )


def _document(
    request: Request,
    db: Session,
    visitor: Visitor,
    number: str,
    *,
    done: str = "",
    error: str = "",
    failure: PageError | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = billing_view.document_view(db, number)
    except NotFound:
        return _not_found(request, visitor, "billing.error.no_document")
    t = i18n.translator(language(request))
    error, detail, status_code = _failure(t, failure, error, status_code)
    return render(
        request,
        "billing_document.html",
        visitor=visitor,
        status_code=status_code,
        view=view,
        done=done if done in DONE else "",
        error=error,
        error_detail=detail,
        accountant=visitor.role is UserRole.ACCOUNTANT,
        quantity=billing_view.quantity_text,
        f=Format,
    )


def _failure(
    t: i18n.Translate, failure: PageError | None, error: str, status_code: int
) -> tuple[str, str, int]:
    """The page's error: a translated lead, the service's own words, and the status."""
    if failure is None:
        return error, "", status_code
    log.info("billing action refused: %s", failure)
    status = status_of(failure)
    return t(f"billing.error.{status}"), str(failure), status


def _not_found(request: Request, visitor: Visitor, message_id: str) -> Response:
    t = i18n.translator(language(request))
    return render(
        request,
        "note.html",
        visitor=visitor,
        status_code=404,
        title_id="billing.not_found",
        message=t(message_id),
    )


def _export_request(
    request: Request,
    *,
    db: Session,
    settings: Settings,
    visitor: Visitor,
    month: str,
    preset: str,
) -> tuple[str, str, Response | None]:
    """The month and journal preset an export asks for, or the page that refuses it."""
    chosen = _month_or_none(month)
    if chosen is None:
        return "", "", _not_found(request, visitor, "billing.error.month")
    name = preset or settings.journal_preset
    if name not in PRESETS:
        t = i18n.translator(language(request))
        page = _month(
            request, db, settings, visitor, chosen, error=t("billing.error.preset"), status_code=422
        )
        return chosen, name, page
    return chosen, exports.preset(name), None


def _credit_problem(lines: list[str] | None, note: str) -> str:
    """The message id of what is wrong with a credit note form, or ''."""
    if lines is not None and not lines:
        return "billing.credit.no_lines"
    if len(note) > MAX_NOTE:
        return "billing.credit.long_note"
    return ""


def _line_order(line_id: str) -> tuple[int, str]:
    return (int(line_id), "") if line_id.isdigit() else (0, line_id)


def _month_or_none(month: str) -> str | None:
    try:
        return _MONTH.validate_python(month)
    except ValidationError:
        return None


def _draft(db: Session, draft_id: str) -> BillingDocument | None:
    try:
        ident = _DRAFT_ID.validate_python(draft_id, strict=False)
    except ValidationError:
        return None
    row = db.get(BillingDocument, ident)
    return row if row is not None and row.status is DocumentStatus.DRAFT else None


def _audit(
    db: Session, visitor: Visitor, action: str, target: str, *, detail: str, now: datetime
) -> None:
    principal = visitor.principal
    audit.record(
        db,
        username=principal.username,
        role=principal.role,
        action=action,
        target=target,
        detail=detail,
        at=now,
    )
    db.commit()


def _release(db: Session) -> None:
    # The request's own transaction (it checked the visitor's session) holds SQLite's write
    # lock; the service writes in transactions of its own, which would wait on it.
    db.commit()


def _today(request: Request, now: datetime) -> date:
    # The seller's calendar day: just after midnight in Liège is still yesterday in UTC.
    return now.astimezone(ZoneInfo(request.app.state.console.timezone)).date()
