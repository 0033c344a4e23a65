"""Payload models through the codec: exact wire form, and readable refusal of anything else.

Property tests check that every valid event survives the round trip and that no input makes a
decoder raise anything but InvalidPayload.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.codec import (
    MAX_PAYLOAD,
    MAX_SIGNED_PAYLOAD,
    decode,
    decode_access_list,
    decode_ack,
    decode_command,
    decode_envelope,
    decode_event,
    decode_status,
    decode_telemetry,
    encode,
)
from contracts.errors import ContractError, InvalidPayload
from contracts.models import (
    DATA_BY_TYPE,
    AccessDenied,
    AccessEntry,
    AccessList,
    Ack,
    AclApplied,
    AgentStarted,
    Alarm,
    Command,
    CommandAction,
    CommandResult,
    DenyReason,
    EndReason,
    Event,
    EventData,
    EventType,
    JobEnded,
    JobStarted,
    LockoutChanged,
    PowerOffDeferred,
    Role,
    SessionEnded,
    SessionStarted,
    Status,
    Telemetry,
    Window,
)
from contracts.schema import (
    example_access_list,
    example_events,
    example_status,
    example_telemetry,
    example_will,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
DECODERS = [
    decode_event,
    decode_ack,
    decode_command,
    decode_status,
    decode_telemetry,
    decode_envelope,
    decode_access_list,
]


def wire(model: BaseModel) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(encode(model))
    return parsed


def event_dict(**changes: Any) -> dict[str, Any]:
    """A valid `acl_applied` event as the JSON object a device sends, with changes."""
    return {
        "schema": "machinerie.event/1",
        "event_id": str(uuid4()),
        "site": "dony",
        "device_id": "laser-1-pi",
        "machine_id": "laser-1",
        "boot_id": str(uuid4()),
        "seq": 1,
        "time": "2026-11-23T13:31:00.123Z",
        "clock_synced": True,
        "type": "acl_applied",
        "data": {"version": 3, "entries": 2},
        **changes,
    }


def rejected(model: type[BaseModel], payload: object) -> str:
    """Decode `payload` (an object, dumped to JSON) expecting a refusal; return the reason."""
    with pytest.raises(InvalidPayload) as caught:
        decode(model, json.dumps(payload).encode())
    return str(caught.value)


# ---------------------------------------------------------------- round trips and wire form


@pytest.mark.parametrize("event", example_events(), ids=lambda event: event.type.value)
def test_every_event_type_round_trips(event: Event) -> None:
    data = encode(event)
    assert decode_event(data) == event
    assert encode(decode_event(data)) == data


def test_every_event_type_has_an_example() -> None:
    assert {event.type for event in example_events()} == set(EventType)
    assert set(DATA_BY_TYPE) == set(EventType)


def test_wire_form_of_an_event() -> None:
    event = example_events()[1]  # session_ended
    sent = wire(event)
    assert sent["schema"] == "machinerie.event/1"
    assert sent["time"] == "2026-11-23T13:56:00.123Z"
    assert sent["data"]["started_at"] == "2026-11-23T13:31:00.123Z"
    assert sent["data"]["ended_at"] == "2026-11-23T13:56:00.123Z"
    assert sent["data"]["end_reason"] == "badge_out"
    assert sent["event_id"] == str(event.event_id)
    assert list(sent) == [
        "schema",
        "event_id",
        "site",
        "device_id",
        "machine_id",
        "boot_id",
        "seq",
        "time",
        "clock_synced",
        "type",
        "data",
    ]


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("2026-11-23T13:31:00.123Z", "2026-11-23T13:31:00.123Z"),
        ("2026-11-23T13:31:00Z", "2026-11-23T13:31:00.000Z"),
        ("2026-11-23T14:31:00.5+01:00", "2026-11-23T13:31:00.500Z"),  # normalised to UTC
        ("2026-03-29T03:30:00+02:00", "2026-03-29T01:30:00.000Z"),
        ("2026-11-23T13:31:00.123999Z", "2026-11-23T13:31:00.123Z"),  # milliseconds, truncated
    ],
)
def test_timestamps_are_written_in_utc_with_milliseconds(sent: str, written: str) -> None:
    event = decode_event(json.dumps(event_dict(time=sent)).encode())
    assert event.time.tzinfo == UTC
    assert wire(event)["time"] == written


def test_naive_timestamps_are_rejected() -> None:
    # A device without a time zone cannot say when something happened.
    assert "time:" in rejected(Event, event_dict(time="2026-11-23T13:31:00"))


def test_status_will_telemetry_and_acl_round_trip() -> None:
    for model in [example_status(), example_will(), example_telemetry(), example_access_list()]:
        assert decode(type(model), encode(model), MAX_SIGNED_PAYLOAD) == model


def test_status_carries_the_controllers_firmware_and_older_statuses_still_decode() -> None:
    status = example_status()
    assert status.firmware is not None
    assert decode_status(encode(status)).firmware == status.firmware
    # What an edge built before the field existed sends: no `firmware` key at all.
    older = {key: value for key, value in wire(status).items() if key != "firmware"}
    assert decode_status(json.dumps(older).encode()).firmware is None
    assert decode_status(json.dumps(wire(status) | {"firmware": None}).encode()).firmware is None
    assert "firmware" in rejected(Status, wire(status) | {"firmware": "M" * 121})


def test_command_round_trips_and_refuses_unknown_actions() -> None:
    issued = datetime(2026, 11, 23, 13, 31, 0, 123000, tzinfo=UTC)
    command = Command(command_id=uuid4(), action=CommandAction.FORCE_STOP, issued_at=issued)
    assert decode_command(encode(command)) == command
    payload = wire(command) | {"action": "self_destruct"}
    assert "action:" in rejected(Command, payload)


def test_ack_holds_one_to_a_thousand_ids() -> None:
    ack = Ack(event_ids=[uuid4(), uuid4()])
    assert decode_ack(encode(ack)) == ack
    assert "event_ids" in rejected(Ack, {"schema": "machinerie.ack/1", "event_ids": []})
    many = [str(uuid4()) for _ in range(1001)]
    assert "event_ids" in rejected(Ack, {"schema": "machinerie.ack/1", "event_ids": many})


def test_wrong_schema_version_is_rejected() -> None:
    assert "schema:" in rejected(Event, event_dict(schema="machinerie.event/2"))


def test_wire_enums_are_pinned() -> None:
    # Changing one of these strings breaks deployed devices: it needs a new schema version.
    assert [reason.value for reason in EndReason] == [
        "badge_out",
        "logout_button",
        "takeover",
        "idle_timeout",
        "max_duration",
        "forced_stop",
        "revoked",
        "lockout",
        "shutdown",
        "unclean_shutdown",
    ]
    assert [reason.value for reason in DenyReason] == [
        "unknown_badge",
        "not_qualified",
        "expired",
        "outside_hours",
        "locked_for_maintenance",
        "no_access_list",
    ]
    assert [action.value for action in CommandAction] == ["lock", "unlock", "force_stop"]
    assert [role.value for role in Role] == ["none", "user", "maintainer"]


# ---------------------------------------------------------------- refusals with a reason


def test_data_not_matching_the_type_is_rejected_with_the_field_at_fault() -> None:
    reason = rejected(Event, event_dict(type="acl_applied", data={"version": 3}))
    assert reason == "invalid Event: data.entries: Field required"


def test_data_of_another_type_is_rejected() -> None:
    data = {"locked": True, "reason": "cleaning"}  # a valid lockout_changed
    reason = rejected(Event, event_dict(type="acl_applied", data=data))
    assert "data.version: Field required" in reason
    assert "data.locked: Extra inputs are not permitted" in reason


def test_data_model_of_another_type_is_rejected_in_python_too() -> None:
    valid = decode_event(json.dumps(event_dict()).encode())
    fields = valid.model_dump(exclude={"type", "data"})
    with pytest.raises(ValidationError, match="data does not match event type lockout_changed"):
        Event(**fields, type=EventType.LOCKOUT_CHANGED, data=AclApplied(version=1, entries=0))


def test_unknown_event_type_is_named_first() -> None:
    reason = rejected(Event, event_dict(type="coffee_made"))
    assert reason.startswith("invalid Event: type: Input should be 'session_started'")


@pytest.mark.parametrize(
    ("model", "payload", "where"),
    [
        (Event, event_dict(colour="red"), "colour"),
        (Event, event_dict(data={"version": 3, "entries": 2, "colour": "red"}), "data.colour"),
        (Telemetry, {**wire(example_telemetry()), "colour": "red"}, "colour"),
        (Status, {**wire(example_status()), "uptime": 3}, "uptime"),
    ],
)
def test_unknown_fields_are_rejected(model: type[BaseModel], payload: object, where: str) -> None:
    assert f"{where}: Extra inputs are not permitted" in rejected(model, payload)


def test_unknown_fields_are_rejected_deep_in_an_access_list() -> None:
    payload = wire(example_access_list())
    payload["entries"][0]["windows"][0]["holiday"] = True
    assert "entries.0.windows.0.holiday: Extra inputs" in rejected(AccessList, payload)


def test_oversized_payloads_are_rejected_before_parsing() -> None:
    padded = json.dumps(event_dict(data={"version": 3, "entries": 2})).encode()
    oversized = padded[:-1] + b" " * (MAX_PAYLOAD - len(padded) + 1) + b"}"
    assert len(oversized) == MAX_PAYLOAD + 1
    with pytest.raises(InvalidPayload, match=f"exceeds {MAX_PAYLOAD}"):
        decode_event(oversized)
    # The exact limit is still accepted: only the size was wrong.
    assert decode_event(oversized[:-2] + b"}").seq == 1


def test_access_lists_have_a_larger_limit_of_their_own() -> None:
    big = encode(example_access_list()) + b" " * MAX_PAYLOAD
    assert decode_access_list(big).version == 17
    with pytest.raises(InvalidPayload, match="exceeds"):
        decode_access_list(b" " * (MAX_SIGNED_PAYLOAD + 1))
    with pytest.raises(InvalidPayload, match="exceeds"):
        decode_envelope(b" " * (MAX_SIGNED_PAYLOAD + 1))


@pytest.mark.parametrize("uid", ["04A2246AB12C80", "5A00C3D2E1", "00", "FF" * 16])
def test_upper_case_hex_uids_are_accepted(uid: str) -> None:
    assert AccessDenied(badge_uid=uid, reason=DenyReason.UNKNOWN_BADGE).badge_uid == uid


@pytest.mark.parametrize(
    "uid", ["04a2246ab12c80", "04A2246AB12C8", "", "0x04A2", "04:A2:24", "04A2 246A", "FF" * 17]
)
def test_other_uids_are_rejected(uid: str) -> None:
    data = {"badge_uid": uid, "reason": "unknown_badge"}
    assert "data.badge_uid: String should match pattern" in rejected(
        Event, event_dict(type="access_denied", data=data)
    )


def test_ids_follow_the_topic_rules() -> None:
    assert "device_id: String should match" in rejected(Event, event_dict(device_id="Laser 1"))
    assert "seq: Input should be greater than or equal to 1" in rejected(Event, event_dict(seq=0))


# ---------------------------------------------------------------- access lists and windows


def window(days: list[int], start: str, end: str) -> Window:
    return Window(days=days, start=start, end=end)


@pytest.mark.parametrize(
    ("days", "start", "end"),
    [
        ([0], "08:00", "18:00"),
        ([8], "08:00", "18:00"),
        ([], "08:00", "18:00"),
        ([1], "18:00", "08:00"),  # crosses midnight: split it in two
        ([1], "08:00", "08:00"),
        ([1], "24:00", "24:00"),
        ([1], "08:00", "24:01"),
        ([1], "08:00", "25:00"),
        ([1], "8:00", "18:00"),
        ([1], "08:60", "18:00"),
        ([1], "08:00:00", "18:00"),
    ],
)
def test_bad_windows_are_rejected(days: list[int], start: str, end: str) -> None:
    with pytest.raises(ValidationError):
        window(days, start, end)


def test_a_window_can_run_to_midnight() -> None:
    late = window([6], "22:00", "24:00")
    assert late.contains(datetime(2026, 11, 28, 23, 59, 59, tzinfo=BRUSSELS))
    assert late.contains(datetime(2026, 11, 28, 22, 0, tzinfo=BRUSSELS))
    assert not late.contains(datetime(2026, 11, 28, 21, 59, 59, tzinfo=BRUSSELS))
    assert not late.contains(datetime(2026, 11, 29, 0, 0, tzinfo=BRUSSELS))  # Sunday


def local(utc: datetime) -> datetime:
    return utc.astimezone(BRUSSELS)


def test_window_follows_the_wall_clock_across_the_spring_change() -> None:
    # Brussels moves from UTC+1 to UTC+2 on Sunday 29 March 2026: 08:00 local is 07:00 UTC
    # on the Friday before and 06:00 UTC on the Monday after.
    weekdays = window([1, 2, 3, 4, 5], "08:00", "18:00")
    friday, monday = datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    assert not weekdays.contains(local(friday + timedelta(hours=6, minutes=30)))
    assert weekdays.contains(local(friday + timedelta(hours=7, minutes=30)))
    assert weekdays.contains(local(monday + timedelta(hours=6, minutes=30)))
    assert not weekdays.contains(local(monday + timedelta(hours=16, minutes=30)))  # 18:30


def test_window_in_the_skipped_hour_never_matches() -> None:
    # 02:00-03:00 does not exist on 29 March 2026 in Brussels: 01:00 UTC is already 03:00.
    skipped = window([7], "02:00", "03:00")
    night = datetime(2026, 3, 29, tzinfo=UTC)
    seen = [skipped.contains(local(night + timedelta(minutes=m))) for m in range(0, 180, 5)]
    assert not any(seen)


def test_window_in_the_repeated_hour_matches_twice() -> None:
    # On 25 October 2026 the wall clock shows 02:00-03:00 twice (00:00-01:00 and 01:00-02:00 UTC).
    repeated = window([7], "02:00", "03:00")
    night = datetime(2026, 10, 25, tzinfo=UTC)
    matching = [
        m for m in range(0, 180, 5) if repeated.contains(local(night + timedelta(minutes=m)))
    ]
    assert matching == list(range(0, 120, 5))


def entry(uid: str, member: str = "m-1") -> AccessEntry:
    return AccessEntry(badge_uid=uid, member_id=member, role=Role.USER)


def test_duplicate_badges_are_rejected() -> None:
    payload = wire(example_access_list())
    payload["entries"].append(payload["entries"][0] | {"member_id": "m-9999"})
    assert "a badge appears twice" in rejected(AccessList, payload)


def test_unknown_time_zones_are_rejected() -> None:
    for zone in ["Europe/Bruxelles", "../../etc/passwd", ""]:
        payload = wire(example_access_list()) | {"timezone": zone}
        assert "timezone:" in rejected(AccessList, payload)


def test_access_list_defaults_to_brussels_time() -> None:
    acl = AccessList(
        site="dony", machine_id="laser-1", version=1, issued_at=datetime.now(UTC), entries=[]
    )
    assert acl.timezone == "Europe/Brussels"
    assert wire(acl)["timezone"] == "Europe/Brussels"


# ---------------------------------------------------------------- properties

uids = st.binary(min_size=1, max_size=16).map(lambda raw: raw.hex().upper())
idents = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)
members = st.text(min_size=1, max_size=64)
texts = st.text(max_size=500)
# Whole milliseconds: the wire form keeps no more, so only those survive the trip unchanged.
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.timezones(),
).map(lambda value: value.replace(microsecond=value.microsecond // 1000 * 1000))
maybe_uuids = st.none() | st.uuids()
seconds = st.floats(min_value=0, max_value=1e9, allow_nan=False)

DATA_STRATEGIES: dict[EventType, st.SearchStrategy[EventData]] = {
    EventType.SESSION_STARTED: st.builds(
        SessionStarted,
        session_id=st.uuids(),
        badge_uid=uids,
        member_id=members,
        role=st.sampled_from(Role),
        started_at=times,
        takeover_of=maybe_uuids,
    ),
    EventType.SESSION_ENDED: st.builds(
        SessionEnded,
        session_id=st.uuids(),
        badge_uid=uids,
        member_id=members,
        started_at=times,
        ended_at=times,
        end_reason=st.sampled_from(EndReason),
        end_requested_at=st.none() | times,
        unclean=st.booleans(),
        busy_s=st.none() | seconds,
        energy_wh=st.none() | seconds,
    ),
    EventType.ACCESS_DENIED: st.builds(
        AccessDenied,
        badge_uid=uids,
        member_id=st.none() | members,
        reason=st.sampled_from(DenyReason),
    ),
    EventType.POWER_OFF_DEFERRED: st.builds(
        PowerOffDeferred,
        session_id=st.uuids(),
        reason=st.sampled_from(["job_running", "job_state_unknown"]),
    ),
    EventType.LOCKOUT_CHANGED: st.builds(
        LockoutChanged, locked=st.booleans(), reason=texts, command_id=maybe_uuids
    ),
    EventType.COMMAND_RESULT: st.builds(
        CommandResult,
        command_id=st.uuids(),
        action=st.sampled_from(CommandAction),
        outcome=st.sampled_from(["applied", "ignored"]),
        detail=texts,
    ),
    EventType.AGENT_STARTED: st.builds(
        AgentStarted,
        version=st.text(max_size=40),
        acl_version=st.none() | st.integers(min_value=1),
        recovered_session_id=maybe_uuids,
    ),
    EventType.ACL_APPLIED: st.builds(
        AclApplied, version=st.integers(min_value=1), entries=st.integers(min_value=0)
    ),
    EventType.ALARM: st.builds(
        Alarm,
        code=st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True),
        severity=st.sampled_from(["info", "warning", "critical"]),
        message=texts,
        active=st.booleans(),
    ),
    EventType.JOB_STARTED: st.builds(
        JobStarted,
        job_id=st.text(min_size=1, max_size=100),
        name=st.text(max_size=200),
        started_at=times,
        session_id=maybe_uuids,
    ),
    EventType.JOB_ENDED: st.builds(
        JobEnded,
        job_id=st.text(min_size=1, max_size=100),
        name=st.text(max_size=200),
        started_at=times,
        ended_at=times,
        outcome=st.sampled_from(["completed", "cancelled", "error", "interrupted"]),
        busy_s=seconds,
        energy_wh=st.none() | seconds,
        session_id=maybe_uuids,
    ),
}


@st.composite
def events(draw: st.DrawFn) -> Event:
    event_type = draw(st.sampled_from(EventType))
    return Event(
        event_id=draw(st.uuids()),
        site=draw(idents),
        device_id=draw(idents),
        machine_id=draw(idents),
        boot_id=draw(st.uuids()),
        seq=draw(st.integers(min_value=1, max_value=2**63 - 1)),
        time=draw(times),
        clock_synced=draw(st.booleans()),
        type=event_type,
        data=draw(DATA_STRATEGIES[event_type]),
    )


def test_strategies_cover_every_event_type() -> None:
    assert set(DATA_STRATEGIES) == set(EventType)


@given(events())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_valid_event_round_trips(event: Event) -> None:
    data = encode(event)
    assert decode_event(data) == event
    assert encode(decode_event(data)) == data


def fails_cleanly(data: bytes) -> None:
    for decoder in DECODERS:
        with contextlib.suppress(InvalidPayload):
            decoder(data)


@given(st.binary(max_size=4096))
def test_random_bytes_only_ever_raise_invalid_payload(data: bytes) -> None:
    fails_cleanly(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


@given(json_values)
def test_random_json_only_ever_raises_invalid_payload(value: object) -> None:
    fails_cleanly(json.dumps(value).encode())


@given(events(), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_a_mutated_event_decodes_or_raises_invalid_payload(
    event: Event, data: st.DataObject
) -> None:
    payload = wire(event)
    target = data.draw(st.sampled_from([payload, payload["data"]]))
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=10))
    target[key] = data.draw(json_values)
    try:
        decoded = decode_event(json.dumps(payload).encode())
    except InvalidPayload:
        return
    # Anything accepted re-encodes to something accepted: the hub never stores unsendable data.
    assert decode_event(encode(decoded)) == decoded


def test_contract_errors_share_one_family() -> None:
    with pytest.raises(ContractError):
        decode_event(b"{")
    assert issubclass(InvalidPayload, ValueError)


def test_event_ids_are_uuids() -> None:
    assert "event_id:" in rejected(Event, event_dict(event_id="42"))
    assert isinstance(decode_event(json.dumps(event_dict()).encode()).event_id, UUID)


@pytest.mark.parametrize("measure", ["Infinity", "NaN", "-1"])
def test_measured_machine_time_must_be_finite_and_positive(measure: str) -> None:
    [ended] = [e for e in example_events() if e.type is EventType.JOB_ENDED]
    raw = encode(ended).replace(b'"busy_s":802.5', b'"busy_s":' + measure.encode())
    with pytest.raises(InvalidPayload):
        decode_event(raw)
