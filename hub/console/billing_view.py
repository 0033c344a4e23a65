"""What the billing pages show: the months known, a month's drafts and issued documents, one
document with its lines and credit notes.

Reads only; every write goes through `hub.billing.service`. Amounts come from the stored
documents themselves (`Document.totals()`), the same figures the PDF and the UBL carry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.billing import service
from hub.billing.document import ZERO, Document, DocumentKind, Line
from hub.billing.inputs import months_before
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.numbering import inputs_version
from hub.billing.settings import BillingSettings
from hub.console.numbers import NBSP, number

# How far back the run form offers months: a year, and the months already billed.
CHOICE_MONTHS = 12


@dataclass(frozen=True)
class MonthSummary:
    """One billing month at a glance: its drafts and what was issued for it."""

    month: str
    drafts: int = 0
    draft_payable: Decimal = ZERO
    invoices: int = 0
    invoiced_payable: Decimal = ZERO
    credit_notes: int = 0


@dataclass(frozen=True)
class DraftRow:
    id: int
    buyer: str
    buyer_name: str
    net: Decimal
    vat: Decimal
    payable: Decimal
    sessions: int
    # False for a buyer whose month is free use only: issuing settles it without an invoice.
    invoiced: bool
    # Made before a change of tariffs, packs, credit or session reasons: issuing would refuse.
    stale: bool


@dataclass(frozen=True)
class DocumentRow:
    number: str
    kind: DocumentKind
    buyer_name: str
    issue_date: date | None
    net: Decimal
    vat: Decimal
    total: Decimal
    payable: Decimal
    corrects: str | None


@dataclass(frozen=True)
class MonthView:
    month: str
    drafts: list[DraftRow]
    documents: list[DocumentRow]

    @property
    def to_issue(self) -> list[DraftRow]:
        return [d for d in self.drafts if d.invoiced]

    @property
    def to_issue_payable(self) -> Decimal:
        return sum((d.payable for d in self.to_issue), ZERO)

    @property
    def stale(self) -> bool:
        return any(d.stale for d in self.drafts)

    @property
    def issued(self) -> bool:
        return bool(self.documents)


@dataclass(frozen=True)
class DocumentView:
    row: DocumentRow
    lines: tuple[Line, ...]
    due_date: date | None
    reference: str | None
    note: str | None
    month: str
    credit_notes: list[DocumentRow]
    # Line ids some issued credit note already credits: they cannot be credited again.
    credited: frozenset[str]
    has_allowances: bool

    @property
    def creditable(self) -> bool:
        left = {line.line_id for line in self.lines} - self.credited
        return self.row.kind is DocumentKind.INVOICE and bool(left)


def months(db: Session) -> list[MonthSummary]:
    """Every month with drafts or documents, newest first."""
    query = select(
        BillingDocument.month,
        BillingDocument.status,
        BillingDocument.kind,
        func.count(BillingDocument.id),
        func.coalesce(func.sum(BillingDocument.payable_cents), 0),
    ).group_by(BillingDocument.month, BillingDocument.status, BillingDocument.kind)
    found: dict[str, MonthSummary] = {}
    for month, status, kind, count, cents in db.execute(query):
        summary = found.get(month, MonthSummary(month=month))
        found[month] = _add(summary, status, kind, int(count), Decimal(int(cents)) / 100)
    return [found[m] for m in sorted(found, reverse=True)]


def _add(
    summary: MonthSummary, status: DocumentStatus, kind: DocumentKind, count: int, amount: Decimal
) -> MonthSummary:
    if status is DocumentStatus.DRAFT:
        return replace(
            summary,
            drafts=summary.drafts + count,
            draft_payable=summary.draft_payable + amount,
        )
    if kind is DocumentKind.INVOICE:
        return replace(summary, invoices=count, invoiced_payable=amount)
    return replace(summary, credit_notes=count)


def month_choices(now: datetime, timezone: str, known: list[str]) -> list[str]:
    """The months the run form offers, newest first: this one, the year before, any known."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    recent = {months_before(today, n).strftime("%Y-%m") for n in range(CHOICE_MONTHS + 1)}
    return sorted(recent | set(known), reverse=True)


def default_month(now: datetime, timezone: str) -> str:
    """The month an accountant usually bills: the one that just ended."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return months_before(today, 1).strftime("%Y-%m")


def month_view(db: Session, month: str, settings: BillingSettings) -> MonthView:
    rows = service.documents(db, month=month)
    version = inputs_version(db)
    drafts = [_draft_row(r, settings, version) for r in rows if r.status is DocumentStatus.DRAFT]
    issued = [_document_row(r) for r in rows if r.status is DocumentStatus.ISSUED]
    return MonthView(month=month, drafts=drafts, documents=issued)


def document_view(db: Session, number: str) -> DocumentView:
    row = service.issued_document(db, number)
    doc = service.document_of(row)
    notes = [
        r
        for r in service.documents(db, month=row.month, status=DocumentStatus.ISSUED)
        if r.corrects_id == row.id
    ]
    credited = {line.line_id for r in notes for line in service.document_of(r).lines}
    return DocumentView(
        row=_document_row(row),
        lines=doc.lines,
        due_date=doc.due_date,
        reference=doc.payment.reference,
        note=doc.note,
        month=row.month,
        credit_notes=[_document_row(r) for r in notes],
        credited=frozenset(credited),
        has_allowances=bool(doc.allowances),
    )


def _draft_row(row: BillingDocument, settings: BillingSettings, version: int) -> DraftRow:
    totals = Document.model_validate_json(row.document).totals()
    # The run keeps what it drew on beside the draft (sessions, the inputs' version it saw).
    state = json.loads(row.draft_state or "{}")
    return DraftRow(
        id=row.id,
        buyer=row.buyer,
        buyer_name=row.buyer_name,
        net=totals.tax_exclusive,
        vat=totals.tax,
        payable=totals.payable,
        sessions=len(state.get("sessions", ())),
        invoiced=not (settings.zero_invoices == "skip" and totals.tax_inclusive == 0),
        stale=int(state.get("inputs_version", -1)) != version,
    )


def _document_row(row: BillingDocument) -> DocumentRow:
    doc = Document.model_validate_json(row.document)
    totals = doc.totals()
    assert row.number is not None  # only issued documents are listed as documents
    return DocumentRow(
        number=row.number,
        kind=row.kind,
        buyer_name=row.buyer_name,
        issue_date=row.issue_date,
        net=totals.tax_exclusive,
        vat=totals.tax,
        total=totals.tax_inclusive,
        payable=totals.payable,
        corrects=doc.corrects.number if doc.corrects else None,
    )


UNITS = {"HUR": "h", "MIN": "min", "SEC": "s", "KWH": "kWh", "C62": "×"}


def quantity_text(line: Line, lang: str) -> str:
    """`1.5000 HUR` -> `1,5 h` in French, `1.5 h` in English: what a line counts."""
    exponent = int(line.quantity.normalize().as_tuple().exponent)
    figure = number(line.quantity, lang, places=max(0, -exponent))  # every digit it carries
    return f"{figure}{NBSP}{UNITS.get(line.unit, line.unit)}"
