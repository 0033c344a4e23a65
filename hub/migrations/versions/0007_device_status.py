"""Devices: each edge device's last status (online, backlog, versions) for the console.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("boot_id", sa.Uuid(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("status_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("firmware", sa.String(length=120), nullable=True),
        sa.Column("acl_version", sa.Integer(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=True),
        sa.Column("relay_on", sa.Boolean(), nullable=True),
        sa.Column("outbox_backlog", sa.Integer(), nullable=True),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_status")),
    )


def downgrade() -> None:
    op.drop_table("device_status")
