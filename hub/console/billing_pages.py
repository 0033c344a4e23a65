"""The console's billing pages: the accountant runs a month, reviews its drafts, issues them,
takes the zip away and corrects an invoice with a credit note; a manager may prepare and look.

The same rules as the billing API (`hub.api.billing`): accountants and managers draft and
download, only accountants issue and credit. Runs, issuing and credit notes open transactions of
their own in `hub.billing.service`, so each route first ends the request's transaction (on SQLite
it holds the write lock those would wait for) and hands the service its audit entry, which the
service's transaction commits with the documents or not at all.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from hub.api.billing import Sessions, Settings
from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.api.types import DbId, Month
from hub.billing import service
from hub.billing.document import DocumentKind
from hub.console import billing_view, forms
from hub.console.auth import Visitor, checked_form, page_for
from hub.console.me import Format
from hub.console.web import render
from hub.errors import Conflict, HubError, NotFound

router = APIRouter(prefix="/console/billing", include_in_schema=False)

BillingPage = Annotated[Visitor, page_for(UserRole.ACCOUNTANT, UserRole.MANAGER)]
AccountantPage = Annotated[Visitor, page_for(UserRole.ACCOUNTANT)]
FormText = Annotated[str, Form()]
PRESETS = ("generic", "odoo", "winbooks")
# What a redirect after success may announce (`?done=`); anything else shows nothing.
DONE = frozenset({"run", "issue", "credit"})
_MONTH = TypeAdapter(Month)
_DRAFT_ID = TypeAdapter(DbId)
SECTION = forms.Section(name="billing", prefix="billing.error")
# What a refusal by the billing service means on these pages (other kinds keep its own words).
ISSUE_REFUSALS: dict[type[HubError], str] = {
    NotFound: "billing.error.no_drafts",
    Conflict: "billing.error.changed_meanwhile",
}
CREDIT_REFUSALS: dict[type[HubError], str] = {
    NotFound: "billing.error.no_document",
    Conflict: "billing.error.already_credited",
}
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
    chosen = month_or_none(month)
    sent = forms.Sent(request, db, visitor, now)

    def change() -> forms.Done:
        if chosen is None:
            raise forms.Refused("billing.error.month")
        _release(db)

        def trace(session: Session, result: service.RunResult) -> None:
            detail = f"{len(result.drafts)} drafts, payable {result.total_payable}"
            sent.record(session, forms.Trace("billing.run", chosen, detail))

        service.draft_month(sessions, chosen, settings, now=now, also=trace)
        return forms.Done(f"/console/billing/{chosen}?done=run")

    def refused(problem: forms.Problem) -> Response:
        if chosen is None:
            return _months(request, db, now, visitor, problem=problem)
        return show_month(request, db, settings, visitor, chosen, problem=problem)

    return forms.act(sent, section=SECTION, form="run", change=change, refused=refused)


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
    chosen = None if scope == "whole" else sorted(set(lines or ()), key=_line_order)
    sent = forms.Sent(request, db, visitor, now)

    def trace(session: Session, issued: str) -> None:
        detail = f"corrects {number}, " + (f"lines {', '.join(chosen)}" if chosen else "whole")
        sent.record(session, forms.Trace("billing.credit_note", issued, detail))

    def change() -> forms.Done:
        _check_credit(db, number, chosen, note)
        _release(db)
        with forms.saying(CREDIT_REFUSALS):
            service.issue_credit_note(
                sessions,
                number,
                settings,
                today=_today(request, now),
                now=now,
                line_ids=chosen,
                note=note.strip() or None,
                also=trace,
            )
        return forms.Done(f"/console/billing/documents/{number}?done=credit")

    return forms.act(
        sent,
        section=SECTION,
        form="credit_note",
        change=change,
        refused=lambda problem: _document(request, db, visitor, number, problem=problem),
    )


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
    chosen = month_or_none(month)
    if chosen is None:
        return not_found(request, visitor, "billing.error.month")
    return show_month(request, db, settings, visitor, chosen, done=done)


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
    chosen = month_or_none(month)
    if chosen is None:
        return not_found(request, visitor, "billing.error.month")
    sent = forms.Sent(request, db, visitor, now)

    def trace(session: Session, numbers: list[str]) -> None:
        detail = f"{len(numbers)} invoices" + (
            f": {numbers[0]} to {numbers[-1]}" if numbers else ""
        )
        sent.record(session, forms.Trace("billing.issue", chosen, detail))

    def change() -> forms.Done:
        view = billing_view.month_view(db, chosen, settings)
        if (count, payable) != (str(len(view.to_issue)), str(view.to_issue_payable)):
            raise forms.Refused("billing.issue.changed", 409)
        if view.stale:
            raise forms.Refused("billing.issue.stale", 409)
        _release(db)
        with forms.saying(ISSUE_REFUSALS):
            service.issue_month(
                sessions, chosen, settings, today=_today(request, now), now=now, also=trace
            )
        return forms.Done(f"/console/billing/{chosen}?done=issue")

    return forms.act(
        sent,
        section=SECTION,
        form="issue",
        change=change,
        refused=lambda problem: show_month(request, db, settings, visitor, chosen, problem=problem),
    )


def _months(
    request: Request,
    db: Session,
    now: datetime,
    visitor: Visitor,
    *,
    problem: forms.Problem | None = None,
) -> Response:
    known = billing_view.months(db)
    timezone = request.app.state.console.timezone
    return render(
        request,
        "billing_months.html",
        visitor=visitor,
        status_code=problem.status if problem else 200,
        months=known,
        choices=billing_view.month_choices(now, timezone, [m.month for m in known]),
        chosen=billing_view.default_month(now, timezone),
        error=problem.message if problem else "",
        f=Format,
    )


def show_month(
    request: Request,
    db: Session,
    settings: Settings,
    visitor: Visitor,
    month: str,
    *,
    done: str = "",
    problem: forms.Problem | None = None,
) -> Response:
    return render(
        request,
        "billing_month.html",
        visitor=visitor,
        status_code=problem.status if problem else 200,
        view=billing_view.month_view(db, month, settings),
        done=done if done in DONE else "",
        error=problem.message if problem else "",
        error_detail=problem.detail if problem else "",
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
    problem: forms.Problem | None = None,
) -> Response:
    try:
        view = billing_view.document_view(db, number)
    except NotFound:
        return not_found(request, visitor, "billing.error.no_document")
    return render(
        request,
        "billing_document.html",
        visitor=visitor,
        status_code=problem.status if problem else 200,
        view=view,
        done=done if done in DONE else "",
        error=problem.message if problem else "",
        error_detail=problem.detail if problem else "",
        accountant=visitor.role is UserRole.ACCOUNTANT,
        quantity=billing_view.quantity_text,
        f=Format,
    )


def not_found(request: Request, visitor: Visitor, message_id: str) -> Response:
    return forms.missing(request, visitor, title_id="billing.not_found", message_id=message_id)


def _check_credit(db: Session, number: str, lines: list[str] | None, note: str) -> None:
    """Refuse, in words, a credit note form the invoice page would not have sent."""
    if lines is not None and not lines:
        raise forms.Refused("billing.credit.no_lines")
    if len(note) > MAX_NOTE:
        raise forms.Refused("billing.credit.long_note")
    with forms.saying({NotFound: "billing.error.no_document"}):
        view = billing_view.document_view(db, number)
    if view.row.kind is not DocumentKind.INVOICE:
        raise forms.Refused("billing.credit.not_invoice")
    if lines is not None and view.has_allowances:
        raise forms.Refused("billing.credit.cap")
    unknown = sorted(set(lines or ()) - {line.line_id for line in view.lines}, key=_line_order)
    if unknown:
        raise forms.Refused("billing.credit.unknown_lines", lines=", ".join(unknown))


def _line_order(line_id: str) -> tuple[int, str]:
    return (int(line_id), "") if line_id.isdigit() else (0, line_id)


def month_or_none(month: str) -> str | None:
    try:
        return _MONTH.validate_python(month)
    except ValidationError:
        return None


def _release(db: Session) -> None:
    # The request's own transaction (it checked the visitor's session) holds SQLite's write
    # lock; the service writes in transactions of its own, which would wait on it.
    db.commit()


def _today(request: Request, now: datetime) -> date:
    # The seller's calendar day: just after midnight in Liège is still yesterday in UTC.
    return now.astimezone(ZoneInfo(request.app.state.console.timezone)).date()
