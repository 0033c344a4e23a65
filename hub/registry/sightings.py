"""Unknown badges seen at machines, so the manager can enrol "the badge just tapped at laser-1".

The ledger feeds them from `access_denied` events with reason `unknown_badge`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from hub.db import upsert
from hub.registry.models import Badge, BadgeSighting


@dataclass(frozen=True)
class Sighting:
    uid: str
    machine_id: str
    device_id: str
    seen_at: datetime
    count: int = 1


def note_sightings(session: Session, sightings: Iterable[Sighting]) -> None:
    """Add sightings, keeping per badge and machine the latest time and a running count."""
    merged: dict[tuple[str, str], Sighting] = {}
    for seen in sightings:
        key = (seen.uid, seen.machine_id)
        before = merged.get(key)
        merged[key] = seen if before is None else _merge(before, seen)
    if not merged:
        return
    table = BadgeSighting.__table__
    stmt = upsert(session, table)  # type: ignore[arg-type]
    newer = stmt.excluded.seen_at > table.c.seen_at
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.uid, table.c.machine_id],
        set_={
            "count": table.c.count + stmt.excluded.count,
            "seen_at": case((newer, stmt.excluded.seen_at), else_=table.c.seen_at),
            "device_id": case((newer, stmt.excluded.device_id), else_=table.c.device_id),
        },
    )
    session.execute(stmt, [asdict(seen) for seen in merged.values()])


def _merge(before: Sighting, seen: Sighting) -> Sighting:
    latest = seen if seen.seen_at >= before.seen_at else before
    return Sighting(
        seen.uid, seen.machine_id, latest.device_id, latest.seen_at, before.count + seen.count
    )


def recent_sightings(
    session: Session, *, machine_id: str | None = None, limit: int = 20
) -> list[BadgeSighting]:
    """Badges not enrolled yet, most recently seen first."""
    query = (
        select(BadgeSighting)
        .where(BadgeSighting.uid.not_in(select(Badge.uid)))
        .order_by(BadgeSighting.seen_at.desc(), BadgeSighting.uid)
        .limit(limit)
    )
    if machine_id is not None:
        query = query.where(BadgeSighting.machine_id == machine_id)
    return list(session.scalars(query))
