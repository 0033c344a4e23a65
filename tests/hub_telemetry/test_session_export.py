"""Closed sessions to telemetry with hub replicas: a session whose commit became visible after a
later one was read is still exported, because the exporter waits for rows to settle."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from contracts.models import Event
from hub.db import session_factory, writing
from hub.ledger.service import record_events
from hub.telemetry.sessions import SessionExport
from tests.hub.factories import T0, ended, workshop

SETTLE_S = 30.0


class Lines:
    def __init__(self) -> None:
        self.sessions: list[str] = []

    def offer(self, lines: Iterable[str]) -> None:
        self.sessions += [line for line in lines if line.startswith("session,")]


def exporter(engine: Engine, folder: Path, clock: list[datetime], lines: Lines) -> SessionExport:
    return SessionExport(
        engine, lines.offer, data_dir=folder, settle_s=SETTLE_S, clock=lambda: clock[0]
    )


def a_session(minutes: int) -> Event:
    """A 20-minute session that started `minutes` after T0, as its end reached the ledger."""
    start = T0 + timedelta(minutes=minutes)
    return ended(uuid.uuid4(), start, start + timedelta(minutes=20), seq=minutes + 2)


def test_nothing_passes_a_row_that_has_not_settled(engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    with writing(sessions) as db:
        workshop(db)
    first, second = a_session(0), a_session(30)
    with writing(sessions) as db:
        record_events(db, [first], received_at=T0 + timedelta(seconds=50))
    with writing(sessions) as db:
        record_events(db, [second], received_at=T0)
    clock = [T0 + timedelta(seconds=60)]
    lines = Lines()
    export = exporter(engine, tmp_path, clock, lines)
    # The second is old enough, but the first, below it, is not: neither goes yet.
    assert export.run_once() == 0 and lines.sessions == []
    clock[0] = T0 + timedelta(seconds=90)
    assert export.run_once() == 2
    assert len(lines.sessions) == 2


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_replicas_late_commit_below_an_exported_id_is_not_skipped(
    engine: Engine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    with writing(sessions) as db:
        workshop(db)
    slow, quick = a_session(0), a_session(30)
    lines = Lines()
    clock = [T0]
    export = exporter(engine, tmp_path, clock, lines)
    # One replica's batch takes the lower id and is still committing...
    late = sessions()
    late.begin()
    record_events(late, [slow], received_at=T0)
    late.flush()
    # ...while another replica's batch, with the higher id, commits.
    with sessions.begin() as db:
        record_events(db, [quick], received_at=T0)
    assert export.run_once() == 0  # the quick one has not settled: the slow one may come
    late.commit()
    late.close()
    clock[0] = T0 + timedelta(seconds=SETTLE_S + 1)
    assert export.run_once() == 2
    assert len(lines.sessions) == 2
