"""Marlin (and Prusa firmware) serial output, one line at a time, as typed messages.

Every function here is pure and total: any text gives messages, and text the bridge cannot
use gives `Unknown`. A line may carry two messages: Marlin answers `M105` with `ok T:…`, and
with a small TX buffer an `ok` gets glued onto the end of an autoreport line
(`… @0:65 @N7531ok N7531 P0 B3`, MarlinFirmware/Marlin#9111), so `parse` returns a tuple.

Host to printer, every command is framed `N<n> <command>*<checksum>` (`frame`), the checksum
being the XOR of every byte before the `*`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

# Caps on digit runs: Python refuses int() of more than 4300 digits, and no firmware field
# is longer than these.
_INT = r"\d{1,12}"
_NUM = r"[-+]?\d{0,12}\.?\d{1,12}"


def checksum(text: str) -> int:
    """XOR of the bytes of `text` before its `*` (all of it when there is none)."""
    body = text.split("*", 1)[0].encode("ascii", errors="replace")
    result = 0
    for byte in body:
        result ^= byte
    return result


def frame(n: int, command: str) -> bytes:
    """`N<n> <command>*<checksum>\\n`: a numbered, checksummed line as the firmware wants it."""
    body = f"N{n} {command.strip()}"
    return f"{body}*{checksum(body)}\n".encode("ascii", errors="replace")


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ok:
    """An acknowledgement; `line`, `planner` and `buffer` come from ADVANCED_OK (`ok N P B`)."""

    line: int | None = None
    planner: int | None = None
    buffer: int | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """`wait`: the firmware's command buffer is empty (Marlin NO_TIMEOUTS)."""


@dataclass(frozen=True, slots=True)
class Busy:
    """`echo:busy: processing` / `busy: paused for user`: alive, working, no `ok` yet."""

    reason: str

    @property
    def paused(self) -> bool:
        """Waiting for the user (M600 filament change, M0): the job is paused, not over."""
        return self.reason.lower().startswith("paused")


@dataclass(frozen=True, slots=True)
class Resend:
    """The firmware wants line `line` (and every later one) again."""

    line: int


class ErrorKind(StrEnum):
    COMM = "comm"  # no line number: recoverable, the resend request follows by itself
    RESEND = "resend"  # checksum or line number mismatch: a `Resend:` follows
    SD = "sd"  # the SD card: harmless to the printer's state
    UNKNOWN_COMMAND = "unknown_command"
    FATAL = "fatal"  # the firmware has halted (kill) and needs a reset
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Error:
    """An `Error:`, `!!` or `fatal:` line.

    `alarm` is the code the hub sees for errors that end a job (thermal runaway, MAXTEMP,
    kill...). `partial` marks `Error:0`, whose text is on the next line; `continuation`
    marks that next line (`: Extruder switched off. MAXTEMP triggered !`).
    """

    kind: ErrorKind
    message: str
    alarm: str | None = None
    partial: bool = False
    continuation: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    sensor: str  # as sent: "T", "T0", "B", "C", "P", ...
    actual: float
    target: float | None = None


@dataclass(frozen=True, slots=True)
class Temperatures:
    """A temperature report, first occurrence of each sensor only, in wire order."""

    readings: tuple[Reading, ...]

    def get(self, sensor: str) -> Reading | None:
        return next((r for r in self.readings if r.sensor == sensor), None)


@dataclass(frozen=True, slots=True)
class Position:
    """An `M114` reply (`X:… Y:… Z:… E:… Count …`), never a temperature."""

    x: float
    y: float
    z: float
    e: float


@dataclass(frozen=True, slots=True)
class SdStatus:
    """`SD printing byte <position>/<size>`."""

    position: int
    size: int


@dataclass(frozen=True, slots=True)
class SdNotPrinting:
    """`Not SD printing`."""


@dataclass(frozen=True, slots=True)
class SdDone:
    """`Done printing file`: the SD print reached the end of its file."""


@dataclass(frozen=True, slots=True)
class FileOpened:
    """`File opened: <name> Size: <size>`."""

    name: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class FileSelected:
    """`File selected`."""


@dataclass(frozen=True, slots=True)
class PrusaProgress:
    """Prusa's `NORMAL MODE: Percent done: 42; print time remaining in mins: 30; …`.

    The firmware prints a `SILENT MODE` twin of each line; only the normal one is used.
    """

    percent: int
    remaining_min: int | None
    silent: bool = False


@dataclass(frozen=True, slots=True)
class PrintTime:
    """The running job's elapsed time: `M31` (`echo:Print time: 1h 2m 3s`) or Prusa `HH:MM`."""

    seconds: int


@dataclass(frozen=True, slots=True)
class Firmware:
    """The `M115` line: `FIRMWARE_NAME:Marlin 2.0.7.2 (…) SOURCE_CODE_URL:… MACHINE_TYPE:…`."""

    fields: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return next((value for name, value in self.fields if name == key), None)

    @property
    def name(self) -> str:
        return self.get("FIRMWARE_NAME") or self.get("NAME") or ""


@dataclass(frozen=True, slots=True)
class Capability:
    """`Cap:AUTOREPORT_TEMP:1`."""

    name: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class Action:
    """A host action command: `//action:paused`, `//action:prompt_begin Filament runout`."""

    name: str
    params: str = ""


@dataclass(frozen=True, slots=True)
class Reset:
    """The boot banner (`start`, `echo:Marlin 2.1.2`): the controller has just restarted."""

    text: str


@dataclass(frozen=True, slots=True)
class Echo:
    """An `echo:` or `//` line the bridge has no use for, but recognises as firmware talk."""

    text: str


@dataclass(frozen=True, slots=True)
class Empty:
    """A blank line."""


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


Message: TypeAlias = (
    Ok
    | Wait
    | Busy
    | Resend
    | Error
    | Temperatures
    | Position
    | SdStatus
    | SdNotPrinting
    | SdDone
    | FileOpened
    | FileSelected
    | PrusaProgress
    | PrintTime
    | Firmware
    | Capability
    | Action
    | Reset
    | Echo
    | Empty
    | Unknown
)


# -- the line as a whole ------------------------------------------------------------------


def parse(line: str) -> tuple[Message, ...]:
    """Every message in one line of firmware output (never empty, never raises)."""
    text = line.strip()
    if not text:
        return (Empty(),)
    if text.startswith("ok"):
        return _parse_ok(text)
    glued = _split_glued_ok(text)
    if glued is not None:
        return glued
    return (parse_one(text),)


def parse_one(text: str) -> Message:
    """The one message in `text`, which holds no `ok`."""
    text = text.strip()
    if not text:
        return Empty()
    for parser in _PARSERS:
        found = parser(text)
        if found is not None:
            return found
    return Unknown(text)


_ADVANCED_OK = re.compile(rf"N({_INT})(?:\s+P({_INT}))?(?:\s+B({_INT}))?\s*$")
_REPETIER_OK = re.compile(rf"({_INT})\s*$")


def _parse_ok(text: str) -> tuple[Message, ...]:
    rest = text[2:].strip()
    if not rest:
        return (Ok(),)
    advanced = _ADVANCED_OK.match(rest)
    if advanced is not None:
        n, p, b = advanced.groups()
        return (Ok(int(n), _opt_int(p), _opt_int(b)),)
    repetier = _REPETIER_OK.match(rest)
    if repetier is not None:  # Repetier acknowledges with `ok <line>`
        return (Ok(int(repetier.group(1))),)
    return (Ok(), parse_one(rest))


_GLUED_OK = re.compile(rf"ok(?:\s?N({_INT})\s+P({_INT})\s+B({_INT}))?\s*$")


def _split_glued_ok(text: str) -> tuple[Message, ...] | None:
    """An autoreport line with the `ok` of another command stuck on its end (Marlin#9111)."""
    found = _GLUED_OK.search(text)
    if found is None or found.start() == 0:
        return None
    n, p, b = found.groups()
    head = text[: found.start()]
    if n is None and head[-1].isspace():
        return None  # a plain word: `echo:SD card ok`
    first = parse_one(head)
    if n is None and not isinstance(first, _AUTOREPORTS):
        return None  # `…notebook`: only a full ADVANCED_OK is unambiguous elsewhere
    return (first, Ok(_opt_int(n), _opt_int(p), _opt_int(b)))


def _opt_int(text: str | None) -> int | None:
    return int(text) if text is not None else None


# -- flow control -------------------------------------------------------------------------


def _wait(text: str) -> Message | None:
    return Wait() if text == "wait" else None


_BANNER = re.compile(r"^(?:echo:\s*)?Marlin(?:[\s:]|$)")


def _reset(text: str) -> Message | None:
    if text == "start" or _BANNER.match(text):
        return Reset(text)
    return None


_RESEND = re.compile(rf"^(?:resend|rs)(?::\s*|\s+)(?:N:?)?\s*({_INT})", re.IGNORECASE)


def _resend(text: str) -> Message | None:
    found = _RESEND.match(text)
    return Resend(int(found.group(1))) if found is not None else None


_BUSY = re.compile(r"^(?:echo:\s*)?busy:\s*(.*)$")


def _busy(text: str) -> Message | None:
    found = _BUSY.match(text)
    return Busy(found.group(1).strip()) if found is not None else None


# -- errors -------------------------------------------------------------------------------

_COMM = ("no line number with checksum", "missing linenumber")
_RESEND_FOLLOWS = ("line number", "linenumber", "checksum", "format error", "expected line")
_SD = (
    "volume.init",
    "openroot",
    "workdir",
    "error writing to file",
    "cannot open",
    "open failed",
    "cannot enter",
)
_FATAL = (
    "kill() called",
    "kill caused",
    "killed",
    "printer halted",
    "printer stopped",
    "stop called",
    "fatal:",
    "watchdog barked",
    "lost communication with mcu",
)
# First match wins: a thermal error is followed by `Printer halted. kill() called!`, and the
# joined message keeps the thermal code.
_ALARMS = (
    (("thermal runaway", "thermal malfunction"), "marlin_thermal_runaway"),
    (("heating failed",), "marlin_heating_failed"),
    (("maxtemp",), "marlin_maxtemp"),
    (("mintemp",), "marlin_mintemp"),
    (("watchdog barked",), "marlin_watchdog"),
    (("kill caused", "kill() called", "killed", "printer halted"), "marlin_kill"),
    (("lost communication with mcu",), "klipper_mcu_lost"),
    (("fatal:",), "marlin_fatal"),
    (("printer stopped", "stop called"), "marlin_stopped"),
)


def classify(message: str) -> tuple[ErrorKind, str | None]:
    """The error's class (as OctoPrint sorts them) and its alarm code, if it ends a job."""
    lower = message.lower()
    alarm = next((code for words, code in _ALARMS if _has(lower, words)), None)
    if _has(lower, _COMM):
        return ErrorKind.COMM, None
    if _has(lower, _RESEND_FOLLOWS):
        return ErrorKind.RESEND, None
    if _has(lower, _SD):
        return ErrorKind.SD, None
    if "unknown command" in lower:
        return ErrorKind.UNKNOWN_COMMAND, None
    if _has(lower, _FATAL):
        return ErrorKind.FATAL, alarm
    return ErrorKind.OTHER, alarm


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _error(text: str) -> Message | None:
    lower = text.lower()
    if lower.startswith("error:"):
        message = text[6:].strip()
    elif text.startswith("!!"):
        message = text[2:].strip()
    elif lower.startswith("fatal:"):  # Repetier: OctoPrint reads it as `Error:fatal:`
        message = text
    elif text.startswith(":") and len(text) > 1:
        return _continuation(text[1:].strip())
    else:
        return None
    if re.fullmatch(r"\d", message):  # `Error:0` / `: Extruder switched off. MAXTEMP …`
        return Error(ErrorKind.OTHER, message, partial=True)
    kind, alarm = classify(message)
    return Error(kind, message, alarm)


def _continuation(message: str) -> Message:
    kind, alarm = classify(message)
    return Error(kind, message, alarm, continuation=True)


def join_errors(first: Error, second: Error) -> Error:
    """One error from two lines: `Error:0` + `: …MAXTEMP…`, or a thermal error + its kill."""
    separator = ": " if first.partial else " - "
    message = f"{first.message}{separator}{second.message}"
    kind, alarm = classify(message)
    return Error(kind, message, first.alarm or second.alarm or alarm)


# -- host actions and chatter -------------------------------------------------------------

_ACTION = re.compile(r"^//\s*action:\s*(\S+)\s*(.*)$")


def _action(text: str) -> Message | None:
    found = _ACTION.match(text)
    if found is None:
        return None
    return Action(found.group(1).lower(), found.group(2).strip())


_M31 = re.compile(r"^echo:\s*Print time:\s*(.*)$", re.IGNORECASE)
_DURATION = re.compile(
    rf"^(?:({_INT})\s*d)?\s*(?:({_INT})\s*h)?\s*(?:({_INT})\s*m)?\s*(?:({_INT})\s*s)?$"
)
_OLD_M31 = re.compile(rf"^echo:\s*({_INT})\s*hours?,\s*({_INT})\s*min", re.IGNORECASE)
_PRUSA_ELAPSED = re.compile(r"^(\d{1,6}):([0-5]\d)$")


def _print_time(text: str) -> Message | None:
    found = _M31.match(text)
    if found is not None:
        duration = _DURATION.match(found.group(1).strip())
        if duration is not None and any(duration.groups()):
            d, h, m, s = (int(part or 0) for part in duration.groups())
            return PrintTime(((d * 24 + h) * 60 + m) * 60 + s)
        return None
    old = _OLD_M31.match(text)
    if old is not None:
        return PrintTime((int(old.group(1)) * 60 + int(old.group(2))) * 60)
    prusa = _PRUSA_ELAPSED.match(text)  # Prusa's second `M27` line: elapsed HH:MM
    if prusa is not None:
        return PrintTime((int(prusa.group(1)) * 60 + int(prusa.group(2))) * 60)
    return None


def _echo(text: str) -> Message | None:
    if text.startswith("echo:"):
        return Echo(text[5:].strip())
    if text.startswith("//"):
        return Echo(text[2:].strip())
    return None


# -- SD card and progress -----------------------------------------------------------------

_SD_STATUS = re.compile(rf"^SD printing byte\s*({_INT})\s*/\s*({_INT})")
_FILE_OPENED = re.compile(rf"^File opened:\s*(.*?)\s+Size:\s*({_INT})")


def _sd(text: str) -> Message | None:
    status = _SD_STATUS.match(text)
    if status is not None:
        return SdStatus(int(status.group(1)), int(status.group(2)))
    for prefix, message in _SD_FIXED:
        if text.startswith(prefix):
            return message
    opened = _FILE_OPENED.match(text)
    if opened is not None:
        return FileOpened(opened.group(1), int(opened.group(2)))
    if text.startswith("File opened:"):
        return FileOpened(text[len("File opened:") :].strip())
    return None


_SD_FIXED: tuple[tuple[str, Message], ...] = (
    ("Not SD printing", SdNotPrinting()),
    ("Done printing file", SdDone()),
    ("File selected", FileSelected()),
)


_PRUSA_PROGRESS = re.compile(
    r"^(NORMAL|SILENT) MODE: Percent done: (-?\d{1,6});"
    r"(?: print time remaining in mins: (-?\d{1,9}))?"
)


def _prusa_progress(text: str) -> Message | None:
    found = _PRUSA_PROGRESS.match(text)
    if found is None:
        return None
    mode, percent, remaining = found.groups()
    return PrusaProgress(int(percent), _opt_int(remaining), silent=mode == "SILENT")


# -- firmware identity --------------------------------------------------------------------

_FIRMWARE_KEY = re.compile(r"(?:^|\s+)([A-Z][A-Z0-9_]*):")


def parse_firmware_fields(text: str) -> tuple[tuple[str, str], ...]:
    """`KEY:value with spaces KEY2:value` split on the keys, as OctoPrint splits M115."""
    if text.startswith("NAME."):  # Malyan: `NAME. Malyan VER: 3.8 MODEL: M100`
        text = "NAME:" + text[5:]
    keys = list(_FIRMWARE_KEY.finditer(text))
    fields: list[tuple[str, str]] = []
    for found, after in zip(keys, [*keys[1:], None], strict=True):
        end = after.start() if after is not None else len(text)
        fields.append((found.group(1), text[found.end() : end].strip()))
    return tuple(fields)


def _firmware(text: str) -> Message | None:
    if "FIRMWARE_NAME:" in text or text.startswith(("NAME:", "NAME.")):
        return Firmware(parse_firmware_fields(text))
    return None


_CAPABILITY = re.compile(r"^Cap:([A-Za-z0-9_]+):([01])\s*$", re.IGNORECASE)


def _capability(text: str) -> Message | None:
    found = _CAPABILITY.match(text)
    if found is None:
        return None
    return Capability(found.group(1).upper(), found.group(2) == "1")


# -- position and temperatures ------------------------------------------------------------

_POSITION = re.compile(rf"^X:\s*({_NUM})\s+Y:\s*({_NUM})\s+Z:\s*({_NUM})\s+E\d*:\s*({_NUM})")


def _position(text: str) -> Message | None:
    found = _POSITION.match(text)
    if found is None:
        return None
    x, y, z, e = (float(group) for group in found.groups())
    return Position(x, y, z, e)


_TEMPERATURE = re.compile(
    rf"(?:^|\s)(?P<sensor>B|C|T\d*|\w+):\s*(?P<actual>{_NUM})(?:\s*/\s*(?P<target>{_NUM}))?"
)
_TOOL = re.compile(r"T\d*")


def _temperatures(text: str) -> Message | None:
    readings = dict(_readings(text))
    has_tool = any(_TOOL.fullmatch(sensor) for sensor in readings)
    # `Count A:6241 B:6478` (M114) is not a bed: B counts only without A (Marlin#10735).
    if not has_tool and not ("B" in readings and "A" not in readings):
        return None
    return Temperatures(tuple(readings.values()))


def _readings(text: str) -> Iterator[tuple[str, Reading]]:
    seen: set[str] = set()
    for found in _TEMPERATURE.finditer(text):
        sensor = found.group("sensor")
        if sensor in seen:  # only the first occurrence of each sensor counts
            continue
        seen.add(sensor)
        target = found.group("target")
        actual = float(found.group("actual"))
        yield sensor, Reading(sensor, actual, float(target) if target is not None else None)


def canonical_temperatures(report: Temperatures, tool: int = 0) -> dict[str, Reading]:
    """Readings keyed `T0`, `T1`, `B`, …: bare `T` is the current tool unless `T<n>` are there.

    Smoothieware sends `T:` for T0 and then `T1:`, so a bare `T` beside `T1` but without `T0`
    is T0; with `T0` present the bare `T` repeats a numbered tool and is dropped.
    """
    result = {r.sensor: r for r in report.readings if r.sensor != "T"}
    bare = report.get("T")
    if bare is None or "T0" in result:
        return result
    numbered = any(_TOOL.fullmatch(sensor) for sensor in result)
    result[f"T{0 if numbered else tool}"] = bare
    return result


_AUTOREPORTS = (Temperatures, Position, SdStatus, SdNotPrinting, Busy)

_PARSERS: tuple[Callable[[str], Message | None], ...] = (
    _wait,
    _reset,
    _resend,
    _error,
    _busy,
    _action,
    _print_time,
    _echo,
    _sd,
    _prusa_progress,
    _firmware,
    _capability,
    _position,
    _temperatures,
)
