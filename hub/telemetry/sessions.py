"""Closed sessions from the ledger to the writer: `session` and `usage` points.

The ledger is the source: a thread follows the `session_ended` events by their row id, after a
cursor kept in the hub's data folder, so a hub restart, or a store down for a day, loses no
session; points are written again at worst (same series and time: the store keeps one).
The exporter waits while the writer's buffer is more than half full, so a backfill or a long
outage never makes the writer drop what the ledger still holds.

Row ids are the order of the cursor. With several hub replicas on PostgreSQL, two batches commit
concurrently, and one may become visible with an id below one already read. So with replicas
(`settle_s` above 0) a row is exported only once it has been in the ledger for `settle_s`, and
never past an unsettled one: by then every transaction that took a lower id has committed or
rolled back (a batch's transaction lasts seconds; the default waits 30). A single hub commits
its events from one writer, in id order, and exports at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from pathlib import Path
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contracts.models import EventType
from hub.db import session_factory
from hub.devices.files import write_atomically
from hub.ingest.metrics import Metrics
from hub.ledger.models import EventRecord, MachineSession
from hub.registry.models import Member, Organisation
from hub.registry.numbers import parse_member_ref
from hub.registry.service import SiteZones
from hub.telemetry.points import session_point, usage_points

log = logging.getLogger(__name__)

CURSOR_FILE = "telemetry-sessions.cursor"
BATCH = 1000
POLL_S = 2.0
RETRY_S = 5.0

Offer = Callable[[Iterable[str]], object]


@dataclass(frozen=True)
class Exported:
    lines: list[str]
    sessions: int
    cursor: int


def export_after(
    session: Session, cursor: int, limit: int = BATCH, *, settled_by: datetime | None = None
) -> Exported:
    """The points of up to `limit` sessions ended after event row `cursor` (pure reads); with
    `settled_by`, only the rows received by then, up to the first one received later."""
    found_rows: list[tuple[int, str, datetime]] = [
        (row_id, payload, received_at)
        for row_id, payload, received_at in session.execute(
            select(EventRecord.id, EventRecord.payload, EventRecord.received_at)
            .where(EventRecord.type == EventType.SESSION_ENDED.value, EventRecord.id > cursor)
            .order_by(EventRecord.id)
            .limit(limit)
        )
    ]
    rows = [(row_id, payload) for row_id, payload, _ in _settled(found_rows, settled_by)]
    if not rows:
        return Exported([], 0, cursor)
    ids = [_session_id(payload) for _, payload in rows]
    found = session.scalars(
        select(MachineSession).where(
            MachineSession.session_id.in_([i for i in ids if i is not None])
        )
    ).all()
    return Exported(_points(session, found), len(found), rows[-1][0])


def _settled(
    rows: list[tuple[int, str, datetime]], settled_by: datetime | None
) -> list[tuple[int, str, datetime]]:
    """The rows in the ledger since `settled_by`, up to the first one that came later: a later
    row may have a lower id than one not yet visible, so nothing past it is exported yet."""
    if settled_by is None:
        return rows
    return list(takewhile(lambda row: row[2] <= settled_by, rows))


def _session_id(payload: str) -> UUID | None:
    # The row was validated when it was committed; only its session id is needed here.
    try:
        return UUID(json.loads(payload)["data"]["session_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _points(session: Session, rows: Sequence[MachineSession]) -> list[str]:
    zones = SiteZones(session)
    refs = {parse_member_ref(row.member_id) for row in rows} - {None}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(refs)))}
    names = {o.id: o.name for o in session.scalars(select(Organisation))}
    lines: list[str] = []
    for row in rows:
        if row.ended_at is None:
            continue
        member = members.get(parse_member_ref(row.member_id) or -1)
        org = member.organisation_id if member is not None else None
        zone = zones(row.site)
        lines.append(
            session_point(
                site=row.site,
                machine_id=row.machine_id,
                member_id=row.member_id,
                organisation=names.get(org) if org is not None else None,
                started_at=row.started_at,
                ended_at=row.ended_at,
                zone=zone,
                busy_s=row.busy_seconds,
                energy_wh=row.energy_wh,
            )
        )
        lines += usage_points(
            site=row.site,
            machine_id=row.machine_id,
            started_at=row.started_at,
            ended_at=row.ended_at,
            zone=zone,
        )
    return lines


class SessionExport:
    """Follows the ledger from a thread; `run_once` is one round, usable without it."""

    def __init__(
        self,
        engine: Engine,
        offer: Offer,
        *,
        data_dir: Path,
        room: Callable[[], bool] = lambda: True,
        poll_s: float = POLL_S,
        settle_s: float = 0.0,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = session_factory(engine)
        self._settle = timedelta(seconds=settle_s) if settle_s > 0 else None
        self._clock = clock
        self._offer = offer
        self._room = room
        self._cursor_path = data_dir / CURSOR_FILE
        self._poll_s = poll_s
        self._metrics = metrics or Metrics()
        self._metrics.describe(
            "telemetry_sessions_exported_total", "Closed sessions written to telemetry."
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cursor = self._read_cursor()

    def start(self) -> SessionExport:
        self._thread = threading.Thread(target=self._run, name="telemetry-sessions", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def wake(self) -> None:
        """New sessions were committed: look now rather than at the next poll."""
        self._wake.set()

    def run_once(self) -> int:
        """Export one batch if the writer has room; the number of sessions exported."""
        if not self._room():
            return 0
        settled_by = None if self._settle is None else self._clock() - self._settle
        with self._sessions() as session:
            exported = export_after(session, self.cursor, settled_by=settled_by)
        if exported.cursor == self.cursor:
            return 0
        self._offer(exported.lines)
        self._save_cursor(exported.cursor)
        self._metrics.inc("telemetry_sessions_exported_total", exported.sessions)
        return exported.sessions

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
            except (SQLAlchemyError, OSError) as exc:
                log.warning("sessions not exported to telemetry yet: %s", exc)
                self._stop.wait(RETRY_S)
                continue
            if not busy:
                # With a settle delay, a woken exporter may find nothing settled yet: the poll
                # brings it back.
                self._wake.wait(self._poll_s)
                self._wake.clear()

    def _read_cursor(self) -> int:
        try:
            return int(self._cursor_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning("unreadable %s: exporting every session again", self._cursor_path)
            return 0

    def _save_cursor(self, cursor: int) -> None:
        self.cursor = cursor
        write_atomically(self._cursor_path, f"{cursor}\n".encode(), mode=0o644)
