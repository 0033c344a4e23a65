"""The access decision: may this badge start a session on this machine now? Pure and local.

It reads only the cached access list, so a badge works the same with the network down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from contracts.models import AccessEntry, AccessList, DenyReason, Role


@dataclass(frozen=True, slots=True)
class Decision:
    uid: str
    allowed: bool
    role: Role = Role.NONE
    member_id: str | None = None
    reason: DenyReason | None = None


class AccessIndex:
    """An access list indexed by badge, with its time zone resolved once."""

    def __init__(self, access_list: AccessList) -> None:
        self.access_list = access_list
        self.zone = ZoneInfo(access_list.timezone)
        self._by_uid = {entry.badge_uid: entry for entry in access_list.entries}

    @property
    def version(self) -> int:
        return self.access_list.version

    def get(self, uid: str) -> AccessEntry | None:
        return self._by_uid.get(uid)

    def __len__(self) -> int:
        return len(self._by_uid)


def decide(index: AccessIndex | None, uid: str, now: datetime, *, locked: bool) -> Decision:
    """Decide for one badge; `now` must be aware (UTC or any zone)."""
    if index is None:
        return Decision(uid, False, reason=DenyReason.NO_ACCESS_LIST)
    entry = index.get(uid)
    if entry is None:
        return Decision(uid, False, reason=DenyReason.UNKNOWN_BADGE)
    reason = _deny_reason(entry, now.astimezone(index.zone), locked)
    return Decision(uid, reason is None, entry.role, entry.member_id, reason)


def _deny_reason(entry: AccessEntry, local: datetime, locked: bool) -> DenyReason | None:
    maintainer = entry.role is Role.MAINTAINER
    if entry.role is Role.NONE:
        return DenyReason.NOT_QUALIFIED
    if entry.expires_at is not None and local >= entry.expires_at:
        return DenyReason.EXPIRED
    if locked and not maintainer:
        return DenyReason.LOCKED
    if not maintainer and entry.windows and not any(w.contains(local) for w in entry.windows):
        return DenyReason.OUTSIDE_HOURS
    return None
