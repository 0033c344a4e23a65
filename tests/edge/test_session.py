"""The session machine's rules, input by input, with the order of its commands."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts.models import DenyReason, EndReason, EventType, Role, SessionEnded, SessionStarted
from edge.access import Decision
from edge.errors import IllegalTransition
from edge.hw.ports import Signal
from edge.session import (
    CLEARED,
    BadgePresented,
    Command,
    ForceStop,
    HolderRevalidated,
    Indicate,
    JobChanged,
    JobState,
    Limits,
    LockChanged,
    LogoutPressed,
    Moment,
    PowerOff,
    PowerOn,
    Record,
    SessionMachine,
    Shutdown,
    State,
    Tick,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALICE = Decision("04A2246AB12C80", True, Role.USER, "alice")
BOB = Decision("0BADCAFE", True, Role.USER, "bob")
MAINT = Decision("AA55AA55", True, Role.MAINTAINER, "marc")
STRANGER = Decision("DEADBEEF", False, reason=DenyReason.UNKNOWN_BADGE)


def at(seconds: float) -> Moment:
    return Moment(at=T0 + timedelta(seconds=seconds), mono=1000.0 + seconds)


def machine(**limits: float) -> SessionMachine:
    counter = itertools.count(1)
    return SessionMachine(Limits(**limits), lambda: UUID(int=next(counter)))


def records(commands: list[Command]) -> list[EventType]:
    return [c.type for c in commands if isinstance(c, Record)]


def kinds(commands: list[Command]) -> list[str]:
    return [type(c).__name__ for c in commands]


def test_allowed_badge_records_start_before_power_on() -> None:
    m = machine()
    commands = m.handle(BadgePresented(decision=ALICE, **at(0)))
    assert kinds(commands)[:2] == ["Record", "PowerOn"]
    start = commands[0]
    assert isinstance(start, Record) and isinstance(start.data, SessionStarted)
    assert start.data.member_id == "alice"
    assert start.journal is not None and start.journal is not CLEARED
    assert m.state is State.ACTIVE


def test_badge_out_opens_relay_before_recording_end() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    commands = m.handle(BadgePresented(decision=ALICE, **at(90)))
    assert kinds(commands)[:2] == ["PowerOff", "Record"]
    ended = commands[1]
    assert isinstance(ended, Record) and isinstance(ended.data, SessionEnded)
    assert ended.data.end_reason is EndReason.BADGE_OUT
    assert ended.data.ended_at - ended.data.started_at == timedelta(seconds=90)
    assert ended.journal is CLEARED
    assert m.state is State.IDLE


@pytest.mark.parametrize(
    "reason",
    [
        DenyReason.UNKNOWN_BADGE,
        DenyReason.NOT_QUALIFIED,
        DenyReason.EXPIRED,
        DenyReason.OUTSIDE_HOURS,
    ],
)
def test_denied_badge_leaves_power_off(reason: DenyReason) -> None:
    m = machine()
    commands = m.handle(BadgePresented(decision=Decision("0102", False, reason=reason), **at(0)))
    assert records(commands) == [EventType.ACCESS_DENIED]
    assert not any(isinstance(c, PowerOn) for c in commands)
    assert Indicate(Signal.DENIED) in commands
    assert m.state is State.IDLE


def test_takeover_keeps_power_and_links_sessions() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    commands = m.handle(BadgePresented(decision=BOB, **at(60)))
    assert records(commands) == [EventType.SESSION_ENDED, EventType.SESSION_STARTED]
    assert not any(isinstance(c, PowerOn | PowerOff) for c in commands)
    ended, started = (c for c in commands if isinstance(c, Record))
    assert isinstance(ended.data, SessionEnded) and ended.data.end_reason is EndReason.TAKEOVER
    assert isinstance(started.data, SessionStarted)
    assert started.data.takeover_of == ended.data.session_id
    assert m.holder is not None and m.holder.member_id == "bob"


def test_denied_badge_during_session_does_not_end_it() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    commands = m.handle(BadgePresented(decision=STRANGER, **at(5)))
    assert records(commands) == [EventType.ACCESS_DENIED]
    assert m.state is State.ACTIVE


def test_idle_timeout_ends_session() -> None:
    m = machine(idle_timeout_s=600)
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    assert m.handle(Tick(**at(599))) == []
    commands = m.handle(Tick(**at(600)))
    assert kinds(commands)[:2] == ["PowerOff", "Record"]
    ended = commands[1]
    assert isinstance(ended, Record) and isinstance(ended.data, SessionEnded)
    assert ended.data.end_reason is EndReason.IDLE_TIMEOUT


def test_running_job_counts_as_activity() -> None:
    m = machine(idle_timeout_s=600)
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    m.handle(JobChanged(job=JobState.RUNNING, **at(10)))
    assert m.handle(Tick(**at(5000))) == []
    m.handle(JobChanged(job=JobState.IDLE, **at(5000)))
    assert m.handle(Tick(**at(5599))) == []
    assert records(m.handle(Tick(**at(5600)))) == [EventType.SESSION_ENDED]


def test_max_duration_ends_session() -> None:
    m = machine(max_duration_s=3600)
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    ended = m.handle(Tick(**at(3600)))[1]
    assert isinstance(ended, Record) and isinstance(ended.data, SessionEnded)
    assert ended.data.end_reason is EndReason.MAX_DURATION


def test_badge_out_during_job_defers_power_off_until_job_ends() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    m.handle(JobChanged(job=JobState.RUNNING, **at(10)))
    commands = m.handle(BadgePresented(decision=ALICE, **at(100)))
    assert records(commands) == [EventType.POWER_OFF_DEFERRED]
    assert not any(isinstance(c, PowerOff) for c in commands)
    assert m.state is State.DRAINING
    commands = m.handle(JobChanged(job=JobState.IDLE, **at(400)))
    assert kinds(commands)[:2] == ["PowerOff", "Record"]
    ended = commands[1]
    assert isinstance(ended, Record) and isinstance(ended.data, SessionEnded)
    assert ended.data.end_reason is EndReason.BADGE_OUT
    assert ended.data.end_requested_at == T0 + timedelta(seconds=100)
    assert ended.data.ended_at == T0 + timedelta(seconds=400)


def test_unknown_job_state_also_defers() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    m.handle(JobChanged(job=JobState.UNKNOWN, **at(1)))
    commands = m.handle(LogoutPressed(**at(2)))
    deferred = commands[0]
    assert isinstance(deferred, Record) and deferred.type is EventType.POWER_OFF_DEFERRED
    assert deferred.data.model_dump()["reason"] == "job_state_unknown"


def test_holder_back_while_draining_resumes_session() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    m.handle(JobChanged(job=JobState.RUNNING, **at(1)))
    m.handle(BadgePresented(decision=ALICE, **at(2)))
    assert m.handle(BadgePresented(decision=ALICE, **at(3))) == [Indicate(Signal.IN_SESSION)]
    assert m.state is State.ACTIVE
    assert m.handle(JobChanged(job=JobState.IDLE, **at(4))) == []


def test_force_stop_cuts_power_even_mid_job() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    m.handle(JobChanged(job=JobState.RUNNING, **at(1)))
    commands = m.handle(ForceStop(command_id=UUID(int=99), **at(2)))
    assert kinds(commands)[0] == "PowerOff"
    assert records(commands) == [EventType.SESSION_ENDED, EventType.COMMAND_RESULT]


def test_force_stop_without_session_is_reported_ignored() -> None:
    commands = machine().handle(ForceStop(command_id=UUID(int=99), **at(0)))
    result = commands[0]
    assert isinstance(result, Record) and result.data.model_dump()["outcome"] == "ignored"


def test_lockout_ends_user_session_but_keeps_maintainer() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    commands = m.handle(
        LockChanged(locked=True, reason="laser tube", command_id=UUID(int=7), **at(1))
    )
    assert records(commands) == [
        EventType.LOCKOUT_CHANGED,
        EventType.COMMAND_RESULT,
        EventType.SESSION_ENDED,
    ]
    assert any(isinstance(c, PowerOff) for c in commands)
    m.handle(BadgePresented(decision=MAINT, **at(2)))
    commands = m.handle(LockChanged(locked=True, reason="again", command_id=UUID(int=8), **at(3)))
    assert records(commands) == [EventType.COMMAND_RESULT]
    assert m.state is State.ACTIVE


def test_revoked_holder_session_ends_but_closing_window_does_not() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    late = Decision(ALICE.uid, False, Role.USER, "alice", DenyReason.OUTSIDE_HOURS)
    assert m.handle(HolderRevalidated(decision=late, **at(1))) == []
    revoked = Decision(ALICE.uid, False, Role.NONE, "alice", DenyReason.NOT_QUALIFIED)
    ended = m.handle(HolderRevalidated(decision=revoked, **at(2)))[1]
    assert isinstance(ended, Record) and isinstance(ended.data, SessionEnded)
    assert ended.data.end_reason is EndReason.REVOKED


def test_shutdown_closes_session_cleanly() -> None:
    m = machine()
    m.handle(BadgePresented(decision=ALICE, **at(0)))
    commands = m.handle(Shutdown(**at(5)))
    assert kinds(commands)[:2] == ["PowerOff", "Record"]


def test_illegal_transition_raises() -> None:
    with pytest.raises(IllegalTransition):
        machine().handle(HolderRevalidated(decision=ALICE, **at(0)))
