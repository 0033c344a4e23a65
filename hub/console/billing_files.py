"""The billing pages' files: draft previews, issued documents as PDF and UBL, and the month's
accounting exports (the zip, the journal alone), each export traced in the audit log.

Accountants and managers download; the same rules as the billing API's exports.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from hub.api.billing import Settings
from hub.api.deps import Now, SessionDep
from hub.api.types import DbId
from hub.billing import exports, service
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.pdf import render_pdf
from hub.console import forms
from hub.console.auth import Visitor
from hub.console.billing_pages import (
    PRESETS,
    SECTION,
    BillingPage,
    month_or_none,
    not_found,
    show_month,
)
from hub.console.web import download
from hub.errors import NotFound

router = APIRouter(prefix="/console/billing", include_in_schema=False)
_DRAFT_ID = TypeAdapter(DbId)
PDF = "application/pdf"
XML = "application/xml"


@router.get("/drafts/{draft_id}/pdf")
def draft_pdf(
    draft_id: str, request: Request, db: SessionDep, settings: Settings, visitor: BillingPage
) -> Response:
    row = _draft(db, draft_id)
    if row is None:
        return not_found(request, visitor, "billing.error.no_draft")
    pdf = render_pdf(service.document_of(row), language=settings.language)
    return download(pdf, PDF, f"draft-{row.id}.pdf", inline=True)


@router.get("/documents/{number}/pdf")
def document_pdf(
    number: str, request: Request, db: SessionDep, settings: Settings, visitor: BillingPage
) -> Response:
    try:
        row = service.issued_document(db, number)
    except NotFound:
        return not_found(request, visitor, "billing.error.no_document")
    pdf = render_pdf(service.document_of(row), language=settings.language)
    return download(pdf, PDF, f"{number}.pdf", inline=True)


@router.get("/documents/{number}/ubl")
def document_ubl(number: str, request: Request, db: SessionDep, visitor: BillingPage) -> Response:
    try:
        row = service.issued_document(db, number)
    except NotFound:
        return not_found(request, visitor, "billing.error.no_document")
    assert row.ubl is not None  # issued documents carry their UBL
    return download(row.ubl, XML, f"{number}.xml")


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
    _traced(db, visitor, forms.Trace("billing.export", chosen, f"zip, {name}"), now=now)
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
    _traced(db, visitor, forms.Trace("billing.export", chosen, f"journal, {name}"), now=now)
    return download(data, "text/csv", f"journal-{chosen}.csv")


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
    chosen = month_or_none(month)
    if chosen is None:
        return "", "", not_found(request, visitor, "billing.error.month")
    name = preset or settings.journal_preset
    if name not in PRESETS:
        refusal = forms.Refused("billing.error.preset")
        problem = forms.problem_of(request, refusal, section=SECTION, form="export")
        return chosen, name, show_month(request, db, settings, visitor, chosen, problem=problem)
    return chosen, exports.preset(name), None


def _draft(db: Session, draft_id: str) -> BillingDocument | None:
    try:
        ident = _DRAFT_ID.validate_python(draft_id, strict=False)
    except ValidationError:
        return None
    row = db.get(BillingDocument, ident)
    return row if row is not None and row.status is DocumentStatus.DRAFT else None


def _traced(db: Session, visitor: Visitor, trace: forms.Trace, *, now: datetime) -> None:
    """A download, traced on its own: it changes nothing else."""
    forms.record(db, visitor, trace, now=now)
    db.commit()
