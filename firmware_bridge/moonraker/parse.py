"""Moonraker's JSON-RPC frames as typed messages.

One websocket text frame in, one message out. Moonraker's HTTP answers wrap the same
documents in `{"result": ...}`, so an HTTP body parses the same way. Anything unrecognised
(bad JSON, an unknown notification, a result of an unknown shape) is `Unknown`; nothing here
raises. Formats: Moonraker's docs/external_api/{printer,server,history,
jsonrpc_notifications}.md and docs/printer_objects.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

MAX_FRAME = 1 << 20  # a status frame is a few kB; a larger one is not worth parsing
EXCERPT = 200  # how much of an unusable frame is kept for the log

Status = Mapping[str, Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The whole status of the requested objects: a subscribe or query result."""

    status: Status
    eventtime: float | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """`notify_status_update`: only the fields that changed since the last frame."""

    changes: Status
    eventtime: float | None = None


@dataclass(frozen=True, slots=True)
class KlippyEvent:
    """`notify_klippy_ready`, `_shutdown` or `_disconnected`, as the state it names."""

    state: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    job_id: str
    filename: str = ""
    status: str = ""  # in_progress, completed, cancelled, error, klippy_shutdown, ...
    print_duration: float | None = None
    total_duration: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryChanged:
    """`notify_history_changed`: a job was `added` (started) or `finished`."""

    action: str
    job: HistoryEntry


@dataclass(frozen=True, slots=True)
class HistoryList:
    """The result of `server.history.list`, newest first when asked with order=desc."""

    jobs: tuple[HistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The result of `server.info`: whether Klippy is there and in which state."""

    klippy_state: str
    klippy_connected: bool


@dataclass(frozen=True, slots=True)
class PrinterInfo:
    """The result of `printer.info`: Klipper's own version (`v0.12.0-85-gd785b396`)."""

    software_version: str
    state: str = ""


@dataclass(frozen=True, slots=True)
class RpcError:
    """A JSON-RPC error answer, e.g. a subscription refused while Klippy starts up."""

    request_id: int | str | None
    code: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A notification Moonraker sends to every client that says nothing about the machine."""

    method: str


Message = (
    StatusSnapshot
    | StatusUpdate
    | KlippyEvent
    | HistoryChanged
    | HistoryList
    | ServerInfo
    | PrinterInfo
    | RpcError
    | Ignored
    | Unknown
)

KLIPPY_EVENTS = {
    "notify_klippy_ready": "ready",
    "notify_klippy_shutdown": "shutdown",
    "notify_klippy_disconnected": "disconnected",
}

# Broadcast to every websocket client whatever it subscribed to; counting them as unknown
# would bury the frames that really are.
IGNORED = frozenset(
    {
        "notify_gcode_response",
        "notify_proc_stat_update",
        "notify_filelist_changed",
        "notify_update_response",
        "notify_update_refreshed",
        "notify_cpu_throttled",
        "notify_user_created",
        "notify_user_deleted",
        "notify_user_logged_out",
        "notify_service_state_changed",
        "notify_job_queue_changed",
        "notify_button_event",
        "notify_announcement_update",
        "notify_announcement_dismissed",
        "notify_announcement_wake",
        "notify_sudo_alert",
        "notify_webcams_changed",
        "notify_active_spool_set",
        "notify_spoolman_status_changed",
        "notify_power_changed",
        "notify_sensor_update",
        "notify_agent_event",
    }
)


def parse_frame(frame: str | bytes) -> Message:
    """One frame as a message; `Unknown` for anything this module does not recognise."""
    text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
    if len(text) > MAX_FRAME:
        return Unknown(text[:EXCERPT])
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # bad JSON, or nested deeper than the parser goes
        return Unknown(text[:EXCERPT])
    message = _classify(doc) if isinstance(doc, dict) else None
    return message if message is not None else Unknown(text[:EXCERPT])


def _classify(doc: Mapping[str, object]) -> Message | None:
    if "method" in doc:
        return _notification(doc.get("method"), doc.get("params"))
    if "error" in doc:
        return _error(doc.get("error"), doc.get("id"))
    if "result" in doc:
        return _result(doc.get("result"))
    return None


def _notification(method: object, params: object) -> Message | None:
    if not isinstance(method, str):
        return None
    args = params if isinstance(params, list) else []
    if method == "notify_status_update":
        return _status_update(args)
    if method in KLIPPY_EVENTS:
        return KlippyEvent(KLIPPY_EVENTS[method])
    if method == "notify_history_changed":
        return _history_changed(args[0] if args else None)
    if method in IGNORED:
        return Ignored(method)
    return None


def _status_update(args: list[object]) -> Message | None:
    changes = _status(args[0] if args else None)
    if changes is None:
        return None
    return StatusUpdate(changes, number(args[1]) if len(args) > 1 else None)


def _error(error: object, request_id: object) -> Message | None:
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    message = error.get("message")
    return RpcError(
        request_id
        if isinstance(request_id, int | str) and not isinstance(request_id, bool)
        else None,
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else "",
    )


def _result(result: object) -> Message | None:
    if not isinstance(result, dict):
        return None
    if "status" in result:
        status = _status(result.get("status"))
        if status is None:
            return None
        return StatusSnapshot(status, number(result.get("eventtime")))
    info = _info(result)
    if info is not None:
        return info
    jobs = result.get("jobs")
    if isinstance(jobs, list):
        entries = tuple(_entry(job) for job in jobs)
        valid = tuple(entry for entry in entries if entry is not None)
        return HistoryList(valid) if len(valid) == len(entries) else None
    return None


def _info(result: Mapping[str, object]) -> ServerInfo | PrinterInfo | None:
    state = result.get("klippy_state")
    if isinstance(state, str):
        return ServerInfo(state, result.get("klippy_connected") is True)
    version = result.get("software_version")
    if isinstance(version, str):
        printer_state = result.get("state")
        return PrinterInfo(version, printer_state if isinstance(printer_state, str) else "")
    return None


def _history_changed(param: object) -> Message | None:
    if not isinstance(param, dict):
        return None
    action = param.get("action")
    entry = _entry(param.get("job"))
    if not isinstance(action, str) or entry is None:
        return None
    return HistoryChanged(action, entry)


def _entry(job: object) -> HistoryEntry | None:
    if not isinstance(job, dict):
        return None
    job_id = job.get("job_id")
    if isinstance(job_id, int) and not isinstance(job_id, bool):
        job_id = f"{job_id:06d}"
    if not isinstance(job_id, str) or not job_id:
        return None
    filename = job.get("filename")
    status = job.get("status")
    return HistoryEntry(
        job_id,
        filename if isinstance(filename, str) else "",
        status if isinstance(status, str) else "",
        number(job.get("print_duration")),
        number(job.get("total_duration")),
    )


def _status(value: object) -> dict[str, dict[str, object]] | None:
    """`{object name: {field: value}}`, or None when any part has another shape."""
    if not isinstance(value, dict):
        return None
    status: dict[str, dict[str, object]] = {}
    for name, fields in value.items():
        if not isinstance(fields, dict):
            return None
        status[name] = dict(fields)
    return status


def number(value: object) -> float | None:
    """A finite JSON number as a float; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return result if math.isfinite(result) else None
