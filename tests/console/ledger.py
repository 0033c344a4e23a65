"""A member's session on a machine, reported to the ledger as the edge reports it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from contracts.models import Event
from hub.ledger.service import record_events
from tests.hub_billing import world as w


def report_session(
    db: Session,
    world: w.World,
    who: str,
    machine: str,
    start: datetime,
    *,
    minutes: int | None,
    received_at: datetime,
    busy_minutes: int | None = None,
    energy_wh: float | None = None,
    seq: int = 1,
) -> UUID:
    """`session_started`, then `session_ended` after `minutes` (real minutes: a night when the
    clocks go back lasts an hour longer on the wall); `minutes=None` leaves it open. Committed."""
    ident = uuid.uuid4()
    data: dict[str, Any] = {
        "session_id": str(ident),
        "badge_uid": "04A2246AB12C80",
        "member_id": world.ref(who),
        "started_at": start.isoformat(),
    }
    events = [_event(machine, "session_started", data | {"role": "user"}, seq, start)]
    if minutes is not None:
        end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)
        ending = data | {"ended_at": end.isoformat(), "end_reason": "badge_out"}
        if busy_minutes is not None:
            ending["busy_s"] = busy_minutes * 60
        if energy_wh is not None:
            ending["energy_wh"] = energy_wh
        events.append(_event(machine, "session_ended", ending, seq + 1, end))
    record_events(db, events, received_at=received_at)
    db.commit()
    return ident


def _event(machine: str, kind: str, data: dict[str, Any], seq: int, at: datetime) -> Event:
    return Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "site": "dony",
            "device_id": f"{machine}-pi",
            "machine_id": machine,
            "boot_id": str(uuid.uuid4()),
            "seq": seq,
            "time": at.isoformat(),
            "clock_synced": True,
            "type": kind,
            "data": data,
        }
    )
