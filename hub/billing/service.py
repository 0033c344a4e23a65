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

import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import inputs
from hub.billing.document import ZERO, Document, DocumentKind, Totals, structured_reference
from hub.billing.invoicing import Draft, assemble, credit_note, due_date
from hub.billing.models import (
    BillingDocument,
    Credit,
    DocumentStatus,
    PackUsage,
)
from hub.billing.numbering import (
    assert_chronological,
    format_number,
    inputs_version,
    reserve,
)
from hub.billing.pricing import price_sessions
from hub.billing.settings import BillingSettings
from hub.billing.ubl import to_ubl
from hub.billing.validation import fatal, not_applicable, rules
from hub.db import writing
from hub.errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)
T = TypeVar("T")
Progress = Callable[[int, int], None]
# More for a caller to write in the transaction that stores the outcome (the console's audit
# entry), so both are committed together or not at all.
Also = Callable[[Session, T], object]
PLACEHOLDER_NUMBER = "DRAFT"


def no_progress(_done: int, _total: int) -> None:
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
        return sum((d.totals.payable for d in self.drafts), ZERO)


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    # A month is ~100,000 sessions, each a handful of young objects that live until the end:
    # the cyclic collector would scan them again and again for nothing (a third of the time).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compute_month(session: Session, month: str, settings: BillingSettings) -> RunResult:
    """Price and assemble a month from the database; writes nothing."""
    with _no_gc_pauses():
        return _compute(session, month, settings)


def _compute(session: Session, month: str, settings: BillingSettings) -> RunResult:
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
    keep = [d for d in drafts if not _skipped(d.totals, settings)]
    zero = [d for d in drafts if _skipped(d.totals, settings)]
    return RunResult(month, keep, zero, found.unbillable, pricing.unmeasured)


def _skipped(totals: Totals, settings: BillingSettings) -> bool:
    """A month of free use only gets no invoice, unless the settings ask for zero invoices."""
    return settings.zero_invoices == "skip" and totals.tax_inclusive == 0


def check_rules(documents: list[Document], progress: Progress = no_progress) -> None:
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
    progress: Progress = no_progress,
    also: Also[RunResult] | None = None,
) -> RunResult:
    """Compute the month; unless `dry_run`, store its drafts in place of the previous ones.

    Buyers with only free use are stored too (so issuing settles their sessions) but get no
    invoice when zero invoices are skipped. `also` runs in the transaction storing the drafts.
    """
    with sessions() as session:
        version = inputs_version(session)
        result = compute_month(session, month, settings)
    if settings.validate_drafts:
        check_rules([d.document for d in result.drafts], progress)
    if dry_run:
        return result
    with writing(sessions) as session:
        for old in _drafts(session, month):
            session.delete(old)
        session.flush()
        for draft in result.drafts + result.skipped_zero:
            session.add(_draft_row(draft, month, now, version))
        if also is not None:
            also(session, result)
    return result


def _draft_row(draft: Draft, month: str, now: datetime, version: int) -> BillingDocument:
    totals = draft.totals
    state = {
        "inputs_version": version,
        "sessions": list(draft.sessions),
        "pack_use": draft.pack_use,
        "credit_used": str(draft.credit_used),
    }
    return BillingDocument(
        kind=draft.document.kind,
        status=DocumentStatus.DRAFT,
        month=month,
        buyer=draft.buyer,
        buyer_name=draft.document.buyer.name,
        document=draft.document.model_dump_json(),
        fingerprint=draft.fingerprint,
        draft_state=json.dumps(state),
        lines_cents=_cents(totals.lines),
        tax_cents=_cents(totals.tax),
        payable_cents=_cents(totals.payable),
        created_at=now,
    )


@dataclass(frozen=True)
class _Stored:
    """A stored draft as it was computed: sessions as the hex the database keeps them in."""

    buyer: str
    document: Document
    sessions: list[str]
    pack_use: tuple[tuple[int, int], ...]
    credit_used: Decimal
    inputs_version: int

    @cached_property
    def totals(self) -> Totals:
        return self.document.totals()


def _stored(row: BillingDocument) -> _Stored:
    state = json.loads(row.draft_state or "{}")
    return _Stored(
        buyer=row.buyer,
        document=Document.model_validate_json(row.document),
        sessions=list(state.get("sessions", ())),
        pack_use=tuple((int(p), int(s)) for p, s in state.get("pack_use", ())),
        credit_used=Decimal(state.get("credit_used", "0")),
        inputs_version=int(state.get("inputs_version", -1)),
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
    progress: Progress = no_progress,
    also: Also[list[str]] | None = None,
) -> list[str]:
    """Issue the month's stored drafts, as reviewed, in one transaction; returns the numbers.
    `also` runs in that transaction with the numbers (none when another issuer was first).

    All or nothing: an accountant finds a month either issued or still in drafts. Issuing
    refuses drafts made before a change of tariffs, packs, credit or session reasons (run the
    month again); a session that closed after the run is not on them, and the next month bills
    it. The database refuses to bill a session twice, and packs and credit are checked again.
    """
    inputs.period_of(month)  # a month like 2026-11, or Invalid
    numbers: list[str] = []
    try:
        with writing(sessions) as session:
            rows = _drafts(session, month)
            if not rows:
                if _issued_month(session, month):
                    if also is not None:
                        also(session, numbers)
                    return numbers  # another issuer did it: nothing left to do
                raise NotFound(
                    f"no drafts for {month}: run the month first (`billing run --month {month}`)"
                )
            current = inputs_version(session)
            drafts = [_stored(row) for row in rows]
            stale = sorted(
                {
                    row.buyer_name
                    for row, d in zip(rows, drafts, strict=True)
                    if d.inputs_version != current
                }
            )
            if stale:
                raise Conflict(
                    f"tariffs, packs, credit or session reasons changed since the drafts of {month}"
                    f" were made ({', '.join(stale[:5])}): run the month again, review, then issue"
                )
            _still_available(session, drafts)
            numbers = _issue_all(session, rows, drafts, settings, today=today, now=now)
            if also is not None:
                also(session, numbers)
            progress(len(rows), len(rows))
    except IntegrityError as exc:
        raise Conflict(
            f"sessions of {month}'s drafts were invoiced meanwhile: run the month again"
        ) from exc
    return numbers


def _drafts(session: Session, month: str) -> list[BillingDocument]:
    # FOR UPDATE: a second issuer of the month waits here (PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already made it wait), then finds no drafts left.
    return list(
        session.scalars(
            select(BillingDocument)
            .where(BillingDocument.month == month, BillingDocument.status == DocumentStatus.DRAFT)
            .order_by(BillingDocument.buyer)
            .with_for_update()
        )
    )


def _issued_month(session: Session, month: str) -> bool:
    return (
        session.scalar(
            select(BillingDocument.id).where(
                BillingDocument.month == month, BillingDocument.status == DocumentStatus.ISSUED
            )
        )
        is not None
    )


def _still_available(session: Session, drafts: list[_Stored]) -> None:
    """Packs and credit drawn by the drafts are still there (another month may have used them)."""
    buyers = {d.buyer for d in drafts}
    left = {p.id: p.seconds for p in inputs.load_packs(session, buyers)}
    balances = inputs.credit_balances(session, buyers)
    for draft in drafts:
        short = [p for p, s in draft.pack_use if left.get(p, 0) < s]
        if short or balances.get(draft.buyer, ZERO) < draft.credit_used:
            raise Conflict(
                f"prepaid hours or credit of {draft.document.buyer.name} were used meanwhile: "
                "run the month again"
            )
        for pack_id, seconds in draft.pack_use:
            left[pack_id] -= seconds


def _issue_all(
    session: Session,
    rows: list[BillingDocument],
    drafts: list[_Stored],
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
) -> list[str]:
    """Issue every draft with something to pay; settle the sessions of the others."""
    paying = [(r, d) for r, d in zip(rows, drafts, strict=True) if not _skipped(d.totals, settings)]
    billed: list[tuple[str, int | None]] = []
    numbers = []
    if paying:
        sealer = _Sealer(session, series=settings.invoice_series, today=today, count=len(paying))
        for row, draft in paying:
            document = sealer.seal(row, draft.document, settings, now)
            assert document.number is not None  # sealed documents are numbered
            numbers.append(document.number)
            billed += [(s, row.id) for s in draft.sessions]
            _record_draws(session, row, draft, document.number, now)
    for row, draft in zip(rows, drafts, strict=True):
        if _skipped(draft.totals, settings):
            _settle(session, draft.sessions)
            session.delete(row)
    if billed:
        # One statement for the month's sessions; the primary key refuses any billed already.
        _insert_invoiced(session, billed, conflict="")
    return numbers


def _insert_invoiced(
    session: Session, rows: list[tuple[str, int | None]], *, conflict: str
) -> None:
    """Straight to the driver: a month is up to 100,000 rows, already in the stored form (the
    hex SQLite keeps a Uuid as, which PostgreSQL reads as a uuid too)."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(
        "INSERT INTO billing_invoiced_sessions (session_id, document_id) "  # noqa: S608 - constant
        f"VALUES ({mark}, {mark}) {conflict}",
        rows,
    )


def _record_draws(
    session: Session, row: BillingDocument, draft: _Stored, number: str, now: datetime
) -> None:
    for pack_id, seconds in draft.pack_use:
        session.add(PackUsage(pack_id=pack_id, document_id=row.id, seconds=seconds))
    if draft.credit_used:
        session.add(
            Credit(
                buyer=draft.buyer,
                amount=-draft.credit_used,
                document_id=row.id,
                note=number,
                created_at=now,
            )
        )


class _Sealer:
    """Numbers and seals the documents of one series in one transaction.

    The block of numbers is reserved at once (the counter row stays locked until commit), the
    date order checked once, and each seal chained to the one before it.
    """

    def __init__(self, session: Session, *, series: str, today: date, count: int) -> None:
        self.series, self.today = series, today
        self._next = reserve(session, series=series, year=today.year, count=count)
        assert_chronological(session, series=series, year=today.year, issue_date=today)
        self._previous = session.scalar(
            select(BillingDocument.sha256).where(
                BillingDocument.series == series,
                BillingDocument.year == today.year,
                BillingDocument.sequence == self._next - 1,
            )
        )

    def seal(
        self, row: BillingDocument, draft: Document, settings: BillingSettings, now: datetime
    ) -> Document:
        year, sequence = self.today.year, self._next
        self._next += 1
        number = format_number(self.series, year, sequence)
        payment = draft.payment
        credit = draft.kind is DocumentKind.CREDIT_NOTE
        if not credit:
            payment = payment.model_copy(
                update={"reference": structured_reference(year * 10**6 + sequence)}
            )
        document = draft.model_copy(
            update={
                "number": number,
                "issue_date": self.today,
                "due_date": None if credit else due_date(self.today, settings.payment_days),
                "payment": payment,
            }
        )
        ubl = to_ubl(document)
        row.series, row.year, row.sequence, row.number = self.series, year, sequence, number
        row.issue_date = self.today
        row.document = document.model_dump_json()
        row.ubl = ubl
        row.sha256 = hashlib.sha256(ubl).hexdigest()
        row.previous_sha256 = self._previous
        row.status = DocumentStatus.ISSUED
        row.issued_at = now
        self._previous = row.sha256
        return document


def _settle(session: Session, session_hex: list[str]) -> None:
    """Sessions of a buyer with nothing to pay this month (zero invoices skipped) are settled
    without a document, so later runs leave them alone; another issuer may have done it."""
    if session_hex:
        _insert_invoiced(
            session, [(s, None) for s in session_hex], conflict="ON CONFLICT DO NOTHING"
        )


def issue_credit_note(
    sessions: sessionmaker[Session],
    number: str,
    settings: BillingSettings,
    *,
    today: date,
    now: datetime,
    line_ids: list[str] | None = None,
    note: str | None = None,
    also: Also[str] | None = None,
) -> str:
    """Credit the invoice `number` (every line, or `line_ids`); returns the credit note's number.
    `also` runs in the issuing transaction with that number."""
    with writing(sessions) as session:
        invoice_row = issued_document(session, number)
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
        sealer = _Sealer(session, series=settings.credit_note_series, today=today, count=1)
        issued = sealer.seal(row, document, settings, now)
        assert issued.number is not None  # sealed documents are numbered
        if also is not None:
            also(session, issued.number)
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


def issued_document(session: Session, number: str) -> BillingDocument:
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
    issued_document(session, number)
    raise Conflict(f"{number} is issued and cannot be changed: issue a credit note to correct it")
