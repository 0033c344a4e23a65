"""Keyboard-wedge readers: key decoding, UID formats, and the reader's unplug/reopen cycle."""

from __future__ import annotations

import errno
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.config import WedgeConfig
from edge.errors import ReaderError
from edge.hw.wedge import (
    EV_KEY,
    KEY_ENTER,
    KEY_KPENTER,
    KEY_LEFTSHIFT,
    KeyDecoder,
    KeyEvent,
    WedgeReader,
    uid_from_typed,
)

# Linux input-event codes, spelled out here rather than taken from the module under test.
CODES = {
    **{str(d): 2 + (d - 1) % 10 for d in range(1, 10)},
    "0": 11,
    "a": 30,
    "b": 48,
    "c": 46,
    "d": 32,
    "e": 18,
    "f": 33,
}
KEYPAD = {"7": 71, "8": 72, "9": 73, "4": 75, "5": 76, "6": 77, "1": 79, "2": 80, "3": 81, "0": 82}


def typing(text: str, *, enter: int = KEY_ENTER, keypad: bool = False) -> list[tuple[int, int]]:
    """Key events as a reader sends them: down then up per key, Enter at the end."""
    events = []
    for char in text:
        code = (KEYPAD if keypad else CODES)[char.lower()]
        shifted = char.isupper()
        if shifted:
            events.append((KEY_LEFTSHIFT, 1))
        events += [(code, 1), (code, 0)]
        if shifted:
            events.append((KEY_LEFTSHIFT, 0))
    return [*events, (enter, 1), (enter, 0)]


def decode(events: list[tuple[int, int]], decoder: KeyDecoder | None = None) -> list[str]:
    decoder = decoder or KeyDecoder()
    lines = (decoder.feed(code, value) for code, value in events)
    return [line for line in lines if line is not None]


def test_decoder_returns_the_line_on_enter_only() -> None:
    assert decode(typing("0012345678")) == ["0012345678"]
    assert decode(typing("0012345678")[:-2]) == []


def test_decoder_reads_keypad_digits_and_keypad_enter() -> None:
    assert decode(typing("2319407434", enter=KEY_KPENTER, keypad=True)) == ["2319407434"]


def test_decoder_ignores_autorepeat_and_applies_shift_to_letters() -> None:
    events = typing("4A59")
    events.insert(1, (CODES["4"], 2))  # autorepeat of the first key
    assert decode(events) == ["4A59"]
    assert decode(typing("4a59")) == ["4a59"]


def test_decoder_drops_an_overlong_line_and_recovers() -> None:
    decoder = KeyDecoder(max_line=8)
    assert decode(typing("123456789") + typing("1234"), decoder) == ["1234"]
    assert decoder.dropped == 1


def test_unknown_key_spoils_the_line_instead_of_vanishing() -> None:
    key_minus = 12
    line = decode([(CODES["1"], 1), (key_minus, 1), (CODES["2"], 1), (KEY_ENTER, 1)])[0]
    assert uid_from_typed(line, "hex") is None


@pytest.mark.parametrize(
    ("typed", "uid_format", "uid"),
    [
        # UID 4A 59 3F 8A as a MIFARE reader types it: LE (most USB readers) or BE decimal.
        ("2319407434", "decimal_le", "4A593F8A"),
        ("1247362954", "decimal_be", "4A593F8A"),
        # An EM4100 reader's usual 10 digits: the low 32 bits of the tag ID, big-endian.
        ("0012345678", "decimal_be", "00BC614E"),
        ("12345678", "decimal_be", "00BC614E"),
        ("4294967295", "decimal_le", "FFFFFFFF"),
        ("04a23bc1d25e80", "hex", "04A23BC1D25E80"),
        (" DEADBEEF ", "hex", "DEADBEEF"),
    ],
)
def test_uid_from_typed(typed: str, uid_format: str, uid: str) -> None:
    assert uid_from_typed(typed, uid_format) == uid  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "uid_format"),
    [
        ("4294967296", "decimal_le"),  # 2^32: more than 4 bytes
        ("12345678901", "decimal_be"),
        ("12A4", "decimal_be"),
        ("", "decimal_le"),
        ("٣٤", "decimal_be"),  # Unicode digits are not what a reader types
        ("ABC", "hex"),
        ("XYZW", "hex"),
        ("", "hex"),
        ("AB" * 17, "hex"),
    ],
)
def test_uid_from_typed_rejects(typed: str, uid_format: str) -> None:
    assert uid_from_typed(typed, uid_format) is None  # type: ignore[arg-type]


@dataclass(frozen=True)
class Event:
    type: int
    code: int
    value: int


class PipeDevice:
    """An input device whose fd is a real pipe, so the reader's select() really waits."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        self._events: deque[KeyEvent] = deque()
        self.grabbed = False
        self.closed = False
        self.gone = False

    def type_line(self, text: str) -> None:
        self._events.extend(Event(EV_KEY, code, value) for code, value in typing(text))
        os.write(self._write_fd, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._write_fd, b"x")

    def fileno(self) -> int:
        return self._read_fd

    def read(self) -> Iterator[KeyEvent]:
        os.read(self._read_fd, 4096)
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        while self._events:
            yield self._events.popleft()

    def grab(self) -> None:
        self.grabbed = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._read_fd)
            os.close(self._write_fd)


@pytest.fixture
def devices() -> Iterator[list[PipeDevice]]:
    opened: list[PipeDevice] = []
    yield opened
    for device in opened:
        device.close()


def wedge(devices: list[PipeDevice], uid_format: str = "decimal_le") -> WedgeReader:
    def open_device(path: Path) -> PipeDevice:
        if len(devices) > 1 and not devices[-1].closed:
            raise AssertionError("reopened without closing")
        devices.append(PipeDevice())
        return devices[-1]

    config = WedgeConfig.model_validate(
        {"kind": "wedge", "device": "/dev/input/by-id/rfid-event-kbd", "uid_format": uid_format}
    )
    return WedgeReader(config, open_device=open_device)


def test_reader_grabs_the_device_and_returns_typed_uids(devices: list[PipeDevice]) -> None:
    reader = wedge(devices)
    assert reader.read(0.01) is None
    assert devices[0].grabbed
    devices[0].type_line("2319407434")
    assert reader.read(1.0) == "4A593F8A"


def test_bad_line_is_counted_and_the_next_badge_still_read(devices: list[PipeDevice]) -> None:
    reader = wedge(devices, uid_format="hex")
    reader.read(0.0)
    devices[0].type_line("abc")
    devices[0].type_line("DEADBEEF")
    assert reader.read(1.0) == "DEADBEEF"
    assert reader.counters["bad_lines"] == 1


def test_unplugged_device_raises_then_is_reopened(devices: list[PipeDevice]) -> None:
    reader = wedge(devices)
    reader.read(0.0)
    devices[0].unplug()
    with pytest.raises(ReaderError, match="disappeared"):
        reader.read(1.0)
    assert devices[0].closed

    assert reader.read(0.0) is None
    assert len(devices) == 2 and devices[1].grabbed
    devices[1].type_line("1315027968")
    assert reader.read(1.0) == "00BC614E"


def test_missing_device_node_is_a_reader_error(tmp_path: Path) -> None:
    def no_device(path: Path) -> PipeDevice:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))

    config = WedgeConfig(kind="wedge", device=tmp_path / "absent")
    with pytest.raises(ReaderError, match="cannot open"):
        WedgeReader(config, open_device=no_device).read(0.0)


def test_missing_evdev_is_a_reader_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)
    reader = WedgeReader(WedgeConfig(kind="wedge", device=tmp_path / "kbd"))
    with pytest.raises(ReaderError, match="python3-evdev"):
        reader.read(0.0)
