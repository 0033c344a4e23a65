"""Alembic environment for the hub, driven from `hub.db.migrate` with a live connection.

Autogenerate compares against the ORM models of every feature package imported below.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import hub.api.models
import hub.billing.models
import hub.console.models
import hub.devices.models
import hub.ledger.models
import hub.maintenance.models
import hub.notify.models
import hub.registry.models  # noqa: F401  (registers the tables on Base.metadata)
from hub.db import Base, make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as fresh:
        _run(fresh)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use hub.db.migrate")
run_online()
