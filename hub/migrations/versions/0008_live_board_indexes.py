"""Ledger indexes for the console's live board: each machine's newest event (of a kind) and its
open sessions, found by index seeks instead of passes over a year of events.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_events_machine_time", "events", ["machine_id", "time"])
    op.create_index("ix_events_machine_type_time", "events", ["machine_id", "type", "time"])
    op.create_index(
        "ix_sessions_open", "sessions", ["machine_id"], sqlite_where=OPEN, postgresql_where=OPEN
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_open", table_name="sessions")
    op.drop_index("ix_events_machine_type_time", table_name="events")
    op.drop_index("ix_events_machine_time", table_name="events")
