"""The simulated reader fed by code, its Unix socket and a script; and `open_reader`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Mfrc522Config, SimulatedReaderConfig, WedgeConfig
from edge.errors import ReaderError
from edge.hw.mfrc522_reader import Mfrc522Reader
from edge.hw.readers import open_reader
from edge.hw.simreader import SimulatedReader, normalise_uid, send_badge
from edge.hw.wedge import WedgeReader


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "reader.sock"


@pytest.fixture
def served(socket_path: Path) -> Iterator[SimulatedReader]:
    reader = SimulatedReader(SimulatedReaderConfig(kind="simulated", socket=socket_path))
    yield reader
    reader.close()


@pytest.mark.parametrize(
    ("text", "uid"),
    [
        ("04a23bc1d25e80", "04A23BC1D25E80"),
        ("de:ad:be:ef", "DEADBEEF"),
        (" 04-A2-3B ", "04A23B"),
        ("ab" * 16, "AB" * 16),
        ("abc", None),
        ("", None),
        ("zz", None),
        ("ab" * 17, None),
        ("0x1234", None),
    ],
)
def test_normalise_uid(text: str, uid: str | None) -> None:
    assert normalise_uid(text) == uid


def test_presented_badges_are_read_in_order() -> None:
    reader = SimulatedReader()
    assert reader.present("04a23b") and reader.present("DEADBEEF")
    assert reader.read(0.0) == "04A23B"
    assert reader.read(0.0) == "DEADBEEF"
    start = time.monotonic()
    assert reader.read(0.05) is None
    assert time.monotonic() - start >= 0.05


def test_invalid_badges_are_counted_not_raised() -> None:
    reader = SimulatedReader()
    assert not reader.present("not a uid")
    assert not reader.present("ABC")
    assert reader.read(0.0) is None
    assert reader.counters == {"presented": 0, "invalid": 2}


def test_unplugged_reader_raises_until_replugged() -> None:
    reader = SimulatedReader()
    reader.present("DEADBEEF")
    reader.unplug()
    with pytest.raises(ReaderError, match="unplugged"):
        reader.read(0.0)
    reader.replug()
    assert reader.read(0.0) == "DEADBEEF"


def test_unplug_interrupts_a_waiting_read() -> None:
    reader = SimulatedReader()
    timer = threading.Timer(0.05, reader.unplug)
    timer.start()
    start = time.monotonic()
    with pytest.raises(ReaderError):
        reader.read(5.0)
    assert time.monotonic() - start < 1.0
    timer.join()


def test_send_badge_reaches_a_reader_waiting_on_read(
    served: SimulatedReader, socket_path: Path
) -> None:
    assert send_badge(socket_path, "04:a2:3b:c1:d2:5e:80") == "ok"
    assert served.read(1.0) == "04A23BC1D25E80"
    assert send_badge(socket_path, "hello").startswith("error:")
    assert served.read(0.0) is None
    assert served.counters["invalid"] == 1


def test_one_connection_may_send_many_lines(served: SimulatedReader, socket_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2.0)
        conn.connect(str(socket_path))
        conn.sendall(b"AABB\nnope\n\nccdd\n")
        replies = b""
        while replies.count(b"\n") < 3:
            replies += conn.recv(1024)
    assert replies.decode().splitlines() == [
        "ok",
        "error: not a badge UID (1-16 hex bytes)",
        "ok",
    ]
    assert [served.read(1.0), served.read(1.0)] == ["AABB", "CCDD"]


def test_overlong_line_is_refused(served: SimulatedReader, socket_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2.0)
        conn.connect(str(socket_path))
        conn.sendall(b"A" * 1000)
        assert conn.recv(1024) == b"error: line too long\n"
    assert served.counters["invalid"] == 1


def test_close_removes_the_socket_and_a_stale_one_is_replaced(socket_path: Path) -> None:
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(socket_path))
    crashed.close()  # a previous run died without removing its socket file
    assert socket_path.exists()

    reader = SimulatedReader(SimulatedReaderConfig(kind="simulated", socket=socket_path))
    assert send_badge(socket_path, "DEADBEEF") == "ok"
    reader.close()
    assert not socket_path.exists()


def test_send_badge_without_a_reader_is_a_reader_error(socket_path: Path) -> None:
    with pytest.raises(ReaderError, match="no simulated reader"):
        send_badge(socket_path, "DEADBEEF")


def test_script_plays_badges_on_schedule(tmp_path: Path) -> None:
    script = tmp_path / "badges.txt"
    script.write_text(
        "# demo morning\n0.10 04a23bc1d25e80  # Alice\n\n0.0 DEADBEEF\nsoon CAFE\n0.2 XYZ\n",
        encoding="utf-8",
    )
    start = time.monotonic()
    reader = SimulatedReader(SimulatedReaderConfig(kind="simulated", script=script))
    try:
        assert reader.read(1.0) == "DEADBEEF"
        assert reader.read(1.0) == "04A23BC1D25E80"
        assert time.monotonic() - start >= 0.1
        assert reader.counters == {"presented": 2, "invalid": 2}
    finally:
        reader.close()


def test_missing_script_is_a_reader_error(tmp_path: Path) -> None:
    config = SimulatedReaderConfig(kind="simulated", script=tmp_path / "absent.txt")
    with pytest.raises(ReaderError, match=r"absent\.txt"):
        SimulatedReader(config)


def test_open_reader_picks_the_adapter_by_kind(mock_factory: MockFactory, tmp_path: Path) -> None:
    simulated = open_reader(SimulatedReaderConfig(kind="simulated"))
    assert isinstance(simulated, SimulatedReader)
    wedge = open_reader(WedgeConfig(kind="wedge", device=tmp_path / "kbd"))
    assert isinstance(wedge, WedgeReader)
    mfrc522 = open_reader(Mfrc522Config(kind="mfrc522", reset_pin=25), pin_factory=mock_factory)
    try:
        assert isinstance(mfrc522, Mfrc522Reader)
        assert mock_factory.pin(25).state is True  # RST claimed high: the chip runs
    finally:
        mfrc522.close()
