"""Versioned payload models. Every payload carries a `schema` string `machinerie.<name>/<n>`.

Models forbid unknown fields: a device that sends what the hub does not understand gets a clear
rejection instead of silently lost data. A new field means a new schema version.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Always aware, stored in UTC and written as `2026-11-23T13:31:00.123Z`.
UtcTime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), PlainSerializer(_iso_z, return_type=str)
]
# A measured quantity: finite (JSON has no infinity, Python's parser would still take one).
Measure = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# Upper-case hex of the whole UID: 4, 7 or 10 bytes for ISO 14443-A, 5 for EM4100 fobs.
BadgeUid = Annotated[str, Field(pattern=r"^(?:[0-9A-F]{2}){1,16}$", examples=["04A2246AB12C80"])]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["laser-1"])]
MemberId = Annotated[str, Field(min_length=1, max_length=64)]
ShortText = Annotated[str, Field(max_length=500)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- events (device -> hub)


class EndReason(StrEnum):
    BADGE_OUT = "badge_out"
    LOGOUT_BUTTON = "logout_button"
    TAKEOVER = "takeover"
    IDLE_TIMEOUT = "idle_timeout"
    MAX_DURATION = "max_duration"
    FORCED_STOP = "forced_stop"
    REVOKED = "revoked"
    LOCKOUT = "lockout"
    SHUTDOWN = "shutdown"
    UNCLEAN_SHUTDOWN = "unclean_shutdown"


class DenyReason(StrEnum):
    UNKNOWN_BADGE = "unknown_badge"
    NOT_QUALIFIED = "not_qualified"
    EXPIRED = "expired"
    OUTSIDE_HOURS = "outside_hours"
    LOCKED = "locked_for_maintenance"
    NO_ACCESS_LIST = "no_access_list"


class Role(StrEnum):
    """What a badge may do on one machine."""

    NONE = "none"  # known to the hub, not qualified on this machine
    USER = "user"
    MAINTAINER = "maintainer"  # may use the machine during a maintenance lockout


class SessionStarted(Model):
    session_id: UUID
    badge_uid: BadgeUid
    member_id: MemberId
    role: Role
    started_at: UtcTime
    takeover_of: UUID | None = None


class SessionEnded(Model):
    session_id: UUID
    badge_uid: BadgeUid
    member_id: MemberId
    started_at: UtcTime
    ended_at: UtcTime
    end_reason: EndReason
    # When the end was asked for (badge out, lockout...) if power stayed on for a running job.
    end_requested_at: UtcTime | None = None
    # True when the agent died and the end time is the session's last heartbeat on disk.
    unclean: bool = False
    # What the machine's controller and power meter measured during the session, when the
    # device has a firmware bridge: spindle on, laser firing or printing; energy drawn.
    busy_s: Measure | None = None
    energy_wh: Measure | None = None


class AccessDenied(Model):
    badge_uid: BadgeUid
    member_id: MemberId | None = None
    reason: DenyReason


class PowerOffDeferred(Model):
    session_id: UUID
    reason: Literal["job_running", "job_state_unknown"]


class LockoutChanged(Model):
    locked: bool
    reason: ShortText
    command_id: UUID | None = None


class CommandResult(Model):
    command_id: UUID
    action: CommandAction
    outcome: Literal["applied", "ignored"]
    detail: ShortText = ""


class AgentStarted(Model):
    version: str
    relay_on: Literal[False] = False
    acl_version: int | None = None
    recovered_session_id: UUID | None = None


class AclApplied(Model):
    version: int
    entries: int


class Alarm(Model):
    code: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
    severity: Literal["info", "warning", "critical"]
    message: ShortText
    active: bool = True


JobOutcome = Literal["completed", "cancelled", "error", "interrupted"]
JobName = Annotated[str, Field(max_length=200)]
JobId = Annotated[str, Field(min_length=1, max_length=100)]


class JobStarted(Model):
    """The machine's controller started a job (a print, a cut, a milling program)."""

    job_id: JobId
    name: JobName = ""
    started_at: UtcTime
    session_id: UUID | None = None  # the session holding the machine then, if any


class JobEnded(Model):
    job_id: JobId
    name: JobName = ""
    started_at: UtcTime
    ended_at: UtcTime
    outcome: JobOutcome
    busy_s: Measure
    energy_wh: Measure | None = None
    session_id: UUID | None = None


class EventType(StrEnum):
    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    ACCESS_DENIED = "access_denied"
    POWER_OFF_DEFERRED = "power_off_deferred"
    LOCKOUT_CHANGED = "lockout_changed"
    COMMAND_RESULT = "command_result"
    AGENT_STARTED = "agent_started"
    ACL_APPLIED = "acl_applied"
    ALARM = "alarm"
    JOB_STARTED = "job_started"
    JOB_ENDED = "job_ended"


EventData = (
    SessionStarted
    | SessionEnded
    | AccessDenied
    | PowerOffDeferred
    | LockoutChanged
    | CommandResult
    | AgentStarted
    | AclApplied
    | Alarm
    | JobStarted
    | JobEnded
)

DATA_BY_TYPE: dict[EventType, type[Model]] = {
    EventType.SESSION_STARTED: SessionStarted,
    EventType.SESSION_ENDED: SessionEnded,
    EventType.ACCESS_DENIED: AccessDenied,
    EventType.POWER_OFF_DEFERRED: PowerOffDeferred,
    EventType.LOCKOUT_CHANGED: LockoutChanged,
    EventType.COMMAND_RESULT: CommandResult,
    EventType.AGENT_STARTED: AgentStarted,
    EventType.ACL_APPLIED: AclApplied,
    EventType.ALARM: Alarm,
    EventType.JOB_STARTED: JobStarted,
    EventType.JOB_ENDED: JobEnded,
}

# Losing one of these loses money or an audit trail: the outbox never drops them.
BILLABLE = frozenset({EventType.SESSION_STARTED, EventType.SESSION_ENDED})


class Event(Model):
    """One fact reported by a device, delivered at least once, recorded exactly once."""

    schema_: Literal["machinerie.event/1"] = Field(default="machinerie.event/1", alias="schema")
    event_id: UUID
    site: Ident
    device_id: Ident
    machine_id: Ident
    boot_id: UUID
    seq: Annotated[int, Field(ge=1)]
    time: UtcTime
    clock_synced: bool
    type: EventType
    data: EventData

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _data_matches_type(cls, raw: object) -> object:
        # Validate `data` against the model its `type` names, not the first union member
        # that happens to fit.
        if not (isinstance(raw, dict) and isinstance(raw.get("data"), dict)):
            return raw
        try:
            data_model = DATA_BY_TYPE[EventType(str(raw.get("type")))]
        except ValueError:
            return raw  # the `type` field itself reports the unknown type
        try:
            return {**raw, "data": data_model.model_validate(raw["data"])}
        except ValidationError as exc:
            raise _under("data", exc) from None

    @model_validator(mode="after")
    def _check_type(self) -> Event:
        if not isinstance(self.data, DATA_BY_TYPE[self.type]):
            raise ValueError(f"data does not match event type {self.type.value}")
        return self


def _under(field: str, exc: ValidationError) -> ValidationError:
    # Errors of a nested model validated by hand would otherwise point at the root
    # (`entries: Field required` instead of `data.entries: Field required`).
    details = [
        InitErrorDetails(
            type=error["type"],
            loc=(field, *error["loc"]),
            input=error["input"],
            ctx=error.get("ctx", {}),
        )
        for error in exc.errors()
    ]
    return ValidationError.from_exception_data(exc.title, details)


# ---------------------------------------------------------------- hub -> device


class Ack(Model):
    """Event ids the hub has committed to its ledger; the device may forget them."""

    schema_: Literal["machinerie.ack/1"] = Field(default="machinerie.ack/1", alias="schema")
    event_ids: Annotated[list[UUID], Field(min_length=1, max_length=1000)]
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CommandAction(StrEnum):
    LOCK = "lock"  # maintenance lockout: only maintainers may start a session
    UNLOCK = "unlock"
    FORCE_STOP = "force_stop"  # end the session and cut power now, even mid-job


class Command(Model):
    schema_: Literal["machinerie.command/1"] = Field(default="machinerie.command/1", alias="schema")
    command_id: UUID
    action: CommandAction
    reason: ShortText = ""
    issued_at: UtcTime
    issued_by: Annotated[str, Field(max_length=64)] | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _parse_hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    parsed = time(int(hours), int(minutes)) if hours != "24" else time.max
    if hours == "24" and minutes != "00":
        raise ValueError("24:xx is not a time")
    return parsed


HhMm = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", examples=["08:00"])]


class Window(Model):
    """A weekly time window in the site's local time: days 1 (Monday) to 7 (Sunday)."""

    days: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)]
    start: HhMm
    end: HhMm

    @model_validator(mode="after")
    def _start_before_end(self) -> Window:
        if _parse_hhmm(self.start) >= _parse_hhmm(self.end):
            raise ValueError("a window ends after it starts (split windows that cross midnight)")
        return self

    def contains(self, local: datetime) -> bool:
        if local.isoweekday() not in self.days:
            return False
        return _parse_hhmm(self.start) <= local.time() < _parse_hhmm(self.end)


class AccessEntry(Model):
    badge_uid: BadgeUid
    member_id: MemberId
    role: Role
    # Qualification or membership end; after it the badge is denied as expired.
    expires_at: UtcTime | None = None
    # Empty means at any hour; maintainers ignore windows.
    windows: Annotated[list[Window], Field(max_length=32)] = []


class AccessList(Model):
    """Who may use one machine. Published retained and signed; the newest valid version wins."""

    schema_: Literal["machinerie.acl/1"] = Field(default="machinerie.acl/1", alias="schema")
    site: Ident
    machine_id: Ident
    version: Annotated[int, Field(ge=1)]
    issued_at: UtcTime
    timezone: str = "Europe/Brussels"
    entries: Annotated[list[AccessEntry], Field(max_length=20000)]
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique_badges(self) -> AccessList:
        uids = [entry.badge_uid for entry in self.entries]
        if len(uids) != len(set(uids)):
            raise ValueError("a badge appears twice in the access list")
        return self


class SignedEnvelope(Model):
    """Exact payload bytes (base64) and an Ed25519 signature over them.

    Signing bytes rather than a canonical JSON form means a small device verifies the signature
    over what it decoded, with no JSON canonicalisation to reproduce.
    """

    schema_: Literal["machinerie.signed/1"] = Field(default="machinerie.signed/1", alias="schema")
    key_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    payload: Annotated[str, Field(max_length=4_000_000)]
    # Base64 of the 64-byte signature, padded: exactly what the decoder accepts.
    signature: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{86}==$")]
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- device -> all


class OpenSession(Model):
    session_id: UUID
    member_id: MemberId
    badge_uid: BadgeUid
    started_at: UtcTime
    draining: bool = False


class Status(Model):
    """Retained device status; the last will carries the same model with `online: false`."""

    schema_: Literal["machinerie.status/1"] = Field(default="machinerie.status/1", alias="schema")
    site: Ident
    device_id: Ident
    machine_id: Ident
    boot_id: UUID
    online: bool
    time: UtcTime
    version: str | None = None
    acl_version: int | None = None
    locked: bool | None = None
    relay_on: bool | None = None
    session: OpenSession | None = None
    outbox_backlog: int | None = None
    counters: dict[str, int] = {}
    # The machine controller's firmware as the firmware bridge learnt it, in the controller's
    # own words ("Marlin 2.1.2.1", "Grbl 1.1h"); None when the device has no bridge or the
    # controller has not named it yet. Optional, so statuses from older devices stay valid.
    firmware: Annotated[str, Field(max_length=120)] | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MachineState(StrEnum):
    OFFLINE = "offline"
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    ALARM = "alarm"


MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Telemetry(Model):
    """Measurements, at most once (QoS 0): losing one sample costs nothing billable."""

    schema_: Literal["machinerie.telemetry/1"] = Field(
        default="machinerie.telemetry/1", alias="schema"
    )
    site: Ident
    device_id: Ident
    machine_id: Ident
    time: UtcTime
    state: MachineState | None = None
    metrics: Annotated[dict[MetricName, float], Field(max_length=64)] = {}
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


CommandResult.model_rebuild()


# ---------------------------------------------------------------- alerts (hub -> listeners)


class AlertLevel(StrEnum):
    WARNING = "warning"  # maintenance due soon: plan it
    LIMIT = "limit"  # maintenance overdue: the machine is locked for all but maintainers


class AlertCounter(StrEnum):
    """What a maintenance plan counts since its last intervention."""

    BUSY_HOURS = "busy_hours"  # the controller's busy time (spindle on, laser firing, printing)
    BADGE_HOURS = "badge_hours"  # time badged in
    ENERGY_KWH = "energy_kwh"
    JOBS = "jobs"
    DAYS = "days"  # calendar days


class Alert(Model):
    """A maintenance threshold crossed: published once per crossing, QoS 1, never retained."""

    schema_: Literal["machinerie.alert/1"] = Field(default="machinerie.alert/1", alias="schema")
    alert_id: UUID
    site: Ident
    machine_id: Ident
    plan: Annotated[str, Field(min_length=1, max_length=64)]
    counter: AlertCounter
    level: AlertLevel
    value: Annotated[float, Field(allow_inf_nan=False)]
    threshold: Annotated[float, Field(allow_inf_nan=False)]
    raised_at: UtcTime
    # The forecast of when the hard limit is reached, from recent use; None without recent use.
    due_at: UtcTime | None = None
    message: ShortText = ""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
