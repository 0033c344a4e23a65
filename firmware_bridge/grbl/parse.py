"""One line from a GRBL 1.1 controller (grblHAL and FluidNC tolerated) into a value.

Every function here is pure and total: any text, however mangled, gives either one of the
message values below or `Unknown(text)`. Status report fields are split on `|` and `:` and
read by key, because the values are not all numeric (`Pn:XZ`, `A:SF`, `SD:50.0,job.nc`) and
grblHAL and FluidNC add fields of their own, which are kept as text in `Status.extra`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

STATES = frozenset(
    {"Idle", "Run", "Hold", "Jog", "Alarm", "Door", "Check", "Home", "Sleep", "Tool"}
)

_NOISE = re.compile(r"^[\ufffd\x00-\x1f\x7f]+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")
_CODE = r"(\d{1,9})"  # bounded: int() refuses strings longer than 4300 digits
_OK_ERROR = re.compile(rf"error:{_CODE}(?:\s+(.*))?")
_ALARM = re.compile(rf"ALARM:{_CODE}")
_WELCOME = re.compile(
    r"(?P<name>[A-Za-z][^\[\]]*?)(?: (?P<version>\d+\.\d+[a-z]?))?"
    r" \[(?P<note>[^\[\]]*for help[^\[\]]*)\]"
)
_BRACKET = re.compile(r"\[(?P<key>[A-Za-z][A-Za-z0-9 ]*):(?P<body>.*)\]")
_SETTING = re.compile(r"\$(?P<key>N?\d{1,9})=(?P<value>.*)")
_STARTUP = re.compile(rf">(?P<line>.*):(?:ok|error:{_CODE})")


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


@dataclass(frozen=True, slots=True)
class Ok:
    pass


@dataclass(frozen=True, slots=True)
class Error:
    code: int
    detail: str = ""  # grblHAL's SD plugin: "error:22 in SD file at line 5"


@dataclass(frozen=True, slots=True)
class Alarm:
    code: int


@dataclass(frozen=True, slots=True)
class Welcome:
    """The banner printed at power-up and after every reset."""

    name: str  # "Grbl", "GrblHAL", or a vendor's rebranding
    version: str  # "1.1h"; "" when a vendor left it out
    note: str  # "'$' for help"; FluidNC names itself here

    @property
    def fluidnc(self) -> bool:
        return "FluidNC" in self.note


@dataclass(frozen=True, slots=True)
class Message:
    text: str  # "Pgm End", "Reset to continue", "'$H'|'$X' to unlock", ...


@dataclass(frozen=True, slots=True)
class ParserState:
    words: tuple[str, ...]  # ("G0", "G54", ..., "M5", "M9", "T0", "F0", "S0")


@dataclass(frozen=True, slots=True)
class Version:
    version: str  # "1.1h.20190830"
    user: str  # the `$I=` string, where a workshop may store a machine id


@dataclass(frozen=True, slots=True)
class Options:
    codes: str  # "VL": variable spindle, two limit switches, ...
    blocks: int | None  # planner blocks
    rx_bytes: int | None  # serial receive buffer
    rest: tuple[str, ...]  # grblHAL appends more numbers


@dataclass(frozen=True, slots=True)
class Echo:
    text: str


@dataclass(frozen=True, slots=True)
class Feedback:
    """Any other `[KEY:...]` line: `$#` parameters, help, grblHAL's `$I` extras."""

    key: str
    body: str


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # "13", "32", or "N0" for a startup line
    value: str


@dataclass(frozen=True, slots=True)
class StartupLine:
    """`>G54G20:ok`: a startup line ran. Its `:ok` is not a reply to anything the host sent."""

    line: str
    error: int | None


@dataclass(frozen=True, slots=True)
class SdProgress:
    percent: float | None  # None while "Pending": rewound, waiting for cycle start
    name: str


@dataclass(frozen=True, slots=True)
class Status:
    """A `<...>` real-time report. A field the report did not carry is None."""

    state: str
    substate: int | None = None
    mpos: tuple[float, ...] | None = None
    wpos: tuple[float, ...] | None = None
    wco: tuple[float, ...] | None = None
    feed: float | None = None
    speed: float | None = None
    overrides: tuple[int, int, int] | None = None
    accessories: str | None = None  # "" when grblHAL sends an empty `A:`
    pins: str = ""
    buffer: tuple[int, int] | None = None
    line_number: int | None = None
    sd: SdProgress | None = None
    extra: tuple[tuple[str, str], ...] = ()  # fields read by nobody here, as text


Parsed = (
    Status
    | Ok
    | Error
    | Alarm
    | Welcome
    | Message
    | ParserState
    | Version
    | Options
    | Echo
    | Feedback
    | Setting
    | StartupLine
    | Unknown
)


def parse_line(text: str) -> Parsed:
    """The message `text` carries, or `Unknown(text)`."""
    # A board resetting on port open sends a few undecodable bytes before its banner; clean
    # lines (nearly all of them) skip the regex, which is most of a status line's cost.
    line = text.strip()
    if not (line.isascii() and line.isprintable()):
        line = _NOISE.sub("", line)
    if line.startswith("<"):
        return parse_status(line) or Unknown(text)
    if line.startswith("["):
        return _bracket(line) or Unknown(text)
    return _plain(line) or Unknown(text)


def _plain(line: str) -> Parsed | None:
    if line == "ok":
        return Ok()
    for pattern, build in _PLAIN:
        if matched := pattern.fullmatch(line):
            return build(matched)
    return None


def _startup(matched: re.Match[str]) -> StartupLine:
    code = matched[2]
    return StartupLine(matched["line"], int(code) if code else None)


_PLAIN: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Parsed]], ...] = (
    (_OK_ERROR, lambda m: Error(int(m[1]), m[2] or "")),
    (_ALARM, lambda m: Alarm(int(m[1]))),
    (_SETTING, lambda m: Setting(m["key"], m["value"])),
    (_STARTUP, _startup),
    (_WELCOME, lambda m: Welcome(m["name"], m["version"] or "", m["note"])),
)


def _bracket(line: str) -> Parsed | None:
    matched = _BRACKET.fullmatch(line)
    if matched is None:
        return None
    key, body = matched["key"], matched["body"]
    build = _BRACKETED.get(key)
    return build(body) if build is not None else Feedback(key, body)


def _version(body: str) -> Version:
    version, _, user = body.partition(":")
    return Version(version, user)


def _options(body: str) -> Options:
    codes, *numbers = body.split(",")
    counts = [int(n) if n.isdecimal() and len(n) < 10 else None for n in numbers[:2]]
    counts += [None] * (2 - len(counts))
    return Options(codes, counts[0], counts[1], tuple(numbers[2:]))


_BRACKETED: dict[str, Callable[[str], Parsed]] = {
    "MSG": Message,
    "GC": lambda body: ParserState(tuple(body.split())),
    "VER": _version,
    "OPT": _options,
    "echo": Echo,
}


def parse_status(line: str) -> Status | None:
    """A `<State|Key:value|...>` report, or None if it is not one."""
    if len(line) < 3 or not (line.startswith("<") and line.endswith(">")):
        return None
    head, *fields = line[1:-1].split("|")
    state, _, sub = head.partition(":")
    if state not in STATES or (sub and not sub.isdecimal()) or len(sub) > 3:
        return None
    parts = _Parts()
    for item in fields:
        key, colon, value = item.partition(":")
        reader = _READERS.get(key)
        if not (colon and reader is not None and reader(parts, value)):
            parts.extra += ((key, value),)
    return parts.status(state, int(sub) if sub else None)


class _Parts:
    """A status report's fields while they are read; each reader says whether it could.

    Class-level defaults and no __init__: one is made per status line, at up to 5 Hz per
    machine, so its construction is kept to the bare object.
    """

    mpos: tuple[float, ...] | None = None
    wpos: tuple[float, ...] | None = None
    wco: tuple[float, ...] | None = None
    feed: float | None = None
    speed: float | None = None
    overrides: tuple[int, int, int] | None = None
    accessories: str | None = None
    pins: str = ""
    buffer: tuple[int, int] | None = None
    line_number: int | None = None
    sd: SdProgress | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def status(self, state: str, substate: int | None) -> Status:
        return Status(
            state,
            substate,
            mpos=self.mpos,
            wpos=self.wpos,
            wco=self.wco,
            feed=self.feed,
            speed=self.speed,
            overrides=self.overrides,
            accessories=self.accessories,
            pins=self.pins,
            buffer=self.buffer,
            line_number=self.line_number,
            sd=self.sd,
            extra=self.extra,
        )


def _numbers(text: str, low: int = 1, high: int = 9) -> tuple[float, ...] | None:
    items = text.split(",")
    if not low <= len(items) <= high:
        return None
    try:  # float() is the fast path; the pattern only vets what it would wrongly accept
        values = tuple(map(float, items))
    except ValueError:
        return None
    if not all(map(math.isfinite, values)) or "_" in text:
        return None
    return values


def _integers(text: str, count: int) -> tuple[int, ...] | None:
    items = text.split(",")
    if len(items) != count or not all(i.isdecimal() and len(i) < 10 for i in items):
        return None
    return tuple(int(i) for i in items)


def _capitals(text: str) -> bool:
    return text.isascii() and text.isalpha() and text.isupper()


def _mpos(parts: _Parts, value: str) -> bool:
    parts.mpos = _numbers(value)
    return parts.mpos is not None


def _wpos(parts: _Parts, value: str) -> bool:
    parts.wpos = _numbers(value)
    return parts.wpos is not None


def _wco(parts: _Parts, value: str) -> bool:
    parts.wco = _numbers(value)
    return parts.wco is not None


def _feed_speed(parts: _Parts, value: str) -> bool:
    # grblHAL adds the measured spindle speed as a third value; the commanded one is enough.
    numbers = _numbers(value, 2, 3)
    if numbers is None:
        return False
    parts.feed, parts.speed = numbers[0], numbers[1]
    return True


def _feed_only(parts: _Parts, value: str) -> bool:
    numbers = _numbers(value, 1, 1)
    if numbers is None:
        return False
    parts.feed = numbers[0]
    return True


def _overrides(parts: _Parts, value: str) -> bool:
    numbers = _integers(value, 3)
    if numbers is None:
        return False
    parts.overrides = (numbers[0], numbers[1], numbers[2])
    return True


def _accessories(parts: _Parts, value: str) -> bool:
    # grblHAL sends an empty `A:` when everything goes off; gnea/grbl sends nothing.
    if value and not _capitals(value):
        return False
    parts.accessories = value
    return True


def _pins(parts: _Parts, value: str) -> bool:
    if not _capitals(value):
        return False
    parts.pins = value
    return True


def _buffer(parts: _Parts, value: str) -> bool:
    numbers = _integers(value, 2)
    if numbers is None:
        return False
    parts.buffer = (numbers[0], numbers[1])
    return True


def _line_number(parts: _Parts, value: str) -> bool:
    numbers = _integers(value, 1)
    if numbers is None:
        return False
    parts.line_number = numbers[0]
    return True


def _sd(parts: _Parts, value: str) -> bool:
    if value == "Pending":
        parts.sd = SdProgress(None, "")
        return True
    # The file name comes last and may itself hold commas.
    percent, _, name = value.partition(",")
    if not _NUMBER.fullmatch(percent):
        return False
    parts.sd = SdProgress(min(max(float(percent), 0.0), 100.0), name)
    return True


_READERS: dict[str, Callable[[_Parts, str], bool]] = {
    "MPos": _mpos,
    "WPos": _wpos,
    "WCO": _wco,
    "FS": _feed_speed,
    "F": _feed_only,
    "Ov": _overrides,
    "A": _accessories,
    "Pn": _pins,
    "Bf": _buffer,
    "Ln": _line_number,
    "SD": _sd,
}
