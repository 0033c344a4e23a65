"""The durable queue of alert deliveries: enqueue in the caller's transaction, claim, settle.

Claiming a row moves its next attempt CLAIM_S ahead and commits at once, so the delivery itself
(a mail, an HTTP call) runs outside any transaction and never holds the SQLite write lock. A
hub that dies mid-delivery leaves the row to be claimed again once the claim runs out: delivery
is at-least-once. On PostgreSQL, replicas claim with FOR UPDATE SKIP LOCKED and never wait on,
or take, each other's rows; SQLite has a single writer and needs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from contracts.codec import encode
from contracts.errors import InvalidTopic
from contracts.models import Alert
from contracts.topics import check_id
from hub.db import upsert, writing
from hub.errors import Invalid
from hub.notify.models import ERROR_LENGTH, Channel, Notification
from hub.notify.settings import NotifySettings

# Far above any channel timeout (at most a minute): only a dead hub lets a claim run out.
CLAIM_S = 300.0


@dataclass(frozen=True)
class Claimed:
    """One delivery taken from the queue; `attempts` counts this one."""

    id: int
    alert_id: UUID
    channel: Channel
    device_level: str
    payload: bytes
    attempts: int


def enqueue(
    session: Session,
    alert: Alert,
    *,
    device_level: str,
    settings: NotifySettings,
    now: datetime | None = None,
) -> int:
    """Queue `alert` on every enabled channel in the caller's transaction; returns rows added.

    Idempotent: an alert already queued on a channel (same alert_id) is not queued again.
    """
    try:
        check_id(device_level, "device level")
    except InvalidTopic as exc:
        raise Invalid(f"alert {alert.alert_id}: {exc}") from None
    at = now or datetime.now(UTC)
    payload = encode(alert).decode()
    added = 0
    for channel in settings.enabled_channels():
        row = {
            "alert_id": alert.alert_id,
            "channel": channel,
            "site": alert.site,
            "machine_id": alert.machine_id,
            "device_level": device_level,
            "payload": payload,
            "created_at": at,
            "attempts": 0,
            "next_attempt_at": at,
        }
        insert = upsert(session, Notification.__table__).values(**row)  # type: ignore[arg-type]
        # RETURNING rather than rowcount, which psycopg leaves at -1 here.
        inserted = session.execute(
            insert.on_conflict_do_nothing(index_elements=["alert_id", "channel"]).returning(
                Notification.id
            )
        )
        added += len(inserted.all())
    return added


def claim_next(sessions: sessionmaker[Session], channel: Channel, now: datetime) -> Claimed | None:
    """Take the oldest due delivery of `channel` for this process, or None if none is due."""
    with writing(sessions) as session:
        row = session.scalars(
            select(Notification)
            .where(Notification.channel == channel, Notification.next_attempt_at <= now)
            .order_by(Notification.created_at, Notification.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        return Claimed(
            id=row.id,
            alert_id=row.alert_id,
            channel=row.channel,
            device_level=row.device_level,
            payload=row.payload.encode(),
            attempts=row.attempts,
        )


def mark_sent(sessions: sessionmaker[Session], claimed: Claimed, now: datetime) -> None:
    _settle(sessions, claimed, sent_at=now, next_attempt_at=None, last_error=None)


def mark_abandoned(
    sessions: sessionmaker[Session], claimed: Claimed, now: datetime, error: str
) -> None:
    _settle(sessions, claimed, abandoned_at=now, next_attempt_at=None, last_error=_cut(error))


def reschedule(sessions: sessionmaker[Session], claimed: Claimed, at: datetime, error: str) -> None:
    _settle(sessions, claimed, next_attempt_at=at, last_error=_cut(error))


def backoff_s(attempts: int, settings: NotifySettings) -> float:
    """Seconds to wait after the `attempts`-th failure: doubling from retry_initial_s, capped."""
    # The exponent is capped first so a long-failing row cannot overflow the float.
    doubled = settings.retry_initial_s * 2 ** min(max(attempts - 1, 0), 62)
    return float(min(doubled, settings.retry_max_s))


def _settle(sessions: sessionmaker[Session], claimed: Claimed, **values: object) -> None:
    # A row settled meanwhile (another replica after our claim ran out) stays as it is.
    with writing(sessions) as session:
        session.execute(
            update(Notification)
            .where(
                Notification.id == claimed.id,
                Notification.sent_at.is_(None),
                Notification.abandoned_at.is_(None),
            )
            .values(**values)
        )


def _cut(error: str) -> str:
    return error if len(error) <= ERROR_LENGTH else error[: ERROR_LENGTH - 1] + "…"
