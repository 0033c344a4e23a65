"""Billing over HTTP: the price list for managers; runs, issuing, credit notes and exports for
the accountant. Issued documents are read-only: every attempt to change one answers 409.

Runs and issuing open their own transactions (each invoice is issued in one of its own), so
these routes hand the service the app's session factory rather than the request's session.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from hub.api.accounts import Principal
from hub.api.deps import Now, SessionDep, require
from hub.api.errors import responses
from hub.api.models import UserRole
from hub.api.types import DbId, Month
from hub.billing import catalog, exports, service
from hub.billing.catalog import TariffSpec
from hub.billing.document import Document
from hub.billing.invoicing import Draft
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.models import Tariff as TariffRow
from hub.billing.pdf import render_pdf
from hub.billing.settings import BillingSettings
from hub.errors import NotFound
from hub.registry.models import DEFAULT_TIMEZONE, MachineKind

router = APIRouter(prefix="/billing", tags=["billing"], responses=responses(401, 403))

Accountant = Annotated[Principal, Depends(require(UserRole.ACCOUNTANT))]
BillingReader = Annotated[Principal, Depends(require(UserRole.ACCOUNTANT, UserRole.MANAGER))]
Manager = Annotated[Principal, Depends(require(UserRole.MANAGER))]
XML = "application/xml"
PDF = "application/pdf"


def get_settings(request: Request) -> BillingSettings:
    settings: BillingSettings = request.app.state.billing
    return settings


def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


Settings = Annotated[BillingSettings, Depends(get_settings)]
Sessions = Annotated[sessionmaker[Session], Depends(get_sessions)]


class TariffPublic(TariffSpec):
    id: int
    valid_until: date | None


class DraftPublic(BaseModel):
    buyer: str
    buyer_name: str
    lines: int
    sessions: int
    total_excl_vat: Decimal
    vat: Decimal
    payable: Decimal

    @classmethod
    def of(cls, draft: Draft) -> DraftPublic:
        t = draft.document.totals()
        return cls(
            buyer=draft.buyer,
            buyer_name=draft.document.buyer.name,
            lines=len(draft.document.lines),
            sessions=len(draft.sessions),
            total_excl_vat=t.tax_exclusive,
            vat=t.tax,
            payable=t.payable,
        )


class RunRequest(BaseModel):
    month: Month
    dry_run: bool = False


class RunPublic(BaseModel):
    month: str
    dry_run: bool
    drafts: list[DraftPublic]
    total_payable: Decimal
    free_only_buyers: int = Field(description="Buyers with only free use: no invoice")
    unmeasured_sessions: int = Field(description="Busy-time sessions billed on badge time")
    unbillable_sessions: int = Field(description="Sessions of unknown members or machines")


class IssueRequest(BaseModel):
    month: Month
    issue_date: date | None = None


class Issued(BaseModel):
    numbers: list[str]


class CreditNoteRequest(BaseModel):
    lines: list[str] | None = Field(None, description="Line ids to credit; all when absent")
    note: str | None = Field(None, max_length=500)
    issue_date: date | None = None


class DocumentPublic(BaseModel):
    id: int
    number: str | None
    kind: str
    status: DocumentStatus
    month: str
    buyer: str
    buyer_name: str
    issue_date: date | None
    due_date: date | None
    corrects: str | None
    total_excl_vat: Decimal
    vat: Decimal
    total_incl_vat: Decimal
    payable: Decimal
    structured_reference: str | None
    sha256: str | None

    @classmethod
    def of(cls, row: BillingDocument) -> DocumentPublic:
        doc = Document.model_validate_json(row.document)
        t = doc.totals()
        return cls(
            id=row.id,
            number=row.number,
            kind=row.kind.value,
            status=row.status,
            month=row.month,
            buyer=row.buyer,
            buyer_name=row.buyer_name,
            issue_date=row.issue_date,
            due_date=doc.due_date,
            corrects=doc.corrects.number if doc.corrects else None,
            total_excl_vat=t.tax_exclusive,
            vat=t.tax,
            total_incl_vat=t.tax_inclusive,
            payable=t.payable,
            structured_reference=doc.payment.reference,
            sha256=row.sha256,
        )


class DocumentDetail(DocumentPublic):
    document: Document


class PackRequest(BaseModel):
    buyer: str = Field(examples=["org-7", "m-0042"])
    hours: Decimal = Field(gt=0, le=10000)
    valid_from: date
    valid_until: date
    machine_id: str | None = None
    machine_kind: MachineKind | None = None
    note: str | None = Field(None, max_length=500)


class CreditRequest(BaseModel):
    buyer: str = Field(examples=["org-7", "m-0042"])
    amount: Decimal = Field(ge=-100000, le=100000, decimal_places=2)
    note: str | None = Field(None, max_length=500)


class ReasonRequest(BaseModel):
    reason: str | None = Field(None, max_length=32, examples=["training", "maintenance"])


@router.get("/tariffs", response_model=list[TariffPublic])
def list_tariffs(db: SessionDep, _who: BillingReader) -> list[TariffPublic]:
    return [_tariff_public(row) for row in catalog.tariffs(db)]


@router.post(
    "/tariffs", status_code=201, response_model=TariffPublic, responses=responses(404, 409, 422)
)
def add_tariff(spec: TariffSpec, db: SessionDep, _who: Manager, now: Now) -> TariffPublic:
    row = catalog.add_tariff(db, spec, now=now)
    db.commit()
    return _tariff_public(row)


def _tariff_public(row: TariffRow) -> TariffPublic:
    return TariffPublic(
        id=row.id,
        name=row.name,
        machine_id=row.machine_id,
        machine_kind=row.machine_kind,
        category=row.category,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        basis=row.basis,
        hourly_price=row.hourly_price,
        increment_s=row.increment_s,
        minimum_s=row.minimum_s,
        session_fee=row.session_fee,
        idle_hourly_price=row.idle_hourly_price,
        energy_kwh_price=row.energy_kwh_price,
        monthly_cap=row.monthly_cap,
        vat_category=row.vat_category,
        vat_percent=row.vat_percent,
        vat_exemption_code=row.vat_exemption_code,
        vat_exemption_reason=row.vat_exemption_reason,
        account=row.account,
        free_reasons=[r for r in row.free_reasons.split(",") if r],
    )


@router.post("/packs", status_code=201, responses=responses(404, 422))
def add_pack(body: PackRequest, db: SessionDep, _who: Manager, now: Now) -> dict[str, int | str]:
    pack = catalog.add_pack(
        db,
        buyer=body.buyer,
        hours=body.hours,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        machine_id=body.machine_id,
        machine_kind=body.machine_kind,
        note=body.note,
        now=now,
    )
    db.commit()
    return {"id": pack.id, "buyer": pack.buyer, "seconds": pack.seconds}


@router.post("/credits", status_code=201, responses=responses(404, 422))
def add_credit(
    body: CreditRequest, db: SessionDep, _who: BillingReader, now: Now
) -> dict[str, str]:
    credit = catalog.add_credit(db, buyer=body.buyer, amount=body.amount, note=body.note, now=now)
    db.commit()
    return {"buyer": credit.buyer, "amount": str(credit.amount)}


@router.put("/sessions/{session_id}/reason", status_code=204, responses=responses(404, 409, 422))
def set_reason(
    session_id: UUID, body: ReasonRequest, db: SessionDep, who: Manager, now: Now
) -> Response:
    catalog.set_reason(db, session_id=session_id, reason=body.reason, set_by=who.username, now=now)
    db.commit()
    return Response(status_code=204)


@router.post("/runs", response_model=RunPublic, responses=responses(409, 422))
def run_month(
    body: RunRequest,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    _who: BillingReader,
    now: Now,
) -> RunPublic:
    _release(db)
    result = service.draft_month(sessions, body.month, settings, now=now, dry_run=body.dry_run)
    return RunPublic(
        month=result.month,
        dry_run=body.dry_run,
        drafts=[DraftPublic.of(d) for d in result.drafts],
        total_payable=result.total_payable,
        free_only_buyers=len(result.skipped_zero),
        unmeasured_sessions=result.unmeasured,
        unbillable_sessions=len(result.unbillable),
    )


@router.post("/issue", response_model=Issued, responses=responses(404, 409, 422))
def issue_month(
    body: IssueRequest,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    _who: Accountant,
    now: Now,
) -> Issued:
    _release(db)
    numbers = service.issue_month(
        sessions, body.month, settings, today=body.issue_date or _local_today(now), now=now
    )
    return Issued(numbers=numbers)


def _release(db: Session) -> None:
    # The request's own transaction (it checked the caller's token) holds SQLite's write lock;
    # the service writes in transactions of its own, which would wait on it.
    db.commit()


def _local_today(now: datetime) -> date:
    # The seller's calendar day: just after midnight in Liège is still yesterday in UTC.
    return now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()


@router.get("/documents", response_model=list[DocumentPublic], responses=responses(422))
def list_documents(
    db: SessionDep,
    _who: BillingReader,
    month: Annotated[Month | None, Query()] = None,
    issued_in: Annotated[Month | None, Query()] = None,
    status: Annotated[DocumentStatus | None, Query()] = None,
) -> list[DocumentPublic]:
    rows = service.documents(db, month=month, issued_in=issued_in, status=status)
    return [DocumentPublic.of(row) for row in rows]


def _draft(db: Session, draft_id: int) -> BillingDocument:
    row = db.get(BillingDocument, draft_id)
    if row is None or row.status is not DocumentStatus.DRAFT:
        raise NotFound(f"no draft #{draft_id}")
    return row


@router.get("/documents/{number}", response_model=DocumentDetail, responses=responses(404))
def get_document(number: str, db: SessionDep, _who: BillingReader) -> DocumentDetail:
    row = service.issued_document(db, number)
    public = DocumentPublic.of(row)
    return DocumentDetail(**public.model_dump(), document=service.document_of(row))


@router.get(
    "/documents/{number}/ubl",
    response_class=Response,
    responses={200: {"content": {XML: {}}}, **responses(404)},
)
def get_ubl(number: str, db: SessionDep, _who: BillingReader) -> Response:
    row = service.issued_document(db, number)
    assert row.ubl is not None  # issued documents carry their UBL
    return Response(row.ubl, media_type=XML, headers=_attachment(f"{number}.xml"))


@router.get(
    "/documents/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **responses(404)},
)
def get_pdf(number: str, db: SessionDep, settings: Settings, _who: BillingReader) -> Response:
    doc = service.document_of(service.issued_document(db, number))
    pdf = render_pdf(doc, language=settings.language)
    return Response(pdf, media_type=PDF, headers=_attachment(f"{number}.pdf"))


@router.get(
    "/drafts/{draft_id}/pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **responses(404)},
)
def get_draft_pdf(
    draft_id: Annotated[DbId, Path()], db: SessionDep, settings: Settings, _who: BillingReader
) -> Response:
    doc = service.document_of(_draft(db, draft_id))
    pdf = render_pdf(doc, language=settings.language)
    return Response(pdf, media_type=PDF, headers=_attachment(f"draft-{draft_id}.pdf"))


# Not operations of the API (hidden from its schema): they exist so that anyone trying to edit or
# delete an issued document learns why not and what to do instead, rather than a bare 405.
@router.put("/documents/{number}", include_in_schema=False)
@router.patch("/documents/{number}", include_in_schema=False)
@router.delete("/documents/{number}", include_in_schema=False)
def change_document(number: str, db: SessionDep, _who: BillingReader) -> None:
    """Issued documents never change: this always answers 409 (or 404)."""
    service.refuse_change(db, number)


@router.post(
    "/documents/{number}/credit-notes",
    status_code=201,
    response_model=Issued,
    responses=responses(404, 409, 422),
)
def credit_note(
    number: str,
    body: CreditNoteRequest,
    *,
    db: SessionDep,
    sessions: Sessions,
    settings: Settings,
    _who: Accountant,
    now: Now,
) -> Issued:
    _release(db)
    issued = service.issue_credit_note(
        sessions,
        number,
        settings,
        today=body.issue_date or _local_today(now),
        now=now,
        line_ids=body.lines,
        note=body.note,
    )
    return Issued(numbers=[issued])


Selection = Literal["month", "issued"]


@router.get(
    "/exports/{month}.zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, **responses(422)},
)
def export_zip(
    month: Month,
    db: SessionDep,
    settings: Settings,
    _who: BillingReader,
    by: Annotated[Selection, Query(description="Billing month, or month of issue")] = "month",
    preset: Annotated[str | None, Query(description="generic, odoo or winbooks")] = None,
) -> Response:
    rows = _selected(db, month, by)
    name = exports.preset(preset or settings.journal_preset)
    data = exports.month_zip(rows, settings.accounts, preset_name=name, language=settings.language)
    return Response(
        data, media_type="application/zip", headers=_attachment(f"machinerie-{month}.zip")
    )


@router.get(
    "/journal/{month}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **responses(422)},
)
def export_journal(
    month: Month,
    db: SessionDep,
    settings: Settings,
    _who: BillingReader,
    by: Annotated[Selection, Query()] = "month",
    preset: Annotated[str | None, Query()] = None,
) -> Response:
    rows = _selected(db, month, by)
    name = exports.preset(preset or settings.journal_preset)
    data = exports.journal(rows, settings.accounts, name)
    return Response(data, media_type="text/csv", headers=_attachment(f"journal-{month}.csv"))


def _selected(db: Session, month: str, by: Selection) -> list[BillingDocument]:
    if by == "issued":
        return service.documents(db, issued_in=month, status=DocumentStatus.ISSUED)
    return service.documents(db, month=month, status=DocumentStatus.ISSUED)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
