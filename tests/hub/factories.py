"""Builders for hub tests: a small workshop in the registry, and events as devices send them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from contracts.models import Event
from hub.registry import service

T0 = datetime(2026, 11, 23, 13, 31, tzinfo=UTC)
BOOT = UUID("6f1c2a8e-3b7d-4e0a-9c55-0d2f4b8a1e11")


@dataclass(frozen=True)
class Workshop:
    member_id: int
    badge_uid: str


def workshop(db: Session) -> Workshop:
    """Site `dony`, machine `laser-1` on device `laser-1-pi`, one member with one badge."""
    service.create_site(db, site_id="dony", name="Dony")
    service.create_machine(
        db,
        machine_id="laser-1",
        site_id="dony",
        name="Trotec Speedy 400",
        kind="laser_cutter",
        device_id="laser-1-pi",
    )
    member = service.create_member(db, name="Ada Lovelace", email="ada@example.org")
    service.enrol_badge(db, uid="04A2246AB12C80", member_id=member.id, now=T0)
    db.commit()
    return Workshop(member_id=member.id, badge_uid="04A2246AB12C80")


def event(kind: str, data: dict[str, Any], *, seq: int = 1, time: datetime = T0) -> Event:
    return Event.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "site": "dony",
            "device_id": "laser-1-pi",
            "machine_id": "laser-1",
            "boot_id": str(BOOT),
            "seq": seq,
            "time": time.isoformat(),
            "clock_synced": True,
            "type": kind,
            "data": data,
        }
    )


def started(session_id: UUID, at: datetime, *, member: str = "m-0001", seq: int = 1) -> Event:
    data = {
        "session_id": str(session_id),
        "badge_uid": "04A2246AB12C80",
        "member_id": member,
        "role": "user",
        "started_at": at.isoformat(),
    }
    return event("session_started", data, seq=seq, time=at)


def ended(
    session_id: UUID,
    start: datetime,
    end: datetime,
    *,
    member: str = "m-0001",
    seq: int = 2,
    reason: str = "badge_out",
    machine: dict[str, float] | None = None,
) -> Event:
    data: dict[str, object] = {
        "session_id": str(session_id),
        "badge_uid": "04A2246AB12C80",
        "member_id": member,
        "started_at": start.isoformat(),
        "ended_at": end.isoformat(),
        "end_reason": reason,
        "unclean": reason == "unclean_shutdown",
        **(machine or {}),
    }
    return event("session_ended", data, seq=seq, time=end)


def denied(uid: str, *, time: datetime = T0, reason: str = "unknown_badge") -> Event:
    return event("access_denied", {"badge_uid": uid, "reason": reason}, time=time)
