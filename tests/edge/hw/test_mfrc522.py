"""The MFRC522 driver, unchanged, against the register-level chip simulation."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Mfrc522Config
from edge.errors import ReaderError
from edge.hw.iso14443_sim import Corruption, SimulatedCard, crc_bytes
from edge.hw.mfrc522_reader import Mfrc522Reader
from edge.hw.mfrc522_sim import Mfrc522Sim

CLASSIC_1K = "DEADBEEF"
ULTRALIGHT = "04A23BC1D25E80"
TRIPLE = "04A23BC1D25E80112233"
COM_IRQ_REG = 0x04


class FakeClock:
    """Time that moves only when the code under test sleeps: a spinning loop never ends."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chip(clock: FakeClock) -> Iterator[Mfrc522Sim]:
    sim = Mfrc522Sim(monotonic=clock.monotonic)
    yield sim
    sim.close()


def card(uid_hex: str) -> SimulatedCard:
    return SimulatedCard(bytes.fromhex(uid_hex))


def make_reader(chip: Mfrc522Sim, clock: FakeClock, **settings: object) -> Mfrc522Reader:
    config = Mfrc522Config.model_validate({"kind": "mfrc522", "reset_pin": None, **settings})
    return Mfrc522Reader(config, spi=chip, sleep=clock.sleep, monotonic=clock.monotonic)


@pytest.mark.parametrize(
    "uid",
    [CLASSIC_1K, ULTRALIGHT, TRIPLE, "04112288334455"],
    ids=["4-byte", "7-byte", "10-byte", "7-byte-with-0x88-in-level-2"],
)
def test_reads_whole_uid_through_every_cascade_level(
    chip: Mfrc522Sim, clock: FakeClock, uid: str
) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(uid))
    assert reader.read(1.0) == uid
    assert reader.counters == {"bad_frames": 0, "resets": 0, "stalls": 0}


def test_card_left_on_reader_is_reported_once(chip: Mfrc522Sim, clock: FakeClock) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(ULTRALIGHT))
    assert reader.read(1.0) == ULTRALIGHT
    assert reader.read(2.0) is None  # still in the field, halted between polls

    chip.remove()
    assert reader.read(0.2) is None
    chip.place(card(ULTRALIGHT))
    assert reader.read(1.0) == ULTRALIGHT


def test_card_swapped_between_polls_is_reported(chip: Mfrc522Sim, clock: FakeClock) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(CLASSIC_1K))
    assert reader.read(1.0) == CLASSIC_1K
    chip.place(card(TRIPLE))
    assert reader.read(1.0) == TRIPLE


def test_no_card_returns_none_once_timeout_has_passed(chip: Mfrc522Sim, clock: FakeClock) -> None:
    reader = make_reader(chip, clock)
    start = clock.now
    assert reader.read(1.5) is None
    assert 1.5 <= clock.now - start < 1.7
    # The chip's own 25 ms timer ended every wait, never the driver's safety deadline.
    assert reader.counters["stalls"] == 0


def test_waiting_for_a_card_sleeps_instead_of_spinning() -> None:
    chip = Mfrc522Sim()
    config = Mfrc522Config(kind="mfrc522", reset_pin=None)
    reader = Mfrc522Reader(config, spi=chip)
    reader.read(0.0)  # bring the chip up
    before, start = chip.transfers, time.monotonic()
    assert reader.read(0.3) is None
    elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 0.6
    # ~25 transfers per 75 ms poll; a loop polling without sleeping makes tens of thousands.
    assert (chip.transfers - before) / elapsed < 1000


@pytest.mark.parametrize("kind", list(Corruption))
def test_corrupt_frame_is_counted_and_the_card_read_next_poll(
    chip: Mfrc522Sim, clock: FakeClock, kind: Corruption
) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(ULTRALIGHT))
    chip.corrupt_next_frame(kind)
    assert reader.read(0.0) is None
    assert reader.counters["bad_frames"] == 1
    assert reader.read(1.0) == ULTRALIGHT


def test_corrupt_frame_does_not_make_a_resting_card_new(chip: Mfrc522Sim, clock: FakeClock) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(TRIPLE))
    assert reader.read(1.0) == TRIPLE
    chip.corrupt_next_frame(Corruption.CRC)
    assert reader.read(1.0) is None
    assert reader.counters["bad_frames"] == 1


@pytest.mark.parametrize("floating", [0x00, 0xFF], ids=["miso-low", "miso-high"])
def test_unplugged_reader_raises_until_replugged(
    chip: Mfrc522Sim, clock: FakeClock, floating: int
) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(CLASSIC_1K))
    assert reader.read(1.0) == CLASSIC_1K

    chip.unplug(floating)
    for _ in range(2):
        with pytest.raises(ReaderError, match="unplugged"):
            reader.read(1.0)

    chip.remove()
    chip.replug()
    assert reader.read(0.2) is None
    chip.place(card(CLASSIC_1K))
    assert reader.read(1.0) == CLASSIC_1K


def test_card_resting_through_an_unplug_is_not_reported_again(
    chip: Mfrc522Sim, clock: FakeClock
) -> None:
    reader = make_reader(chip, clock)
    chip.place(card(CLASSIC_1K))
    assert reader.read(1.0) == CLASSIC_1K
    chip.unplug()
    with pytest.raises(ReaderError):
        reader.read(1.0)
    chip.replug()
    assert reader.read(1.0) is None


def test_reset_line_is_held_high_and_pulsed_to_revive_a_hung_chip(
    mock_factory: MockFactory, chip: Mfrc522Sim, clock: FakeClock
) -> None:
    reader = make_reader(chip, clock, reset_pin=25)
    rst = mock_factory.pin(25)
    chip.attach_reset_line(rst)
    chip.place(card(CLASSIC_1K))
    assert reader.read(1.0) == CLASSIC_1K
    assert rst.state is True

    rst.clear_states()
    chip.hang()
    chip.place(card(ULTRALIGHT))
    clock.sleep(5.0)  # past the next health check
    assert reader.read(1.0) == ULTRALIGHT
    assert reader.counters["resets"] == 1
    assert [s.state for s in rst.states] == [True, False, True]


def test_hung_chip_without_reset_line_raises(chip: Mfrc522Sim, clock: FakeClock) -> None:
    reader = make_reader(chip, clock)
    assert reader.read(0.0) is None
    chip.hang()
    clock.sleep(5.0)
    with pytest.raises(ReaderError, match="VersionReg=0x00"):
        reader.read(1.0)


def test_irq_line_replaces_polling_the_irq_register(mock_factory: MockFactory) -> None:
    chip = Mfrc522Sim()
    config = Mfrc522Config(kind="mfrc522", reset_pin=None, irq_pin=24)
    reader = Mfrc522Reader(config, spi=chip)
    irq = mock_factory.pin(24)
    chip.attach_irq_line(irq)
    try:
        reader.read(0.0)
        reads_before, frames_before = chip.reads[COM_IRQ_REG], chip.frames_sent
        assert reader.read(0.25) is None
        frames = chip.frames_sent - frames_before
        # Each unanswered frame: read once, wait on the line for the timer, read again.
        assert frames >= 2
        assert chip.reads[COM_IRQ_REG] - reads_before <= 3 * frames
        assert irq.state is True  # released between transactions

        chip.place(card(TRIPLE))
        assert reader.read(1.0) == TRIPLE
        assert False in [s.state for s in irq.states]
    finally:
        reader.close()
        chip.close()


def test_missing_spidev_is_a_reader_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "spidev", None)
    reader = Mfrc522Reader(Mfrc522Config(kind="mfrc522", reset_pin=None))
    with pytest.raises(ReaderError, match="python3-spidev"):
        reader.read(0.0)


def test_chip_crc_coprocessor_matches_iso_14443_examples() -> None:
    assert crc_bytes(b"\x00\x00") == bytes.fromhex("a01e")  # ISO/IEC 14443-3 annex B
    assert crc_bytes(b"\x50\x00") == bytes.fromhex("57cd")  # HLTA as every reader sends it
    assert crc_bytes(b"\x30\x00") == bytes.fromhex("02a8")  # MIFARE READ block 0
