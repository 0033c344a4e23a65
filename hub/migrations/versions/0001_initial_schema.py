"""Initial hub schema: registry, ledger and the access-list version counter.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    acl_version = op.create_table(
        "acl_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acl_version")),
    )
    # Access lists start at version 1 (the contract wants >= 1); every registry write adds one.
    op.bulk_insert(acl_version, [{"id": 1, "version": 1}])
    op.create_table(
        "badge_sightings",
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uid", "machine_id", name=op.f("pk_badge_sightings")),
    )
    op.create_index(
        op.f("ix_badge_sightings_seen_at"), "badge_sightings", ["seen_at"], unique=False
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"], unique=False
    )

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("boot_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(
        "ix_events_device_boot_seq", "events", ["device_id", "boot_id", "seq"], unique=False
    )
    op.create_index(op.f("ix_events_time"), "events", ["time"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enterprise_number", sa.String(length=10), nullable=True),
        sa.Column("vat_number", sa.String(length=14), nullable=True),
        sa.Column(
            "category",
            sa.Enum(
                "resident_artisan",
                "cooperative_member",
                "external",
                "training",
                name="organisation_category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("enterprise_number", name=op.f("uq_organisations_enterprise_number")),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("badge_uid", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("takeover_of", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("end_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unclean", sa.Boolean(), nullable=False),
        sa.Column("badge_seconds", sa.Integer(), nullable=True),
        sa.Column("busy_seconds", sa.Integer(), nullable=True),
        sa.Column("energy_wh", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_machine_id"), "sessions", ["machine_id"], unique=False)
    op.create_index(op.f("ix_sessions_member_id"), "sessions", ["member_id"], unique=False)
    op.create_index(op.f("ix_sessions_started_at"), "sessions", ["started_at"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "machines",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("site_id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cnc_mill",
                "laser_cutter",
                "printer_3d",
                "other",
                name="machine_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=63), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_machines_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("device_id", name=op.f("uq_machines_device_id")),
    )
    op.create_index(op.f("ix_machines_site_id"), "machines", ["site_id"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_members_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("email", name=op.f("uq_members_email")),
    )
    op.create_index(
        op.f("ix_members_organisation_id"), "members", ["organisation_id"], unique=False
    )

    op.create_table(
        "badges",
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_badges_member_id_members")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_badges")),
    )
    op.create_index(op.f("ix_badges_member_id"), "badges", ["member_id"], unique=False)

    op.create_table(
        "qualifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column(
            "role",
            sa.Enum("user", "maintainer", name="qualified_role", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instructor", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_qualifications_machine_id_machines")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_qualifications_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualifications")),
    )
    op.create_index(
        op.f("ix_qualifications_machine_id"), "qualifications", ["machine_id"], unique=False
    )
    op.create_index(
        op.f("ix_qualifications_member_id"), "qualifications", ["member_id"], unique=False
    )
    op.create_index(
        "uq_qualifications_live",
        "qualifications",
        ["member_id", "machine_id"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; children go before the tables they reference.
    for table in (
        "qualifications",
        "badges",
        "members",
        "machines",
        "sites",
        "sessions",
        "organisations",
        "events",
        "dead_letters",
        "badge_sightings",
        "acl_version",
    ):
        op.drop_table(table)
