"""The price list and what buyers hold: tariffs, hour packs, credit, and session reasons.

A tariff is never edited: a new price is a new tariff from a date, which closes the open-ended
one of the same machines and category the day before. Prices of a period already invoiced are
history, so a tariff may not start on or before the end of the last issued invoice's period.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.billing.document import VatCategory
from hub.billing.inputs import org_key, period_of, tariff_of
from hub.billing.models import (
    BillingDocument,
    Credit,
    DocumentStatus,
    HourPack,
    InvoicedSession,
    SessionReason,
    TariffBasis,
)
from hub.billing.models import Tariff as TariffRow
from hub.billing.numbering import bump_inputs
from hub.billing.tariffs import TariffBook
from hub.errors import Conflict, Invalid, NotFound
from hub.ledger.models import MachineSession
from hub.registry.models import Machine, MachineKind, Member, Organisation, OrganisationCategory
from hub.registry.numbers import member_ref, parse_member_ref

Money = Decimal


class TariffSpec(BaseModel):
    """A tariff as a price list file or the API gives it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    machine_id: str | None = None
    machine_kind: MachineKind | None = None
    category: OrganisationCategory | None = None
    valid_from: date
    valid_until: date | None = None
    basis: TariffBasis = TariffBasis.BADGE
    hourly_price: Money = Field(ge=0, decimal_places=4)
    increment_s: int = Field(default=60, ge=1, le=86400)
    minimum_s: int = Field(default=0, ge=0, le=86400)
    session_fee: Money = Field(default=Decimal(0), ge=0, decimal_places=4)
    idle_hourly_price: Money = Field(default=Decimal(0), ge=0, decimal_places=4)
    energy_kwh_price: Money = Field(default=Decimal(0), ge=0, decimal_places=4)
    monthly_cap: Money | None = Field(default=None, ge=0, decimal_places=2)
    vat_category: VatCategory = VatCategory.STANDARD
    vat_percent: Decimal = Field(default=Decimal(21), ge=0, le=100)
    vat_exemption_code: str | None = None
    vat_exemption_reason: str | None = None
    account: str = Field(default="700000", pattern=r"^[0-9A-Za-z]{1,20}$")
    free_reasons: list[str] = Field(default_factory=lambda: ["training", "maintenance"])

    @model_validator(mode="after")
    def _coherent(self) -> TariffSpec:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must come after valid_from")
        if self.machine_id is not None and self.machine_kind is not None:
            raise ValueError("give a machine or a kind of machine, not both")
        if any(not r.isidentifier() for r in self.free_reasons):
            raise ValueError("free reasons are short words such as training")
        return self


class PriceList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tariff: list[TariffSpec] = Field(default_factory=list)


def _row(spec: TariffSpec, now: datetime) -> TariffRow:
    values = spec.model_dump(exclude={"free_reasons"})
    return TariffRow(**values, free_reasons=",".join(spec.free_reasons), created_at=now)


def _same(row: TariffRow, spec: TariffSpec) -> bool:
    # An open-ended tariff a later price closed is still the one the list describes.
    ignored = {"free_reasons"} | ({"valid_until"} if spec.valid_until is None else set())
    fields = spec.model_dump(exclude=ignored)
    return all(getattr(row, k) == v for k, v in fields.items()) and row.free_reasons == ",".join(
        spec.free_reasons
    )


def last_invoiced_day(session: Session) -> date | None:
    """The end of the last billing month with an issued document (a credit note keeps the
    month of the invoice it corrects), without reading every document."""
    month = session.scalar(
        select(func.max(BillingDocument.month)).where(
            BillingDocument.status == DocumentStatus.ISSUED
        )
    )
    return period_of(month).last if month is not None else None


def add_tariff(session: Session, spec: TariffSpec, *, now: datetime) -> TariffRow:
    """Add a tariff, closing the open-ended one of the same scope; refuses ambiguity."""
    if spec.machine_id is not None and session.get(Machine, spec.machine_id) is None:
        raise NotFound(f"no machine {spec.machine_id!r}")
    invoiced = last_invoiced_day(session)
    if invoiced is not None and spec.valid_from <= invoiced:
        raise Conflict(
            f"usage up to {invoiced.isoformat()} is invoiced: a new tariff can start from the "
            "day after"
        )
    for existing in session.scalars(
        select(TariffRow).where(
            TariffRow.machine_id.is_(spec.machine_id)
            if spec.machine_id is None
            else TariffRow.machine_id == spec.machine_id,
            TariffRow.machine_kind.is_(None)
            if spec.machine_kind is None
            else TariffRow.machine_kind == spec.machine_kind,
            TariffRow.category.is_(None)
            if spec.category is None
            else TariffRow.category == spec.category,
            TariffRow.valid_until.is_(None),
            TariffRow.valid_from < spec.valid_from,
        )
    ):
        existing.valid_until = spec.valid_from
    row = _row(spec, now)
    session.add(row)
    session.flush()
    bump_inputs(session)
    TariffBook([tariff_of(r) for r in session.scalars(select(TariffRow))])  # raises if ambiguous
    return row


def load_price_list(session: Session, path: Path, *, now: datetime) -> list[TariffRow]:
    """Add every `[[tariff]]` of a TOML price list that is not there already."""
    try:
        price_list = PriceList.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise Invalid(f"cannot read the price list {path}: {exc}") from exc
    existing = list(session.scalars(select(TariffRow)))
    added = []
    for spec in sorted(price_list.tariff, key=lambda s: s.valid_from):
        if not any(_same(row, spec) for row in existing):
            added.append(add_tariff(session, spec, now=now))
    return added


def tariffs(session: Session) -> list[TariffRow]:
    return list(session.scalars(select(TariffRow).order_by(TariffRow.valid_from, TariffRow.id)))


def check_buyer(session: Session, buyer: str) -> str:
    """`org-7` for an organisation, `m-0042` for a member billed in person."""
    if buyer.startswith("org-") and buyer[4:].isdigit():
        if session.get(Organisation, int(buyer[4:])) is None:
            raise NotFound(f"no organisation {buyer!r}")
        return org_key(int(buyer[4:]))
    member_id = parse_member_ref(buyer)
    member = session.get(Member, member_id) if member_id is not None else None
    if member is None:
        raise NotFound(f"no buyer {buyer!r}: give org-<id> or a member reference like m-0042")
    if member.organisation_id is not None:
        raise Invalid(f"{buyer} is billed through organisation org-{member.organisation_id}")
    return member_ref(member.id)


def add_pack(
    session: Session,
    *,
    buyer: str,
    hours: Decimal,
    valid_from: date,
    valid_until: date,
    now: datetime,
    machine_id: str | None = None,
    machine_kind: MachineKind | None = None,
    note: str | None = None,
) -> HourPack:
    seconds = hours * 3600
    if seconds <= 0 or seconds != seconds.to_integral_value():
        raise Invalid(f"an hour pack holds a positive whole number of seconds, not {hours} h")
    if valid_until <= valid_from:
        raise Invalid("a pack must end after it starts")
    pack = HourPack(
        buyer=check_buyer(session, buyer),
        seconds=int(seconds),
        valid_from=valid_from,
        valid_until=valid_until,
        machine_id=machine_id,
        machine_kind=machine_kind,
        note=note,
        created_at=now,
    )
    session.add(pack)
    session.flush()
    bump_inputs(session)
    return pack


def add_credit(
    session: Session, *, buyer: str, amount: Decimal, now: datetime, note: str | None = None
) -> Credit:
    if amount != amount.quantize(Decimal("0.01")) or amount == 0:
        raise Invalid(f"a credit is a non-zero amount in cents, not {amount}")
    credit = Credit(buyer=check_buyer(session, buyer), amount=amount, note=note, created_at=now)
    session.add(credit)
    session.flush()
    bump_inputs(session)
    return credit


def set_reason(
    session: Session, *, session_id: UUID, reason: str | None, set_by: str, now: datetime
) -> None:
    """Tag a session (training, maintenance) or clear its tag, until it is invoiced."""
    if session.get(MachineSession, session_id) is None:
        raise NotFound(f"no session {session_id}")
    if session.get(InvoicedSession, session_id) is not None:
        raise Conflict(f"session {session_id} is invoiced: correct it with a credit note")
    row = session.get(SessionReason, session_id)
    bump_inputs(session)
    if reason is None:
        if row is not None:
            session.delete(row)
        return
    if not reason.isidentifier() or len(reason) > 32:
        raise Invalid(f"{reason!r} is not a reason (a short word such as training)")
    if row is None:
        session.add(SessionReason(session_id=session_id, reason=reason, set_by=set_by, set_at=now))
    else:
        row.reason, row.set_by, row.set_at = reason, set_by, now
