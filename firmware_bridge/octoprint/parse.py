"""OctoPrint's REST documents as typed values.

`GET /api/job` and `GET /api/printer` follow docs.octoprint.org ("REST API": "Job
operations", "Printer operations", "Common data model"). Job fields are null while no file is
selected; `/api/printer` answers 409 Conflict whenever the printer is not operational
(disconnected, connecting, or after an error), which is `Disconnected`, not a malformed
answer. Nothing here raises: anything unusable is `Unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.jsonbody import document, excerpt, number

MAX_BODY = 1 << 18  # a job or printer document is a few hundred bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


@dataclass(frozen=True, slots=True)
class JobStatus:
    """`GET /api/job`: the selected file, its progress and the printer's state text."""

    state: str  # "Operational", "Printing", "Paused", "Offline after error", ...
    name: str = ""  # empty when no file is selected
    file_date: float | None = None  # upload time of the file, epoch seconds
    origin: str = ""  # "local" or "sdcard"
    completion: float | None = None  # percent, 0 to 100
    print_time: float | None = None  # seconds printed so far
    print_time_left: float | None = None
    error: str = ""  # the error text OctoPrint adds while the state is an error


@dataclass(frozen=True, slots=True)
class Flags:
    """`state.flags` of `/api/printer`; a missing flag reads False."""

    operational: bool = False
    printing: bool = False
    paused: bool = False
    pausing: bool = False
    cancelling: bool = False
    finishing: bool = False
    resuming: bool = False
    error: bool = False
    closed_or_error: bool = False
    ready: bool = False


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """`GET /api/printer` answered 200."""

    text: str
    flags: Flags = Flags()
    temperatures: tuple[tuple[str, float], ...] = ()  # ("tool0", 214.8), ("bed", 59.9)
    targets: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Version:
    """`GET /api/version`: OctoPrint's own name and version (`"text": "OctoPrint 1.10.2"`).

    OctoPrint keeps the printer's `M115` answer to itself, so its own version is what the
    bridge can name."""

    text: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """`GET /api/printer` answered 409: OctoPrint has no operational printer."""


FLAG_KEYS = {
    "operational": "operational",
    "printing": "printing",
    "paused": "paused",
    "pausing": "pausing",
    "cancelling": "cancelling",
    "finishing": "finishing",
    "resuming": "resuming",
    "error": "error",
    "closedOrError": "closed_or_error",
    "ready": "ready",
}


def parse_job(status_code: int, body: bytes | str) -> JobStatus | Unknown:
    doc = document(body, MAX_BODY) if status_code == 200 else None
    if not isinstance(doc, dict):
        return Unknown(f"HTTP {status_code} for /api/job: {excerpt(body)}")
    state = _text(doc.get("state"))
    if not state:
        return Unknown(excerpt(body))
    job = _as_dict(doc.get("job"))
    file = _as_dict(job.get("file"))
    progress = _as_dict(doc.get("progress"))
    return JobStatus(
        state,
        _text(file.get("name")),
        number(file.get("date")),
        _text(file.get("origin")),
        number(progress.get("completion")),
        number(progress.get("printTime")),
        number(progress.get("printTimeLeft")),
        _text(doc.get("error")),
    )


def parse_version(status_code: int, body: bytes | str) -> Version | Unknown:
    doc = document(body, MAX_BODY) if status_code == 200 else None
    if not isinstance(doc, dict):
        return Unknown(f"HTTP {status_code} for /api/version: {excerpt(body)}")
    server = _text(doc.get("server"))
    text = _text(doc.get("text")) or (f"OctoPrint {server}" if server else "")
    return Version(text) if text else Unknown(excerpt(body))


def parse_printer(status_code: int, body: bytes | str) -> PrinterStatus | Disconnected | Unknown:
    if status_code == 409:
        return Disconnected()
    doc = document(body, MAX_BODY) if status_code == 200 else None
    if not isinstance(doc, dict):
        return Unknown(f"HTTP {status_code} for /api/printer: {excerpt(body)}")
    state = _as_dict(doc.get("state"))
    text = _text(state.get("text"))
    if not text:
        return Unknown(excerpt(body))
    flags = _as_dict(state.get("flags"))
    actual, target = _temperatures(doc.get("temperature"))
    return PrinterStatus(
        text,
        Flags(**{field: flags.get(key) is True for key, field in FLAG_KEYS.items()}),
        actual,
        target,
    )


def _temperatures(
    value: object,
) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    actual: list[tuple[str, float]] = []
    target: list[tuple[str, float]] = []
    for name, reading in _as_dict(value).items():
        if not isinstance(name, str) or not isinstance(reading, dict):
            continue  # "history" and the like are not heaters
        now, wanted = number(reading.get("actual")), number(reading.get("target"))
        if now is not None:
            actual.append((name, now))
        if wanted is not None:
            target.append((name, wanted))
    return tuple(actual), tuple(target)


def _as_dict(value: object) -> dict[object, object]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
