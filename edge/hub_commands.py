"""Commands from the hub turned into session-machine inputs: deduplicated, stale ones dropped.

QoS 1 may deliver a command twice, and a persistent session may deliver it hours late.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from contracts.models import Command, CommandAction
from edge.session import ForceStop, Input, LockChanged, Moment

log = logging.getLogger(__name__)

# A force stop delayed this long in a broker queue belongs to a session long gone.
FORCE_STOP_MAX_AGE = timedelta(minutes=5)
REMEMBERED = 1000


class CommandFilter:
    def __init__(self, counters: Counter[str]) -> None:
        self._seen: dict[str, None] = {}
        self._counters = counters

    def admit(self, command: Command, moment: Moment, *, clock_synced: bool) -> Input | None:
        """The input for a new, timely command; None for a repeat or a stale force stop."""
        key = str(command.command_id)
        if key in self._seen:
            self._counters["commands_duplicated"] += 1
            return None
        self._remember(key)
        if command.action is CommandAction.FORCE_STOP:
            if clock_synced and _too_old(command, moment["at"]):
                log.warning(
                    "force stop %s issued at %s is too old: ignored",
                    key,
                    command.issued_at.isoformat(),
                )
                self._counters["commands_expired"] += 1
                return None
            return ForceStop(command_id=command.command_id, **moment)
        locked = command.action is CommandAction.LOCK
        return LockChanged(
            locked=locked, reason=command.reason, command_id=command.command_id, **moment
        )

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > REMEMBERED:
            self._seen.pop(next(iter(self._seen)))


def _too_old(command: Command, now: datetime) -> bool:
    return now - command.issued_at > FORCE_STOP_MAX_AGE
