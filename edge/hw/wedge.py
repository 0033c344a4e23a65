"""USB keyboard-wedge badge readers through evdev: the keys they type, turned into UIDs.

The device is grabbed so the digits never reach a console, and reopened after an unplug.
"""

from __future__ import annotations

import errno
import logging
import select
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, NoReturn, Protocol

from edge.config import WedgeConfig
from edge.errors import ReaderError

log = logging.getLogger(__name__)

UidFormat = Literal["hex", "decimal_be", "decimal_le"]

# Linux input-event codes (linux/input-event-codes.h), so decoding needs no evdev.
EV_KEY = 1
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
_ROWS = {2: "1234567890", 16: "qwertyuiop", 30: "asdfghjkl", 44: "zxcvbnm"}
_KEYPAD = {71: "7", 72: "8", 73: "9", 75: "4", 76: "5", 77: "6", 79: "1", 80: "2", 81: "3", 82: "0"}
KEY_CHARS = {
    **{first + i: char for first, row in _ROWS.items() for i, char in enumerate(row)},
    **_KEYPAD,
}
SHIFTS = (KEY_LEFTSHIFT, KEY_RIGHTSHIFT)
UNKNOWN = "\ufffd"  # a key we cannot map spoils the line rather than vanishing from it
MAX_LINE = 32


class KeyDecoder:
    """Assembles the line a reader types, from key events; returns it on Enter."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._chars: list[str] = []
        self._shift = False
        self._overflow = False
        self.dropped = 0

    def feed(self, code: int, value: int) -> str | None:
        if code in SHIFTS:
            self._shift = value != KEY_UP
            return None
        if value != KEY_DOWN:
            return None  # key-up, and autorepeat a reader's firmware never means
        if code in (KEY_ENTER, KEY_KPENTER):
            return self._end_line()
        if len(self._chars) >= self._max_line:
            self._overflow = True
            return None
        char = KEY_CHARS.get(code, UNKNOWN)
        self._chars.append(char.upper() if self._shift and char.isalpha() else char)
        return None

    def reset(self) -> None:
        self._chars.clear()
        self._shift = self._overflow = False

    def _end_line(self) -> str | None:
        line, overflow = "".join(self._chars), self._overflow
        self.reset()
        if overflow:
            self.dropped += 1
            log.warning("badge reader typed more than %d characters; line dropped", self._max_line)
            return None
        return line


def uid_from_typed(text: str, uid_format: UidFormat) -> str | None:
    """The UID as upper-case hex from what the reader typed; None if it is not one.

    The decimal formats are the 10-digit number many readers type for a 4-byte UID, its
    bytes read big-endian or (as most cheap readers do) little-endian.
    """
    text = text.strip()
    if uid_format == "hex":
        digits = "0123456789abcdefABCDEF"
        if not text or len(text) % 2 or len(text) > 32 or text.strip(digits):
            return None
        return text.upper()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) >= 1 << 32:
        return None
    order: Literal["big", "little"] = "big" if uid_format == "decimal_be" else "little"
    return int(text).to_bytes(4, order).hex().upper()


class KeyEvent(Protocol):
    """The part of `evdev.InputEvent` the reader uses."""

    @property
    def type(self) -> int: ...

    @property
    def code(self) -> int: ...

    @property
    def value(self) -> int: ...


class InputDevice(Protocol):
    """The part of `evdev.InputDevice` the reader uses."""

    def fileno(self) -> int: ...

    def read(self) -> Iterable[KeyEvent]: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...


def open_evdev(path: Path) -> InputDevice:
    """Open an input device; evdev is imported here so tests and non-Pi hosts never need it."""
    try:
        import evdev  # noqa: PLC0415
    except ImportError as exc:
        raise ReaderError(
            "keyboard-wedge readers need evdev: install python3-evdev or machinerie[pi]"
        ) from exc
    device: InputDevice = evdev.InputDevice(str(path))
    return device


class WedgeReader:
    """A `BadgeReader` on a keyboard-wedge reader; opened on the first read, reopened after loss.

    A wedge reader types once per presentation and reports no removal, so "once per
    presentation" is the reader's own behaviour.
    """

    def __init__(
        self,
        config: WedgeConfig,
        *,
        open_device: Callable[[Path], InputDevice] = open_evdev,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._open_device = open_device
        self._monotonic = monotonic
        self._device: InputDevice | None = None
        self._decoder = KeyDecoder()
        self._pending: deque[str] = deque()
        self.counters: dict[str, int] = {"bad_lines": 0, "disconnects": 0}

    def read(self, timeout: float) -> str | None:
        device = self._device or self._open()
        deadline = self._monotonic() + timeout
        while not self._pending:
            remaining = deadline - self._monotonic()
            if remaining < 0:
                return None
            try:
                ready, _, _ = select.select([device.fileno()], [], [], remaining)
                if ready:
                    self._drain(device)
            except OSError as exc:
                self._lose(exc)
            if not ready and not self._pending:
                return None
        return self._pending.popleft()

    def close(self) -> None:
        if self._device is not None:
            self._device.close()  # closing the fd also releases the grab
            self._device = None

    def _drain(self, device: InputDevice) -> None:
        try:
            events = list(device.read())
        except BlockingIOError:
            return
        for event in events:
            if event.type != EV_KEY:
                continue
            line = self._decoder.feed(event.code, event.value)
            uid = None if line is None else self._to_uid(line)
            if uid is not None:
                self._pending.append(uid)

    def _to_uid(self, line: str) -> str | None:
        uid = uid_from_typed(line, self._config.uid_format)
        if uid is None:
            self.counters["bad_lines"] += 1
            log.warning("badge reader typed %r: not a %s UID", line, self._config.uid_format)
        return uid

    def _open(self) -> InputDevice:
        path = self._config.device
        try:
            device = self._open_device(path)
        except ReaderError:
            raise  # evdev missing; ReaderError is an OSError too, keep its message
        except OSError as exc:
            raise ReaderError(f"cannot open badge reader {path}: {exc.strerror}") from exc
        try:
            if self._config.grab:
                device.grab()
        except OSError as exc:
            device.close()
            raise ReaderError(f"cannot grab badge reader {path}: {exc.strerror}") from exc
        self._decoder.reset()
        self._device = device
        return device

    def _lose(self, exc: OSError) -> NoReturn:
        self.close()
        self.counters["disconnects"] += 1
        path = self._config.device
        if exc.errno == errno.ENODEV:
            raise ReaderError(f"badge reader {path} disappeared (unplugged?)") from exc
        raise ReaderError(f"reading badge reader {path} failed: {exc.strerror}") from exc
