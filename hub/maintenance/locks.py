"""Who holds a machine locked, changed with compare-and-set so that one hub replica sends a
command for each change, however many replicas noticed it.

Each function says whether the caller must tell the device; sending is the caller's business,
after the commit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.maintenance.models import MachineLock
from hub.maintenance.service import machine

MAX_REASON = 500


class Change(StrEnum):
    """The outcome of a compare-and-set on a machine's maintenance lock."""

    SEND = "send"  # changed here: tell the device
    SILENT = "silent"  # changed here, but a manual lock keeps the device locked anyway
    NONE = "none"  # nothing to change, or another replica changed it first


def _row(session: Session, machine_id: str) -> MachineLock | None:
    return session.get(MachineLock, machine_id, with_for_update=True, populate_existing=True)


def _insert(session: Session, row: MachineLock) -> Change:
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return Change.NONE  # another replica inserted it first: its change, not ours
    return Change.SEND


def lock_for_maintenance(session: Session, *, machine_id: str, plans: str, now: datetime) -> Change:
    """Maintenance takes the lock (it did not hold it)."""
    row = _row(session, machine_id)
    if row is None:
        fresh = MachineLock(
            machine_id=machine_id,
            locked_by_maintenance=True,
            since=now,
            plans=plans,
            unlock_pending=False,
        )
        return _insert(session, fresh)
    claimed = session.execute(
        update(MachineLock)
        .where(MachineLock.machine_id == machine_id, MachineLock.locked_by_maintenance.is_(False))
        .values(locked_by_maintenance=True, since=now, plans=plans, unlock_pending=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Change.NONE
    session.refresh(row)
    return Change.SEND if row.manual_by is None else Change.SILENT


def release_from_maintenance(session: Session, *, machine_id: str) -> Change:
    """Maintenance lets go (it held the lock); the device stays locked under a manual lock."""
    claimed = session.execute(
        update(MachineLock)
        .where(MachineLock.machine_id == machine_id, MachineLock.locked_by_maintenance.is_(True))
        .values(locked_by_maintenance=False, since=None, plans="")
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Change.NONE
    row = _row(session, machine_id)
    assert row is not None  # the update just matched it
    row.unlock_pending = row.manual_by is None
    return Change.SEND if row.unlock_pending else Change.SILENT


def lock_manually(
    session: Session, *, machine_id: str, by: str, reason: str, now: datetime
) -> bool:
    """A person locks the machine until they unlock it; True when LOCK must be sent."""
    machine(session, machine_id)
    row = _row(session, machine_id)
    if row is None:
        row = MachineLock(machine_id=machine_id, locked_by_maintenance=False, plans="")
        session.add(row)
    was_locked = row.locked
    row.manual_by, row.manual_reason, row.manual_since = by, reason[:MAX_REASON], now
    row.unlock_pending = False
    return not was_locked


def unlock_manually(session: Session, *, machine_id: str) -> bool:
    """Lift a manual lock; True when UNLOCK must be sent (maintenance does not hold it)."""
    machine(session, machine_id)
    row = _row(session, machine_id)
    if row is None or row.manual_by is None:
        return False
    row.manual_by = row.manual_reason = row.manual_since = None
    row.unlock_pending = not row.locked_by_maintenance
    return row.unlock_pending


def unlock_confirmed(session: Session, *, machine_id: str) -> None:
    """The broker has the UNLOCK: stop sending it again (unless the machine was locked since)."""
    session.execute(
        update(MachineLock)
        .where(
            MachineLock.machine_id == machine_id,
            MachineLock.locked_by_maintenance.is_(False),
            MachineLock.manual_by.is_(None),
        )
        .values(unlock_pending=False)
    )
