"""Billing: billing details in the registry, billing tables, and the triggers that freeze them.

Issued documents and the append-only tables are guarded by triggers whose DDL lives with the
models (`hub.billing.models.immutability_ddl`), so the migration and `create_all` share it.
A later SQLite batch migration that recreates one of these tables must create them again.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.billing.models import drop_immutability_ddl, immutability_ddl

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _machine_kind() -> sa.Enum:
    return _enum("machine_kind", "cnc_mill", "laser_cutter", "printer_3d", "other")


def _address() -> list[sa.Column[str]]:
    return [
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("postcode", sa.String(length=16), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        # Rows from before billing get Belgium: every occupant so far is there.
        sa.Column("country", sa.String(length=2), server_default="BE", nullable=False),
    ]


def _registry_billing_details() -> None:
    # Plain ALTER TABLE on both backends: SQLite adds and drops these columns in place, where a
    # batch copy of the table would trip over the foreign keys that point at it.
    for column in [
        *_address(),
        sa.Column("billing_email", sa.String(length=320), nullable=True),
        sa.Column("peppol_scheme", sa.String(length=4), nullable=True),
        sa.Column("peppol_id", sa.String(length=320), nullable=True),
        sa.Column(
            "vat_regime",
            _enum("vat_regime", "standard", "reverse_charge", "exempt"),
            server_default="standard",
            nullable=False,
        ),
        sa.Column("buyer_reference", sa.String(length=100), nullable=True),
    ]:
        op.add_column("organisations", column)
    for column in _address():
        op.add_column("members", column)


def _tariffs_and_packs() -> None:
    op.create_table(
        "billing_tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=True),
        sa.Column("machine_kind", _machine_kind(), nullable=True),
        sa.Column(
            "category",
            _enum(
                "organisation_category",
                "resident_artisan",
                "cooperative_member",
                "external",
                "training",
            ),
            nullable=True,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("basis", _enum("tariff_basis", "badge", "busy"), nullable=False),
        sa.Column("hourly_price", sa.Text(), nullable=False),
        sa.Column("increment_s", sa.Integer(), nullable=False),
        sa.Column("minimum_s", sa.Integer(), nullable=False),
        sa.Column("session_fee", sa.Text(), nullable=False),
        sa.Column("idle_hourly_price", sa.Text(), nullable=False),
        sa.Column("energy_kwh_price", sa.Text(), nullable=False),
        sa.Column("monthly_cap", sa.Text(), nullable=True),
        sa.Column(
            "vat_category",
            _enum("vat_category", "S", "Z", "E", "AE", "K", "G", "O"),
            nullable=False,
        ),
        sa.Column("vat_percent", sa.Text(), nullable=False),
        sa.Column("vat_exemption_code", sa.String(length=32), nullable=True),
        sa.Column("vat_exemption_reason", sa.String(length=300), nullable=True),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("free_reasons", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("increment_s >= 1", name=op.f("ck_billing_tariffs_increment_positive")),
        sa.CheckConstraint("minimum_s >= 0", name=op.f("ck_billing_tariffs_minimum_not_negative")),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from",
            name=op.f("ck_billing_tariffs_period"),
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_billing_tariffs_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_tariffs")),
    )
    op.create_table(
        "billing_hour_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=63), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=True),
        sa.Column("machine_kind", _machine_kind(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seconds > 0", name=op.f("ck_billing_hour_packs_seconds_positive")),
        sa.CheckConstraint("valid_until > valid_from", name=op.f("ck_billing_hour_packs_period")),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_billing_hour_packs_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_hour_packs")),
    )
    op.create_index(
        op.f("ix_billing_hour_packs_buyer"), "billing_hour_packs", ["buyer"], unique=False
    )


def _documents() -> None:
    op.create_table(
        "billing_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("document_kind", "invoice", "credit_note"), nullable=False),
        sa.Column("status", _enum("document_status", "draft", "issued"), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("buyer", sa.String(length=63), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("series", sa.String(length=8), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("draft_state", sa.Text(), nullable=True),
        sa.Column("ubl", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("previous_sha256", sa.String(length=64), nullable=True),
        sa.Column("lines_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("payable_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit_note')", name=op.f("ck_billing_documents_kind")
        ),
        sa.CheckConstraint(
            "status = 'draft' OR (series IS NOT NULL AND year IS NOT NULL"
            " AND sequence IS NOT NULL AND number IS NOT NULL AND issue_date IS NOT NULL)",
            name=op.f("ck_billing_documents_issued_complete"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'issued')", name=op.f("ck_billing_documents_status")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["billing_documents.id"],
            name=op.f("fk_billing_documents_corrects_id_billing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_documents")),
        sa.UniqueConstraint("number", name=op.f("uq_billing_documents_number")),
        sa.UniqueConstraint(
            "series",
            "year",
            "sequence",
            name=op.f("uq_billing_documents_series_year_sequence"),
        ),
    )
    op.create_index(
        op.f("ix_billing_documents_buyer"), "billing_documents", ["buyer"], unique=False
    )
    op.create_index(
        "ix_billing_documents_month_status",
        "billing_documents",
        ["month", "status"],
        unique=False,
    )
    op.create_table(
        "billing_counters",
        sa.Column("series", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year", name=op.f("pk_billing_counters")),
    )


def _document_children() -> None:
    op.create_table(
        "billing_pack_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint("seconds > 0", name=op.f("ck_billing_pack_usage_seconds_positive")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["billing_documents.id"],
            name=op.f("fk_billing_pack_usage_document_id_billing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["pack_id"],
            ["billing_hour_packs.id"],
            name=op.f("fk_billing_pack_usage_pack_id_billing_hour_packs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_pack_usage")),
    )
    op.create_index(
        op.f("ix_billing_pack_usage_document_id"),
        "billing_pack_usage",
        ["document_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_billing_pack_usage_pack_id"), "billing_pack_usage", ["pack_id"], unique=False
    )
    op.create_table(
        "billing_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=63), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["billing_documents.id"],
            name=op.f("fk_billing_credits_document_id_billing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_credits")),
    )
    op.create_index(op.f("ix_billing_credits_buyer"), "billing_credits", ["buyer"], unique=False)
    op.create_index(
        op.f("ix_billing_credits_document_id"), "billing_credits", ["document_id"], unique=False
    )


def _session_tables() -> None:
    op.create_table(
        "billing_session_reasons",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_billing_session_reasons_session_id_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_billing_session_reasons")),
    )
    op.create_table(
        "billing_invoiced_sessions",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["billing_documents.id"],
            name=op.f("fk_billing_invoiced_sessions_document_id_billing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_billing_invoiced_sessions_session_id_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_billing_invoiced_sessions")),
    )
    op.create_index(
        op.f("ix_billing_invoiced_sessions_document_id"),
        "billing_invoiced_sessions",
        ["document_id"],
        unique=False,
    )


def upgrade() -> None:
    _registry_billing_details()
    _tariffs_and_packs()
    _documents()
    _document_children()
    _session_tables()
    for statement in immutability_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_immutability_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    # Children before the tables they reference; dropping a table drops its indexes.
    for table in (
        "billing_invoiced_sessions",
        "billing_session_reasons",
        "billing_credits",
        "billing_pack_usage",
        "billing_counters",
        "billing_documents",
        "billing_hour_packs",
        "billing_tariffs",
    ):
        op.drop_table(table)
    for name in ("country", "city", "postcode", "street"):
        op.drop_column("members", name)
    for name in (
        "buyer_reference",
        "vat_regime",
        "peppol_id",
        "peppol_scheme",
        "billing_email",
        "country",
        "city",
        "postcode",
        "street",
    ):
        op.drop_column("organisations", name)
