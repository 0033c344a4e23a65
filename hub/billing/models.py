"""Billing tables: tariffs, hour packs, credits, documents and the gapless number counters.

Money is stored two ways: every Decimal that feeds a calculation exactly as given (`DecimalText`,
its canonical `str`), and the totals reports sort and add up as integer cents. The database itself
keeps issued documents and the append-only tables unchanged: the triggers built here (by
`immutability_ddl`, run by migration 0003 and by `create_all`) refuse UPDATE and DELETE, so not
even a hand-typed SQL statement can rewrite an issued invoice.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hub.billing.document import DocumentKind, VatCategory
from hub.db import Base, UtcDateTime
from hub.errors import Invalid
from hub.registry.models import MachineKind, OrganisationCategory, string_enum


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its canonical text, so `0.10` comes back as `0.10`, on both backends.

    NUMERIC would do on PostgreSQL, but SQLite keeps it as a float and loses digits.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        # bool is an int, and a float has already lost the cents it was meant to carry.
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise Invalid(f"{value!r} refused: amounts are Decimal, never {type(value).__name__}")
        exact = Decimal(value)
        if not exact.is_finite():
            raise Invalid(f"{value!r} refused: an amount must be a finite number")
        return str(exact)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class TariffBasis(StrEnum):
    """What a tariff's hourly price counts: the badge session, or the machine's busy time."""

    BADGE = "badge"
    BUSY = "busy"


class DocumentStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"


class Tariff(Base):
    """A price for machine time; the most specific one valid on the session's day applies."""

    __tablename__ = "billing_tariffs"
    __table_args__ = (
        CheckConstraint("increment_s >= 1", name="increment_positive"),
        CheckConstraint("minimum_s >= 0", name="minimum_not_negative"),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Both null: any machine. Otherwise one machine, or every machine of a kind.
    machine_id: Mapped[str | None] = mapped_column(ForeignKey("machines.id"))
    machine_kind: Mapped[MachineKind | None] = mapped_column(
        string_enum(MachineKind, "machine_kind")
    )
    # Null: any organisation category (and private persons).
    category: Mapped[OrganisationCategory | None] = mapped_column(
        string_enum(OrganisationCategory, "organisation_category")
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # exclusive
    basis: Mapped[TariffBasis] = mapped_column(string_enum(TariffBasis, "tariff_basis"))
    hourly_price: Mapped[Decimal] = mapped_column(DecimalText)
    increment_s: Mapped[int] = mapped_column(Integer)
    minimum_s: Mapped[int] = mapped_column(Integer)
    session_fee: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal("0"))
    idle_hourly_price: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal("0"))
    energy_kwh_price: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal("0"))
    monthly_cap: Mapped[Decimal | None] = mapped_column(DecimalText)
    vat_category: Mapped[VatCategory] = mapped_column(
        string_enum(VatCategory, "vat_category"), default=VatCategory.STANDARD
    )
    vat_percent: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal("21"))
    vat_exemption_code: Mapped[str | None] = mapped_column(String(32))
    vat_exemption_reason: Mapped[str | None] = mapped_column(String(300))
    account: Mapped[str] = mapped_column(String(20), default="700000")
    # Session reasons billed at zero (a line at price 0 shows the time was seen, not lost).
    free_reasons: Mapped[str] = mapped_column(String(200), default="training,maintenance")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HourPack(Base):
    """Prepaid machine time for a buyer (`org-7`, `m-0042`), used before any hour is billed."""

    __tablename__ = "billing_hour_packs"
    __table_args__ = (
        CheckConstraint("seconds > 0", name="seconds_positive"),
        CheckConstraint("valid_until > valid_from", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer: Mapped[str] = mapped_column(String(63), index=True)
    machine_id: Mapped[str | None] = mapped_column(ForeignKey("machines.id"))
    machine_kind: Mapped[MachineKind | None] = mapped_column(
        string_enum(MachineKind, "machine_kind")
    )
    seconds: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)  # exclusive
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BillingDocument(Base):
    """An invoice or credit note: a draft until issued, then frozen by the database."""

    __tablename__ = "billing_documents"
    __table_args__ = (
        UniqueConstraint("series", "year", "sequence"),
        Index("ix_billing_documents_month_status", "month", "status"),
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        CheckConstraint("status IN ('draft', 'issued')", name="status"),
        # An issued document always carries its number and date; only drafts lack them.
        CheckConstraint(
            "status = 'draft' OR (series IS NOT NULL AND year IS NOT NULL"
            " AND sequence IS NOT NULL AND number IS NOT NULL AND issue_date IS NOT NULL)",
            name="issued_complete",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(string_enum(DocumentKind, "document_kind"))
    status: Mapped[DocumentStatus] = mapped_column(
        string_enum(DocumentStatus, "document_status"), default=DocumentStatus.DRAFT
    )
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    buyer: Mapped[str] = mapped_column(String(63), index=True)
    buyer_name: Mapped[str] = mapped_column(String(200))
    series: Mapped[str | None] = mapped_column(String(8))
    year: Mapped[int | None] = mapped_column(Integer)
    sequence: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    issue_date: Mapped[date | None] = mapped_column(Date)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("billing_documents.id"))
    # The `hub.billing.document.Document` as JSON: what the UBL and the PDF are made from.
    document: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # What issuing a draft records beside the document: its sessions, pack hours and credit
    # drawn, and the billing inputs' version it was made from (`hub.billing.service`).
    draft_state: Mapped[str | None] = mapped_column(Text)
    ubl: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # The previous issued document's sha256: editing any one breaks every link after it.
    previous_sha256: Mapped[str | None] = mapped_column(String(64))
    lines_cents: Mapped[int] = mapped_column(BigInteger)
    tax_cents: Mapped[int] = mapped_column(BigInteger)
    payable_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PackUsage(Base):
    """Seconds of an hour pack an issued document used up. Append-only."""

    __tablename__ = "billing_pack_usage"
    __table_args__ = (CheckConstraint("seconds > 0", name="seconds_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("billing_hour_packs.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("billing_documents.id"), index=True)
    seconds: Mapped[int] = mapped_column(Integer)


class Credit(Base):
    """A movement of a buyer's prepaid balance: granted (> 0) or used by a document (< 0).

    Append-only: the balance is the sum, and a mistake is undone by a movement the other way.
    """

    __tablename__ = "billing_credits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer: Mapped[str] = mapped_column(String(63), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("billing_documents.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionReason(Base):
    """Why a session is not billed as usual (`training`, `maintenance`), set by a manager.

    Changeable until the session is invoiced; afterwards the invoice is what counts.
    """

    __tablename__ = "billing_session_reasons"

    session_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("sessions.session_id"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(32))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Counter(Base):
    """The last number given out per series and year (`numbering.next_number`)."""

    __tablename__ = "billing_counters"

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class InvoicedSession(Base):
    """A session billed on a document. Append-only; the primary key bills a session once.

    No document: the session was settled without one (its buyer's month was free use only and
    zero invoices are skipped), so later runs leave it alone.
    """

    __tablename__ = "billing_invoiced_sessions"

    session_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("sessions.session_id"), primary_key=True
    )
    document_id: Mapped[int | None] = mapped_column(ForeignKey("billing_documents.id"), index=True)


# --- Immutability triggers --------------------------------------------------------------------

DOCUMENTS = "billing_documents"
APPEND_ONLY = ("billing_pack_usage", "billing_credits", "billing_invoiced_sessions")
ISSUED_IMMUTABLE = f"{DOCUMENTS}: an issued document is immutable"
# Every refusal names its table and says "immutable": `is_immutable_violation` looks for that.
_REFUSAL = re.compile(r"\bbilling_\w+: [^\n]*\bimmutable\b")


def _append_only_message(table: str) -> str:
    return f"{table}: an append-only row is immutable"


def _sqlite_triggers(table: str) -> list[str]:
    if table == DOCUMENTS:
        guard, message = "WHEN OLD.status = 'issued' ", ISSUED_IMMUTABLE
    else:
        guard, message = "", _append_only_message(table)
    return [
        f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} FOR EACH ROW "
        f"{guard}BEGIN SELECT RAISE(ABORT, '{message}'); END"
        for action in ("UPDATE", "DELETE")
    ]


# plpgsql bodies; TG_OP tells UPDATE from DELETE (a BEFORE DELETE trigger must return OLD).
_PG_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION billing_refuse_issued_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    f"IF OLD.status = 'issued' THEN RAISE EXCEPTION '{ISSUED_IMMUTABLE}'; END IF; "
    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
    "CREATE OR REPLACE FUNCTION billing_refuse_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'TRUNCATE' THEN RAISE EXCEPTION USING MESSAGE = "
    "TG_TABLE_NAME || ': TRUNCATE refused, the rows are immutable'; END IF; "
    "RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ': an append-only row is immutable'; "
    "END $$",
)


def _postgresql_triggers(table: str) -> list[str]:
    function = "billing_refuse_issued_change" if table == DOCUMENTS else "billing_refuse_change"
    return [
        *_PG_FUNCTIONS,
        f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        # TRUNCATE skips row triggers; it would empty the table of issued rows all the same.
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change()",
    ]


def table_triggers(dialect: str, table: str) -> list[str]:
    """The statements creating one table's immutability triggers (PostgreSQL: and functions)."""
    if dialect == "sqlite":
        return _sqlite_triggers(table)
    if dialect == "postgresql":
        return _postgresql_triggers(table)
    raise Invalid(f"no immutability triggers for the {dialect} dialect")


def immutability_ddl(dialect: str) -> list[str]:
    """Every statement creating the billing immutability triggers, in order (for migrations)."""
    statements: list[str] = []
    for table in (DOCUMENTS, *APPEND_ONLY):
        statements += [s for s in table_triggers(dialect, table) if s not in statements]
    return statements


def drop_immutability_ddl(dialect: str) -> list[str]:
    """Undo `immutability_ddl` (the tables may stay; dropping them would also drop the triggers)."""
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{action}"
            for table in (DOCUMENTS, *APPEND_ONLY)
            for action in ("update", "delete")
        ]
    drops = [
        f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}"
        for table in (DOCUMENTS, *APPEND_ONLY)
        for name in ("immutable", "no_truncate")
    ]
    functions = ("billing_refuse_issued_change", "billing_refuse_change")
    return [*drops, *(f"DROP FUNCTION IF EXISTS {name}()" for name in functions)]


def is_immutable_violation(exc: DBAPIError) -> bool:
    """Whether the database refused the statement because of a billing immutability trigger."""
    return _REFUSAL.search(str(exc.orig)) is not None


def _create_triggers(target: Table, connection: Connection, **_: object) -> None:
    for statement in table_triggers(connection.dialect.name, target.name):
        connection.exec_driver_sql(statement)


# `Base.metadata.create_all` then builds the same guarded tables as the migration does.
for _table in (DOCUMENTS, *APPEND_ONLY):
    event.listen(Base.metadata.tables[_table], "after_create", _create_triggers)
