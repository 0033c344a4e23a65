"""Billing runs against the database: draft a month, issue it, credit an invoice.

- `draft_month` prices the month and, unless it is a dry run, replaces the month's drafts. Each
  draft is checked against the official CEN and Peppol rules first (with a placeholder number),
  so a document the rules refuse never gets a number.
- `issue_month` issues the month's drafts, each in its own transaction: it takes the next number
  of the year from the locked counter, freezes the document (UBL and its SHA-256, chained to the
  previous number's), records the sessions, pack hours and credit it used, and commits. A fresh
  run must give the same drafts as the stored ones, or nothing is issued: the accountant issues
  what he reviewed. Two issuers at once cannot issue a draft twice nor leave a gap.
- `issue_credit_note` corrects an issued invoice, wholly or line by line.

Issued documents never change (here, and by database triggers); PDFs are rendered from the
frozen document whenever asked, the same bytes each time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import inputs
from hub.billing.document import ZERO, Document, DocumentKind, structured_reference
from hub.billing.invoicing import Draft, assemble, credit_note, due_date
from hub.billing.models import (
    BillingDocument,
    Credit,
    DocumentStatus,
    InvoicedSession,
    PackUsage,
    is_immutable_violation,
)
from hub.billing.numbering import assert_chronological, format_number, next_number
from hub.billing.pricing import price_sessions
from hub.billing.settings import BillingSettings
from hub.billing.ubl import to_ubl
from hub.billing.validation import fatal, not_applicable, rules
from hub.db import writing
from hub.errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
PLACEHOLDER_NUMBER = "DRAFT"


def _nothing(_done: int, _total: int) -> None:
    pass


@dataclass
class RunResult:
    month: str
    drafts: list[Draft]
    skipped_zero: list[Draft] = field(default_factory=list)
    unbillable: list[str] = field(default_factory=list)
    unmeasured: int = 0

    @property
    def total_payable(self) -> Decimal:
        return sum((d.document.totals().payable for d in self.drafts), ZERO)


def compute_month(session: Session, month: str, settings: BillingSettings) -> RunResult:
    """Price and assemble a month from the database; writes nothing."""
    period = inputs.period_of(month)
    found = inputs.load_usages(session, period, catch_up_months=settings.catch_up_months)
    keys = {u.buyer for u in found.usages}
    pricing = price_sessions(
        found.usages, inputs.load_book(session), inputs.load_packs(session, keys)
    )
    drafts = assemble(
        pricing,
        inputs.load_buyers(session, keys),
        period=period,
        seller=settings.seller.party(),
        payment=settings.payment(),
        credits=inputs.credit_balances(session, keys),
        wording=settings.wording(),
    )
    keep, zero = _split_zero(drafts, settings)
    return RunResult(month, keep, zero, found.unbillable, pricing.unmeasured)


def _split_zero(drafts: list[Draft], settings: BillingSettings) -> tuple[list[Draft], list[Draft]]:
    if settings.zero_invoices == "issue":
        return drafts, []
    keep = [d for d in drafts if d.document.totals().tax_inclusive != 0]
    return keep, [d for d in drafts if d.document.totals().tax_inclusive == 0]


def check_rules(documents: list[Document], progress: Progress = _nothing) -> None:
    """Raise `Invalid` listing the official rules a document breaks (placeholder numbers)."""
    problems = []
    for done, doc in enumerate(documents, start=1):
        sample = doc
        if doc.number is None:
            sample = doc.model_copy(
                update={"number": PLACEHOLDER_NUMBER, "issue_date": doc.period_end}
            )
        failed = fatal(rules().check(to_ubl(sample)), waive=not_applicable(doc))
        problems += [f"{doc.buyer.name}: {f.rule} {f.text}" for f in failed]
        progress(done, len(documents))
    if problems:
        raise Invalid("documents break the Peppol rules: " + "; ".join(problems[:10]))


def draft_month(
    sessions: sessionmaker[Session],
    month: str,
    settings: BillingSettings,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress = _nothing,
) -> RunResult:
    """Compute the month; unless `dry_run`, store its drafts in place of the previous ones."""
    with sessions() as session:
        result = compute_month(session, month, settings)
    if settings.validate_drafts:
        check_rules([d.document for d in result.drafts], progress)
    if dry_run:
        return result
    with writing(sessions) as session:
        for old in session.scalars(
            select(BillingDocument).where(
                BillingDocument.month == month, BillingDocument.status == DocumentStatus.DRAFT
            )
        ):
            session.delete(old)
        session.flush()
        for draft in result.drafts:
            session.add(_draft_row(draft, month, now))
    return result


def _draft_row(draft: Draft, month: str, now: datetime) -> BillingDocument:
    totals = draft.document.totals()
    return BillingDocument(
        kind=draft.document.kind,
        status=DocumentStatus.DRAFT,
        month=month,
        buyer=draft.buyer,
        buyer_name=draft.document.buyer.name,
        document=draft.document.model_dump_json(),
        fingerprint=draft.fingerprint,
        lines_cents=_cents(totals.lines),
        tax_cents=_cents(totals.tax),
        payable_cents=_cents(totals.payable),
        created_at=now,
    )


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def issue_month(
    sessions: sessionmaker[Session],
    month: str,
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
    progress: Progress = _nothing,
) -> list[str]:
    """Issue the month's stored drafts; returns the numbers given out, in order."""
    with sessions() as session:
        fresh = {d.buyer: d for d in compute_month(session, month, settings).drafts}
        stored = list(
            session.scalars(
                select(BillingDocument)
                .where(
                    BillingDocument.month == month,
                    BillingDocument.status == DocumentStatus.DRAFT,
                )
                .order_by(BillingDocument.buyer)
            )
        )
    if not stored:
        raise NotFound(
            f"no drafts for {month}: run the month first (`billing run --month {month}`)"
        )
    _same_as_reviewed(stored, fresh, month)
    numbers = []
    for done, row in enumerate(stored, start=1):
        number = _issue_one(sessions, row.id, fresh[row.buyer], settings, today=today, now=now)
        if number is not None:
            numbers.append(number)
        progress(done, len(stored))
    _settle_zero(sessions, month, settings)
    return numbers


def _same_as_reviewed(stored: list[BillingDocument], fresh: dict[str, Draft], month: str) -> None:
    changed = sorted(
        row.buyer_name
        for row in stored
        if row.buyer not in fresh or fresh[row.buyer].fingerprint != row.fingerprint
    )
    extra = sorted(set(fresh) - {row.buyer for row in stored})
    if changed or extra:
        who = ", ".join(changed + extra)
        raise Conflict(
            f"the usage of {month} changed since its drafts were made ({who}): "
            f"run the month again, review, then issue"
        )


def _issue_one(
    sessions: sessionmaker[Session],
    row_id: int,
    draft: Draft,
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
) -> str | None:
    try:
        with writing(sessions) as session:
            row = session.get(BillingDocument, row_id, with_for_update=True)
            if row is None or row.status is not DocumentStatus.DRAFT:
                return None  # another issuer got there first
            document = _freeze(session, row, draft.document, settings, today=today, now=now)
            for session_id in draft.sessions:
                session.add(InvoicedSession(session_id=session_id, document_id=row.id))
            for pack_id, seconds in draft.pack_use:
                session.add(PackUsage(pack_id=pack_id, document_id=row.id, seconds=seconds))
            if draft.credit_used:
                session.add(
                    Credit(
                        buyer=draft.buyer,
                        amount=-draft.credit_used,
                        document_id=row.id,
                        note=f"{document.number}",
                        created_at=now,
                    )
                )
            session.flush()
            return document.number
    except IntegrityError as exc:
        raise Conflict(
            f"sessions of {draft.document.buyer.name} were invoiced meanwhile: run again"
        ) from exc


def _freeze(
    session: Session,
    row: BillingDocument,
    draft: Document,
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
) -> Document:
    """Number, date and seal a draft row; the caller's transaction holds the counter lock."""
    credit = draft.kind is DocumentKind.CREDIT_NOTE
    series = settings.credit_note_series if credit else settings.invoice_series
    sequence = next_number(session, series=series, year=today.year)
    assert_chronological(session, series=series, year=today.year, issue_date=today)
    number = format_number(series, today.year, sequence)
    payment = draft.payment
    if not credit:
        payment = payment.model_copy(
            update={"reference": structured_reference(today.year * 10**6 + sequence)}
        )
    document = draft.model_copy(
        update={
            "number": number,
            "issue_date": today,
            "due_date": None if credit else due_date(today, settings.payment_days),
            "payment": payment,
        }
    )
    ubl = to_ubl(document)
    previous = session.scalar(
        select(BillingDocument.sha256).where(
            BillingDocument.series == series,
            BillingDocument.year == today.year,
            BillingDocument.sequence == sequence - 1,
        )
    )
    row.series, row.year, row.sequence, row.number = series, today.year, sequence, number
    row.issue_date = today
    row.document = document.model_dump_json()
    row.ubl = ubl
    row.sha256 = hashlib.sha256(ubl).hexdigest()
    row.previous_sha256 = previous
    row.status = DocumentStatus.ISSUED
    row.issued_at = now
    return document


def _settle_zero(sessions: sessionmaker[Session], month: str, settings: BillingSettings) -> None:
    """Sessions of a month with nothing to pay are marked settled, so later runs skip them."""
    with writing(sessions) as session:
        result = compute_month(session, month, settings)
        for draft in result.skipped_zero:
            for session_id in draft.sessions:
                session.add(InvoicedSession(session_id=session_id, document_id=None))


def issue_credit_note(
    sessions: sessionmaker[Session],
    number: str,
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
    line_ids: list[str] | None = None,
    note: str | None = None,
) -> str:
    """Credit the invoice `number` (every line, or `line_ids`); returns the credit note's number."""
    with writing(sessions) as session:
        invoice_row = _issued(session, number)
        if invoice_row.kind is not DocumentKind.INVOICE:
            raise Invalid(f"{number} is a credit note; only invoices are credited")
        invoice = Document.model_validate_json(invoice_row.document)
        document = credit_note(invoice, line_ids=line_ids, note=note)
        document = document.model_copy(
            update={
                "payment": document.payment.model_copy(update={"terms": settings.refund_terms()})
            }
        )
        _not_over_credited(session, invoice_row, invoice, document)
        row = BillingDocument(
            kind=DocumentKind.CREDIT_NOTE,
            status=DocumentStatus.DRAFT,
            month=invoice_row.month,
            buyer=invoice_row.buyer,
            buyer_name=invoice_row.buyer_name,
            corrects_id=invoice_row.id,
            document=document.model_dump_json(),
            fingerprint=hashlib.sha256(document.model_dump_json().encode()).hexdigest(),
            lines_cents=_cents(document.totals().lines),
            tax_cents=_cents(document.totals().tax),
            payable_cents=_cents(document.totals().payable),
            created_at=now,
        )
        session.add(row)
        session.flush()
        issued = _freeze(session, row, document, settings, today=today, now=now)
        assert issued.number is not None  # _freeze numbers it
        return issued.number


def _not_over_credited(
    session: Session, invoice_row: BillingDocument, invoice: Document, new: Document
) -> None:
    """Each invoice line is credited at most once (each document rounds its own VAT, so
    comparing totals would be off by a cent)."""
    credited: set[str] = set()
    for text in session.scalars(
        select(BillingDocument.document).where(
            BillingDocument.corrects_id == invoice_row.id,
            BillingDocument.status == DocumentStatus.ISSUED,
        )
    ):
        credited |= {line.line_id for line in Document.model_validate_json(text).lines}
    again = sorted(credited & {line.line_id for line in new.lines}, key=int)
    if again:
        raise Conflict(
            f"line(s) {', '.join(again)} of {invoice.number} are already credited: "
            "a credit note cannot credit more than was invoiced"
        )


def _issued(session: Session, number: str) -> BillingDocument:
    row = session.scalar(select(BillingDocument).where(BillingDocument.number == number))
    if row is None:
        raise NotFound(f"no issued document numbered {number!r}")
    return row


def documents(
    session: Session,
    *,
    month: str | None = None,
    issued_in: str | None = None,
    status: DocumentStatus | None = None,
) -> list[BillingDocument]:
    """Documents of a billing month, or issued in a calendar month, in number order."""
    query = select(BillingDocument)
    if month is not None:
        inputs.period_of(month)  # validates the month
        query = query.where(BillingDocument.month == month)
    if issued_in is not None:
        period = inputs.period_of(issued_in)
        query = query.where(
            BillingDocument.issue_date >= period.first, BillingDocument.issue_date <= period.last
        )
    if status is not None:
        query = query.where(BillingDocument.status == status)
    return list(
        session.scalars(
            query.order_by(
                BillingDocument.kind,
                BillingDocument.year,
                BillingDocument.sequence,
                BillingDocument.buyer,
            )
        )
    )


def document_of(row: BillingDocument) -> Document:
    return Document.model_validate_json(row.document)


def refuse_change(session: Session, number: str) -> None:
    """What every attempt to edit or delete an issued document through the hub ends in."""
    _issued(session, number)
    raise Conflict(f"{number} is issued and cannot be changed: issue a credit note to correct it")


def translate_immutable(exc: DBAPIError) -> Conflict | None:
    if is_immutable_violation(exc):
        return Conflict("issued documents cannot be changed: issue a credit note to correct one")
    return None
