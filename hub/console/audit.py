"""The audit log: who did what through the console, newest first.

Pages that let a manager or an accountant change something call `record` in the same
transaction as the change, so an action and its trace are committed together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.console.models import AuditEntry

# The roles whose console actions are traced; maintainers and members act on their own work.
AUDITED_ROLES = frozenset({UserRole.MANAGER, UserRole.ACCOUNTANT})
DEFAULT_PAGE = 200


def record(
    session: Session,
    *,
    username: str,
    role: UserRole | str,
    action: str,
    target: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """Add an entry; the caller commits it with the action it describes."""
    entry = AuditEntry(
        at=at if at is not None else datetime.now(UTC),
        username=username[:64],
        role=str(role)[:32],
        action=action[:64],
        target=target[:200],
        detail=detail,
    )
    session.add(entry)
    return entry


def is_audited(role: UserRole | str) -> bool:
    return str(role) in AUDITED_ROLES


def entries(session: Session, *, limit: int = DEFAULT_PAGE) -> list[AuditEntry]:
    """The newest `limit` entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(query))
