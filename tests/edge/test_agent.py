"""Badge to relay to events on a real Mosquitto: the rules a workshop sees at the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.models import AccessDenied, CommandAction, EndReason, EventType, SessionEnded
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto
from tests.edge.rig import (
    ALICE,
    BOB,
    CAROL,
    DAN,
    EVE,
    JOB,
    LOGOUT,
    MARC,
    RELAY,
    UNKNOWN,
    Rig,
    entries,
    rig,
)


def end_reasons(r: Rig, count: int = 1) -> list[EndReason]:
    ended = r.wait_event(EventType.SESSION_ENDED, count)
    return [e.data.end_reason for e in ended if isinstance(e.data, SessionEnded)]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_allowed_badge_closes_relay_and_reports_session(
    tmp_path: Path, mosquitto: Mosquitto, protocol: str
) -> None:
    with rig(tmp_path, mosquitto, protocol=protocol) as r:
        r.publish_acl()
        assert not r.relay_on()
        r.badge(ALICE)
        r.wait_relay(True)
        started = r.wait_event(EventType.SESSION_STARTED)[0]
        assert started.data.model_dump()["member_id"] == "alice"
        r.badge(ALICE)
        r.wait_relay(False)
        assert end_reasons(r) == [EndReason.BADGE_OUT]
        assert wait_until(lambda: r.agent is not None and r.agent.parts.outbox.backlog() == 0, 10)


def test_relay_is_off_at_boot_and_never_glitches(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        states = [s.state for s in r.factory.pin(RELAY).states]
        assert not any(states), f"relay pin went high before any badge: {states}"


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        (UNKNOWN, "unknown_badge"),
        (DAN, "not_qualified"),
        (CAROL, "expired"),
        (EVE, "outside_hours"),
    ],
)
def test_denied_badges_leave_relay_off_and_are_reported(
    tmp_path: Path, mosquitto: Mosquitto, uid: str, reason: str
) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.badge(uid)
        denied = r.wait_event(EventType.ACCESS_DENIED)[0]
        assert isinstance(denied.data, AccessDenied)
        assert denied.data.reason.value == reason
        assert denied.data.badge_uid == uid
        assert not any(s.state for s in r.factory.pin(RELAY).states)


def test_takeover_by_another_qualified_badge(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        r.badge(BOB)
        started = r.wait_event(EventType.SESSION_STARTED, 2)
        assert end_reasons(r) == [EndReason.TAKEOVER]
        assert (
            started[1].data.model_dump()["takeover_of"]
            == started[0].data.model_dump()["session_id"]
        )
        assert r.relay_on()
        # One rising edge only: the relay stayed closed across the takeover.
        assert [s.state for s in r.factory.pin(RELAY).states].count(True) == 1


def test_idle_timeout_ends_session(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto, idle_timeout_s=1.0) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        r.wait_relay(False, timeout=5)
        r.wait_event(EventType.SESSION_ENDED)
        assert end_reasons(r) == [EndReason.IDLE_TIMEOUT]


def test_maximum_duration_ends_session(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto, max_duration_s=1.0) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        r.wait_relay(False, timeout=5)
        r.wait_event(EventType.SESSION_ENDED)
        assert end_reasons(r) == [EndReason.MAX_DURATION]


def test_forced_stop_from_the_hub(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        r.factory.pin(JOB).drive_high()  # even mid-job: a forced stop is the manager's override
        r.command(CommandAction.FORCE_STOP, "fire drill")
        r.wait_relay(False)
        result = r.wait_event(EventType.COMMAND_RESULT)[0]
        assert result.data.model_dump()["outcome"] == "applied"
        assert end_reasons(r) == [EndReason.FORCED_STOP]


def test_lockout_ends_user_session_and_admits_only_maintainers(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        r.command(CommandAction.LOCK, "laser tube hours")
        r.wait_relay(False)
        assert end_reasons(r) == [EndReason.LOCKOUT]
        r.badge(BOB)
        denied = r.wait_event(EventType.ACCESS_DENIED)[0]
        assert denied.data.model_dump()["reason"] == "locked_for_maintenance"
        r.badge(MARC)
        r.wait_relay(True)
        r.badge(MARC)
        r.wait_relay(False)
        r.command(CommandAction.UNLOCK, "tube replaced")
        r.wait_event(EventType.LOCKOUT_CHANGED, 2)
        r.badge(BOB)
        r.wait_relay(True)


def test_lockout_survives_a_restart(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.command(CommandAction.LOCK, "spindle bearings")
        r.wait_event(EventType.LOCKOUT_CHANGED)
        r.stop_agent()
        r.start_agent()
        r.badge(ALICE)
        denied = r.wait_event(EventType.ACCESS_DENIED)[0]
        assert denied.data.model_dump()["reason"] == "locked_for_maintenance"


def test_revocation_cuts_power_unless_a_job_runs(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl(1)
        r.badge(ALICE)
        r.wait_relay(True)
        r.factory.pin(JOB).drive_high()
        without_alice = [e for e in entries() if e.member_id != "alice"]
        r.publish_acl(2, without_alice)
        r.wait_event(EventType.POWER_OFF_DEFERRED)
        assert r.relay_on(), "power must stay on while the job runs"
        r.factory.pin(JOB).drive_low()
        r.wait_relay(False)
        assert end_reasons(r) == [EndReason.REVOKED]


def test_logout_button_ends_session(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl()
        r.badge(ALICE)
        r.wait_relay(True)
        button = r.factory.pin(LOGOUT)
        button.drive_low()  # the button pulls the line low against the internal pull-up
        r.wait_relay(False)
        button.drive_high()
        assert end_reasons(r) == [EndReason.LOGOUT_BUTTON]


def test_works_offline_from_the_access_list_kept_on_disk(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with rig(tmp_path, mosquitto) as r:
        r.publish_acl(3)
        r.stop_agent()
        mosquitto.stop()
        agent = r.start_agent()
        assert r.acl_version() == 3
        r.badge(ALICE)
        r.wait_relay(True)
        assert agent.parts.outbox.backlog() >= 1
        mosquitto.start()
        r.wait_event(EventType.SESSION_STARTED)
