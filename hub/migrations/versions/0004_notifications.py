"""Notifications: the durable queue of maintenance alerts to deliver, one row per channel.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "email", "webhook", "mqtt", name="notify_channel", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("device_level", sa.String(length=63), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notifications_attempts_not_negative")),
        sa.CheckConstraint(
            "sent_at IS NULL OR abandoned_at IS NULL",
            name=op.f("ck_notifications_sent_or_abandoned"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("alert_id", "channel", name=op.f("uq_notifications_alert_id_channel")),
    )
    # Only pending rows have a next attempt, so this index is what the delivery loop scans.
    op.create_index(
        op.f("ix_notifications_next_attempt_at"),
        "notifications",
        ["next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("notifications")
