"""JSON Schema export of every payload model, for third-party devices and the docs.

The files in contracts/schema/ are written by `export` and compared with a fresh export by the
tests, so the published schemas cannot drift from the models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from contracts.codec import encode
from contracts.generated import drifted, write_all
from contracts.models import (
    DATA_BY_TYPE,
    AccessDenied,
    AccessEntry,
    AccessList,
    Ack,
    AclApplied,
    AgentStarted,
    Alarm,
    Alert,
    AlertCounter,
    AlertLevel,
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
    MachineState,
    OpenSession,
    PowerOffDeferred,
    Role,
    SessionEnded,
    SessionStarted,
    SignedEnvelope,
    Status,
    Telemetry,
    Window,
)
from contracts.signing import KeyPair, sign

SCHEMA_DIR = Path(__file__).parent / "schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:machinerie:schema:"
SUFFIX = ".schema.json"

# File name (the part of the `schema` tag between `machinerie.` and `/`) to model.
PAYLOADS: dict[str, type[BaseModel]] = {
    "event": Event,
    "ack": Ack,
    "command": Command,
    "acl": AccessList,
    "signed": SignedEnvelope,
    "status": Status,
    "telemetry": Telemetry,
    "alert": Alert,
}


def schema_tag(model: type[BaseModel]) -> str:
    """The `schema` value a payload model writes, such as `machinerie.event/1`."""
    return str(model.model_fields["schema_"].default)


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one payload, as published."""
    model = PAYLOADS[name]
    tag = schema_tag(model)
    # Validation mode: the schema says what the receiving decoder accepts, which is what both
    # ends must meet (serialization mode would also drop `format: date-time`).
    schema = model.model_json_schema(by_alias=True, mode="validation")
    # Decoders default a missing `schema` to version 1; the published contract demands it so
    # that a later version can tell old senders apart.
    schema["required"] = ["schema", *schema.get("required", [])]
    if model is Event:
        schema["allOf"] = _data_per_type(schema)
    examples = EXAMPLES[name]()
    schema["examples"] = [json.loads(encode(example)) for example in examples]
    return {
        "$schema": DIALECT,
        "$id": f"{ID_PREFIX}{name}:{tag.rsplit('/', 1)[1]}",
        **schema,
        "title": f"{model.__name__} ({tag})",
    }


def _data_per_type(schema: dict[str, Any]) -> list[dict[str, Any]]:
    # The model checks `data` against the model its `type` names; say the same in the schema
    # so a generic validator catches a mismatch too.
    rules = []
    for event_type, data_model in DATA_BY_TYPE.items():
        ref = data_model.__name__
        if ref not in schema["$defs"]:
            raise RuntimeError(f"no $defs entry {ref} for event type {event_type.value}")
        rules.append(
            {
                "if": {"properties": {"type": {"const": event_type.value}}, "required": ["type"]},
                "then": {"properties": {"data": {"$ref": f"#/$defs/{ref}"}}},
            }
        )
    return rules


def render() -> dict[str, str]:
    """File name to file text for every payload: sorted keys and a trailing newline."""
    return {
        f"{name}{SUFFIX}": json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n"
        for name in PAYLOADS
    }


def export(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write one `<name>.schema.json` per payload into `folder`; return the paths written."""
    return write_all(folder, render())


def drift(folder: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files in `folder` that are missing, stale or unknown."""
    return drifted(folder, render(), SUFFIX)


# ---------------------------------------------------------------- examples
# Fixed values, so the exported files and the docs are reproducible byte for byte.

SITE, DEVICE, MACHINE = "dony", "laser-1-pi", "laser-1"
BOOT_ID = UUID("6f1c2a8e-3b7d-4e0a-9c55-0d2f4b8a1e11")
SESSION_ID = UUID("1d7e4f3a-9b2c-4c8d-a0e1-5f6a7b8c9d01")
COMMAND_ID = UUID("c0de0000-4a1b-4c2d-8e3f-000000000042")
BADGE, MEMBER = "04A2246AB12C80", "m-0042"
T0 = datetime(2026, 11, 23, 13, 31, 0, 123000, tzinfo=UTC)
# Documented test vector for device authors; never a production key.
EXAMPLE_KEY = KeyPair(
    "example-2026",
    Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"machinerie example key").digest()),
)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def example_data() -> dict[EventType, EventData]:
    """One `data` object per event type."""
    return {
        EventType.SESSION_STARTED: SessionStarted(
            session_id=SESSION_ID, badge_uid=BADGE, member_id=MEMBER, role=Role.USER, started_at=T0
        ),
        EventType.SESSION_ENDED: SessionEnded(
            session_id=SESSION_ID,
            badge_uid=BADGE,
            member_id=MEMBER,
            started_at=T0,
            ended_at=_at(25),
            end_reason=EndReason.BADGE_OUT,
            end_requested_at=_at(20),
            busy_s=1260.4,
            energy_wh=512.0,
        ),
        EventType.ACCESS_DENIED: AccessDenied(
            badge_uid="5A00C3D2E1", member_id="m-0007", reason=DenyReason.NOT_QUALIFIED
        ),
        EventType.POWER_OFF_DEFERRED: PowerOffDeferred(session_id=SESSION_ID, reason="job_running"),
        EventType.LOCKOUT_CHANGED: LockoutChanged(
            locked=True, reason="lens cleaning", command_id=COMMAND_ID
        ),
        EventType.COMMAND_RESULT: CommandResult(
            command_id=COMMAND_ID, action=CommandAction.LOCK, outcome="applied"
        ),
        EventType.AGENT_STARTED: AgentStarted(version="0.1.0", acl_version=17),
        EventType.ACL_APPLIED: AclApplied(version=17, entries=2),
        EventType.ALARM: Alarm(
            code="lid_open", severity="warning", message="lid opened while the laser was firing"
        ),
        EventType.JOB_STARTED: JobStarted(
            job_id="000042", name="bracket_v3.dxf", started_at=_at(2), session_id=SESSION_ID
        ),
        EventType.JOB_ENDED: JobEnded(
            job_id="000042",
            name="bracket_v3.dxf",
            started_at=_at(2),
            ended_at=_at(19),
            outcome="completed",
            busy_s=802.5,
            energy_wh=420.7,
            session_id=SESSION_ID,
        ),
    }


def example_events() -> list[Event]:
    """One event per type, with consecutive sequence numbers from one boot."""
    return [
        Event(
            event_id=UUID(f"5e000000-0000-4000-8000-{seq:012d}"),
            site=SITE,
            device_id=DEVICE,
            machine_id=MACHINE,
            boot_id=BOOT_ID,
            seq=seq,
            # Each fact is reported when it happens: the session ends 25 minutes in.
            time=_at(0 if seq == 1 else 23 + seq),
            clock_synced=True,
            type=event_type,
            data=data,
        )
        for seq, (event_type, data) in enumerate(example_data().items(), start=1)
    ]


def example_access_list() -> AccessList:
    weekdays = Window(days=[1, 2, 3, 4, 5], start="08:00", end="22:00")
    return AccessList(
        site=SITE,
        machine_id=MACHINE,
        version=17,
        issued_at=T0,
        entries=[
            AccessEntry(
                badge_uid=BADGE,
                member_id=MEMBER,
                role=Role.USER,
                expires_at=datetime(2027, 6, 30, 22, 0, tzinfo=UTC),
                windows=[weekdays, Window(days=[6], start="10:00", end="24:00")],
            ),
            AccessEntry(badge_uid="5A00C3D2E1", member_id="m-0001", role=Role.MAINTAINER),
        ],
    )


def example_signed() -> SignedEnvelope:
    return sign(encode(example_access_list()), EXAMPLE_KEY)


def example_status() -> Status:
    return Status(
        site=SITE,
        device_id=DEVICE,
        machine_id=MACHINE,
        boot_id=BOOT_ID,
        online=True,
        time=_at(10),
        version="0.1.0",
        acl_version=17,
        locked=False,
        relay_on=True,
        session=OpenSession(
            session_id=SESSION_ID, member_id=MEMBER, badge_uid=BADGE, started_at=T0
        ),
        outbox_backlog=0,
        counters={"badge_reads": 31, "mqtt_reconnects": 1},
        firmware="Grbl 1.1h.20190830",
    )


def example_will() -> Status:
    """The last will: the same model, offline, with only what is known at connect time."""
    return Status(
        site=SITE, device_id=DEVICE, machine_id=MACHINE, boot_id=BOOT_ID, online=False, time=T0
    )


def example_telemetry() -> Telemetry:
    return Telemetry(
        site=SITE,
        device_id=DEVICE,
        machine_id=MACHINE,
        time=_at(11),
        state=MachineState.RUNNING,
        metrics={"power_w": 1840.5, "tube_current_ma": 18.2, "water_temp_c": 21.4},
    )


def example_alert() -> Alert:
    return Alert(
        alert_id=UUID("5b0c7a61-0b8e-4f43-9d51-6f7f7c1e2a10"),
        site=SITE,
        machine_id=MACHINE,
        plan="laser-tube",
        counter=AlertCounter.BUSY_HOURS,
        level=AlertLevel.WARNING,
        value=1803.5,
        threshold=1800.0,
        raised_at=_at(12),
        due_at=datetime(2027, 2, 14, 9, 0, tzinfo=UTC),
        message="Laser tube: 1803.5 busy hours of 2000; replace it before 2027-02-14",
    )


EXAMPLES: dict[str, Callable[[], Sequence[BaseModel]]] = {
    "event": example_events,
    "ack": lambda: [Ack(event_ids=[event.event_id for event in example_events()[:2]])],
    "command": lambda: [
        Command(
            command_id=COMMAND_ID,
            action=CommandAction.LOCK,
            reason="lens cleaning",
            issued_at=T0,
            issued_by="m-0001",
        )
    ],
    "acl": lambda: [example_access_list()],
    "signed": lambda: [example_signed()],
    "status": lambda: [example_status(), example_will()],
    "telemetry": lambda: [example_telemetry()],
    "alert": lambda: [example_alert()],
}
