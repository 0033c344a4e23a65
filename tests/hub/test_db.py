"""The database layer: connection settings, UTC datetimes and migrations on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

import hub.ledger.models
import hub.registry.models  # noqa: F401  (the tables the schema must match)
from hub.db import Base, make_engine, migrate
from hub.errors import Invalid
from hub.ledger.models import DeadLetter


def test_sqlite_connections_are_tuned(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": 2,
    }
    engine.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version FROM acl_version")).scalar() == 1


def test_datetimes_come_back_aware_in_utc(db: Session) -> None:
    brussels = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 30, 23, 30, 0, 123000, tzinfo=brussels)
    db.add(DeadLetter(received_at=at, topic="t", payload=b"x", payload_size=1, reason="r"))
    db.commit()
    db.expunge_all()
    stored = db.scalars(select(DeadLetter.received_at)).one()
    assert stored == at
    assert stored.tzinfo == UTC
    assert stored.isoformat() == "2026-11-30T22:30:00.123000+00:00"


def test_naive_datetimes_are_refused(db: Session) -> None:
    db.add(
        DeadLetter(
            received_at=datetime(2026, 11, 30), topic="t", payload=b"", payload_size=0, reason="r"
        )
    )
    with pytest.raises(StatementError) as caught:
        db.flush()
    assert isinstance(caught.value.orig, Invalid)
