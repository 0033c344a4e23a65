"""Maintenance: plans per machine, interventions, alerts (one per crossing), lockouts.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    name = f"ix_{table}_{'_'.join(columns)}"
    op.create_index(op.f(name), table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "counter",
            _enum("alert_counter", "busy_hours", "badge_hours", "energy_kwh", "jobs", "days"),
            nullable=False,
        ),
        sa.Column("warning", sa.Float(), nullable=True),
        sa.Column("limit", sa.Float(), nullable=False),
        sa.Column("lock_at_limit", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("created_at"),
        sa.Column("cycle", sa.Integer(), nullable=False),
        _time("cycle_started_at"),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_maintenance_plans_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_plans")),
        sa.UniqueConstraint(
            "machine_id", "name", name=op.f("uq_maintenance_plans_machine_id_name")
        ),
    )
    _index("maintenance_plans", "machine_id")
    op.create_table(
        "maintenance_interventions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        _time("recorded_at"),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["maintenance_plans.id"],
            name=op.f("fk_maintenance_interventions_plan_id_maintenance_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_interventions")),
    )
    _index("maintenance_interventions", "plan_id")
    op.create_table(
        "maintenance_alerts",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("level", _enum("alert_level", "warning", "limit"), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        _time("raised_at"),
        _time("due_at", nullable=True),
        _time("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["maintenance_plans.id"],
            name=op.f("fk_maintenance_alerts_plan_id_maintenance_plans"),
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_maintenance_alerts")),
        # One alert per level per cycle, whichever hub replica or restart raises it first.
        sa.UniqueConstraint(
            "plan_id", "cycle", "level", name=op.f("uq_maintenance_alerts_plan_id_cycle_level")
        ),
    )
    _index("maintenance_alerts", "plan_id")
    _index("maintenance_alerts", "raised_at")
    op.create_table(
        "maintenance_locks",
        sa.Column("machine_id", sa.String(length=63), nullable=False),
        sa.Column("locked_by_maintenance", sa.Boolean(), nullable=False),
        _time("since", nullable=True),
        sa.Column("plans", sa.Text(), nullable=False),
        sa.Column("manual_by", sa.String(length=200), nullable=True),
        sa.Column("manual_reason", sa.String(length=500), nullable=True),
        _time("manual_since", nullable=True),
        sa.Column("unlock_pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_maintenance_locks_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("machine_id", name=op.f("pk_maintenance_locks")),
    )


def downgrade() -> None:
    for table in (
        "maintenance_locks",
        "maintenance_alerts",
        "maintenance_interventions",
        "maintenance_plans",
    ):
        op.drop_table(table)
