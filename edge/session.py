"""The session state machine: inputs in, commands out, no I/O (in the manner of h11).

Its transition table names every (state, input) pair it accepts; anything else raises
IllegalTransition. Command order is the safety rule: `session_started` is recorded before the
relay closes, and the relay opens before `session_ended` is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TypedDict
from uuid import UUID

from contracts.models import (
    AccessDenied,
    CommandAction,
    CommandResult,
    DenyReason,
    EndReason,
    EventType,
    LockoutChanged,
    Model,
    OpenSession,
    PowerOffDeferred,
    Role,
    SessionEnded,
    SessionStarted,
)
from edge.access import Decision
from edge.errors import IllegalTransition
from edge.hw.ports import Signal


class State(StrEnum):
    IDLE = "idle"
    ACTIVE = "active"
    DRAINING = "draining"  # the session is over but a job runs: power stays until it ends


class JobState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    UNKNOWN = "unknown"  # stale or missing telemetry: assume a job may be running


# ---------------------------------------------------------------- inputs


class Moment(TypedDict):
    """When an input happened: wall time for the records, monotonic time for the timeouts."""

    at: datetime
    mono: float


@dataclass(frozen=True)
class Input:
    at: datetime
    mono: float


@dataclass(frozen=True)
class BadgePresented(Input):
    decision: Decision


@dataclass(frozen=True)
class LogoutPressed(Input):
    pass


@dataclass(frozen=True)
class Tick(Input):
    pass


@dataclass(frozen=True)
class JobChanged(Input):
    job: JobState


@dataclass(frozen=True)
class ForceStop(Input):
    command_id: UUID


@dataclass(frozen=True)
class LockChanged(Input):
    locked: bool
    reason: str
    command_id: UUID | None = None


@dataclass(frozen=True)
class HolderRevalidated(Input):
    """The holder's badge decided again against a new access list or the clock."""

    decision: Decision


@dataclass(frozen=True)
class Shutdown(Input):
    pass


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Record:
    """Append an event to the outbox; `journal` is the open session to keep on disk with it
    (None: keep as is, CLEARED: no open session any more)."""

    type: EventType
    data: Model
    journal: OpenSession | Cleared | None = None


class Cleared:
    def __repr__(self) -> str:
        return "CLEARED"


CLEARED = Cleared()


@dataclass(frozen=True)
class PowerOn:
    pass


@dataclass(frozen=True)
class PowerOff:
    pass


@dataclass(frozen=True)
class Indicate:
    signal: Signal


Command = Record | PowerOn | PowerOff | Indicate


@dataclass(frozen=True)
class Limits:
    idle_timeout_s: float = 0.0  # 0 disables
    max_duration_s: float = 0.0  # 0 disables


@dataclass(frozen=True)
class Holder:
    session_id: UUID
    uid: str
    member_id: str
    role: Role
    started_at: datetime
    started_mono: float
    last_activity: float
    end_reason: EndReason | None = None
    end_requested_at: datetime | None = None

    def journal(self) -> OpenSession:
        return OpenSession(
            session_id=self.session_id,
            member_id=self.member_id,
            badge_uid=self.uid,
            started_at=self.started_at,
            draining=self.end_reason is not None,
        )


# Revalidation ends a session only when the holder lost the right to the machine, not when an
# hour window closes under a running session.
_REVOKING = frozenset({DenyReason.UNKNOWN_BADGE, DenyReason.NOT_QUALIFIED, DenyReason.EXPIRED})

Handler = Callable[["SessionMachine", Input], list[Command]]


class SessionMachine:
    def __init__(self, limits: Limits, new_id: Callable[[], UUID], *, locked: bool = False) -> None:
        self.limits = limits
        self._new_id = new_id
        self.state = State.IDLE
        self.holder: Holder | None = None
        self.locked = locked
        self.job = JobState.IDLE

    def abort(self) -> None:
        """Forget the session just started: its record could not be stored, so no power."""
        self.holder, self.state = None, State.IDLE

    def handle(self, event: Input) -> list[Command]:
        handler = TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise IllegalTransition(f"{type(event).__name__} is not allowed in state {self.state}")
        return handler(self, event)

    # ------------------------------------------------------------ session start and end

    def _start(self, event: Input, decision: Decision, takeover_of: UUID | None) -> list[Command]:
        assert decision.member_id is not None
        holder = Holder(
            self._new_id(),
            decision.uid,
            decision.member_id,
            decision.role,
            event.at,
            event.mono,
            event.mono,
        )
        self.holder, self.state = holder, State.ACTIVE
        started = SessionStarted(
            session_id=holder.session_id,
            badge_uid=holder.uid,
            member_id=holder.member_id,
            role=holder.role,
            started_at=holder.started_at,
            takeover_of=takeover_of,
        )
        # Recorded (with the journal) before the relay closes: no power without a trace.
        return [
            Record(EventType.SESSION_STARTED, started, holder.journal()),
            PowerOn(),
            Indicate(Signal.GRANTED),
        ]

    def _ended_record(self, holder: Holder, event: Input, reason: EndReason) -> Record:
        ended = SessionEnded(
            session_id=holder.session_id,
            badge_uid=holder.uid,
            member_id=holder.member_id,
            started_at=holder.started_at,
            ended_at=event.at,
            end_reason=reason,
            end_requested_at=holder.end_requested_at,
        )
        return Record(EventType.SESSION_ENDED, ended, CLEARED)

    def _finish(self, event: Input, reason: EndReason) -> list[Command]:
        """End now: relay open first, then the record."""
        holder = self.holder
        assert holder is not None
        self.holder, self.state = None, State.IDLE
        return [
            PowerOff(),
            self._ended_record(holder, event, reason),
            Indicate(self._rest_signal()),
        ]

    def _request_end(self, event: Input, reason: EndReason) -> list[Command]:
        """End the session, unless a job runs: then keep power until the job ends."""
        if self.job is JobState.IDLE:
            return self._finish(event, reason)
        holder = self.holder
        assert holder is not None
        self.holder = replace(holder, end_reason=reason, end_requested_at=event.at)
        self.state = State.DRAINING
        deferred = PowerOffDeferred(
            session_id=holder.session_id,
            reason="job_running" if self.job is JobState.RUNNING else "job_state_unknown",
        )
        return [
            Record(EventType.POWER_OFF_DEFERRED, deferred, self.holder.journal()),
            Indicate(Signal.DRAINING),
        ]

    def _takeover(self, event: BadgePresented) -> list[Command]:
        # The relay stays closed across a takeover: the next artisan may be mid-job.
        holder = self.holder
        assert holder is not None
        ended = self._ended_record(holder, event, EndReason.TAKEOVER)
        started = self._start(event, event.decision, holder.session_id)
        return [ended, *[c for c in started if not isinstance(c, PowerOn)]]

    def _rest_signal(self) -> Signal:
        return Signal.LOCKED if self.locked else Signal.ENDED

    def _deny(self, event: BadgePresented) -> list[Command]:
        decision = event.decision
        assert decision.reason is not None
        denied = AccessDenied(
            badge_uid=decision.uid, member_id=decision.member_id, reason=decision.reason
        )
        after = (
            Signal.IN_SESSION if self.holder else (Signal.LOCKED if self.locked else Signal.READY)
        )
        return [Record(EventType.ACCESS_DENIED, denied), Indicate(Signal.DENIED), Indicate(after)]

    # ------------------------------------------------------------ handlers

    def _idle_badge(self, event: Input) -> list[Command]:
        assert isinstance(event, BadgePresented)
        if not event.decision.allowed:
            return self._deny(event)
        return self._start(event, event.decision, None)

    def _active_badge(self, event: Input) -> list[Command]:
        assert isinstance(event, BadgePresented) and self.holder is not None
        if event.decision.uid == self.holder.uid:
            # Ending one's own session is always allowed, whatever the list says now.
            return self._request_end(event, EndReason.BADGE_OUT)
        if not event.decision.allowed:
            return self._deny(event)
        return self._takeover(event)

    def _draining_badge(self, event: Input) -> list[Command]:
        assert isinstance(event, BadgePresented) and self.holder is not None
        if not event.decision.allowed:
            return self._deny(event)
        if event.decision.uid == self.holder.uid:
            # Back before the job ended: the session simply goes on.
            self.holder = replace(
                self.holder, end_reason=None, end_requested_at=None, last_activity=event.mono
            )
            self.state = State.ACTIVE
            return [Indicate(Signal.IN_SESSION)]
        return self._takeover(event)

    def _active_logout(self, event: Input) -> list[Command]:
        return self._request_end(event, EndReason.LOGOUT_BUTTON)

    def _active_tick(self, event: Input) -> list[Command]:
        holder = self.holder
        assert holder is not None
        limits = self.limits
        if self.job is JobState.RUNNING:
            self.holder = holder = replace(holder, last_activity=event.mono)
        if limits.max_duration_s and event.mono - holder.started_mono >= limits.max_duration_s:
            return self._request_end(event, EndReason.MAX_DURATION)
        if limits.idle_timeout_s and event.mono - holder.last_activity >= limits.idle_timeout_s:
            return self._request_end(event, EndReason.IDLE_TIMEOUT)
        return []

    def _any_job(self, event: Input) -> list[Command]:
        assert isinstance(event, JobChanged)
        self.job = event.job
        if self.holder is not None:
            self.holder = replace(self.holder, last_activity=event.mono)
        return []

    def _draining_job(self, event: Input) -> list[Command]:
        self._any_job(event)
        holder = self.holder
        if self.job is not JobState.IDLE or holder is None or holder.end_reason is None:
            return []
        return self._finish(event, holder.end_reason)

    def _force_stop(self, event: Input) -> list[Command]:
        assert isinstance(event, ForceStop)
        # The manager's explicit override: power goes now, even mid-job.
        commands = self._finish(event, EndReason.FORCED_STOP)
        return [*commands, self._result(event.command_id, CommandAction.FORCE_STOP, "applied")]

    def _idle_force_stop(self, event: Input) -> list[Command]:
        assert isinstance(event, ForceStop)
        return [self._result(event.command_id, CommandAction.FORCE_STOP, "ignored", "no session")]

    def _lock(self, event: Input) -> list[Command]:
        assert isinstance(event, LockChanged)
        action = CommandAction.LOCK if event.locked else CommandAction.UNLOCK
        if event.locked == self.locked:
            return self._maybe_result(event, action, "ignored", "already in that state")
        self.locked = event.locked
        change = LockoutChanged(
            locked=event.locked, reason=event.reason, command_id=event.command_id
        )
        commands: list[Command] = [Record(EventType.LOCKOUT_CHANGED, change)]
        commands += self._maybe_result(event, action, "applied")
        commands += self._after_lock_change(event)
        return commands

    def _after_lock_change(self, event: Input) -> list[Command]:
        holder = self.holder
        if holder is None:
            return [Indicate(Signal.LOCKED if self.locked else Signal.READY)]
        if self.locked and holder.role is not Role.MAINTAINER and self.state is State.ACTIVE:
            return self._request_end(event, EndReason.LOCKOUT)
        return []

    def _revalidate(self, event: Input) -> list[Command]:
        assert isinstance(event, HolderRevalidated) and self.holder is not None
        if event.decision.uid != self.holder.uid or event.decision.reason not in _REVOKING:
            return []
        return self._request_end(event, EndReason.REVOKED)

    def _shutdown(self, event: Input) -> list[Command]:
        return self._finish(event, EndReason.SHUTDOWN)

    @staticmethod
    def _ignore(event: Input) -> list[Command]:
        return []

    def _result(
        self, command_id: UUID, action: CommandAction, outcome: str, detail: str = ""
    ) -> Record:
        result = CommandResult.model_validate(
            {"command_id": command_id, "action": action, "outcome": outcome, "detail": detail}
        )
        return Record(EventType.COMMAND_RESULT, result)

    def _maybe_result(
        self, event: LockChanged, action: CommandAction, outcome: str, detail: str = ""
    ) -> list[Command]:
        if event.command_id is None:
            return []
        return [self._result(event.command_id, action, outcome, detail)]


def _ignore(machine: SessionMachine, event: Input) -> list[Command]:
    return []


S = SessionMachine
TRANSITIONS: dict[tuple[State, type[Input]], Handler] = {
    (State.IDLE, BadgePresented): S._idle_badge,
    (State.IDLE, LogoutPressed): _ignore,
    (State.IDLE, Tick): _ignore,
    (State.IDLE, JobChanged): S._any_job,
    (State.IDLE, ForceStop): S._idle_force_stop,
    (State.IDLE, LockChanged): S._lock,
    (State.IDLE, Shutdown): _ignore,
    (State.ACTIVE, BadgePresented): S._active_badge,
    (State.ACTIVE, LogoutPressed): S._active_logout,
    (State.ACTIVE, Tick): S._active_tick,
    (State.ACTIVE, JobChanged): S._any_job,
    (State.ACTIVE, ForceStop): S._force_stop,
    (State.ACTIVE, LockChanged): S._lock,
    (State.ACTIVE, HolderRevalidated): S._revalidate,
    (State.ACTIVE, Shutdown): S._shutdown,
    (State.DRAINING, BadgePresented): S._draining_badge,
    (State.DRAINING, LogoutPressed): _ignore,
    (State.DRAINING, Tick): _ignore,
    (State.DRAINING, JobChanged): S._draining_job,
    (State.DRAINING, ForceStop): S._force_stop,
    (State.DRAINING, LockChanged): S._lock,
    (State.DRAINING, HolderRevalidated): _ignore,
    (State.DRAINING, Shutdown): S._shutdown,
}
