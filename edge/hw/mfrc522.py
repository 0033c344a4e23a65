"""Our own MFRC522 driver: the chip's registers over SPI, ISO 14443-3 selection of a card's UID.

`edge.hw.mfrc522_reader.Mfrc522Reader` turns it into a `BadgeReader`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from edge.errors import ReaderError

log = logging.getLogger(__name__)


class SpiBus(Protocol):
    """Full-duplex SPI: `spidev.SpiDev` on a Pi, `Mfrc522Sim` in tests."""

    def xfer2(self, data: list[int]) -> list[int]: ...

    def close(self) -> None: ...


class Reg(IntEnum):
    """Register addresses (MFRC522 datasheet §9.2)."""

    COMMAND = 0x01
    COM_IEN = 0x02
    DIV_IEN = 0x03
    COM_IRQ = 0x04
    DIV_IRQ = 0x05
    ERROR = 0x06
    FIFO_DATA = 0x09
    FIFO_LEVEL = 0x0A
    CONTROL = 0x0C
    BIT_FRAMING = 0x0D
    COLL = 0x0E
    MODE = 0x11
    TX_MODE = 0x12
    RX_MODE = 0x13
    TX_CONTROL = 0x14
    TX_ASK = 0x15
    CRC_RESULT_H = 0x21
    CRC_RESULT_L = 0x22
    MOD_WIDTH = 0x24
    T_MODE = 0x2A
    T_PRESCALER = 0x2B
    T_RELOAD_H = 0x2C
    T_RELOAD_L = 0x2D
    VERSION = 0x37


class Cmd(IntEnum):
    IDLE = 0x00
    CALC_CRC = 0x03
    TRANSCEIVE = 0x0C
    SOFT_RESET = 0x0F


IRQ_TIMER, IRQ_IDLE, IRQ_RX = 0x01, 0x10, 0x20
DIV_IRQ_CRC = 0x04
POWER_DOWN = 0x10
START_SEND = 0x80
FLUSH_BUFFER = 0x80
FRAME_ERRORS = {
    0x01: "protocol",
    0x02: "parity",
    0x04: "CRC",
    0x08: "collision",
    0x10: "buffer overflow",
    0x40: "overheated",
}
NO_CHIP = (0x00, 0xFF)  # what MISO reads with nothing driving it (pulled low or high)

REQA, WUPA, HLTA = 0x26, 0x52, 0x50
SEL_CODES = (0x93, 0x95, 0x97)
CASCADE_TAG = 0x88
SAK_UID_INCOMPLETE = 0x04
NVB_ANTICOLLISION, NVB_SELECT = 0x20, 0x70

POLL_STEP_S = 0.002
# Four times the chip timer (25 ms): only a chip that stopped working gets this far.
TX_DEADLINE_S = 0.1
MAX_WAIT_POLLS = int(TX_DEADLINE_S / POLL_STEP_S) + 2


class BadFrame(ReaderError):
    """A card's answer was garbled (noise, two cards, a card leaving mid-selection)."""


class ChipStalled(ReaderError):
    """The chip did not finish a command within the whole-transaction deadline."""


@dataclass(frozen=True)
class Frame:
    data: bytes
    last_bits: int  # valid bits in the last byte; 0 means all eight


def open_spidev(bus: int, device: int, speed_hz: int) -> SpiBus:
    """Open /dev/spidev<bus>.<device>; spidev is imported here so tests never need it."""
    try:
        import spidev  # noqa: PLC0415
    except ImportError as exc:
        raise ReaderError(
            "the MFRC522 reader needs spidev: install python3-spidev or machinerie[pi]"
        ) from exc
    spidev_device = spidev.SpiDev()
    try:
        spidev_device.open(bus, device)
    except OSError as exc:
        raise ReaderError(
            f"cannot open /dev/spidev{bus}.{device}: {exc.strerror} (is SPI enabled?)"
        ) from exc
    spidev_device.max_speed_hz = speed_hz
    spidev_device.mode = 0  # CPOL 0, CPHA 0: the only SPI mode the MFRC522 speaks
    spi: SpiBus = spidev_device
    return spi


Outcome = Callable[[int], bool | None]  # register value -> done, gave up, or keep waiting


class Mfrc522:
    """The chip: register access, commands and frames, every wait bounded."""

    def __init__(
        self,
        spi: SpiBus,
        *,
        pause: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._spi = spi
        self._pause = pause
        self._monotonic = monotonic

    def read(self, reg: Reg) -> int:
        return self._xfer([_read_address(reg), 0])[1]

    def read_many(self, reg: Reg, count: int) -> bytes:
        # On a read the chip clocks out one register per address byte received.
        return bytes(self._xfer([_read_address(reg)] * count + [0])[1:]) if count else b""

    def write(self, reg: Reg, *values: int) -> None:
        # On a write every byte after the address goes to that same register.
        self._xfer([_write_address(reg), *values])

    def version(self) -> int:
        return self.read(Reg.VERSION)

    def soft_reset(self) -> None:
        self.write(Reg.COMMAND, Cmd.SOFT_RESET)
        # PowerDown stays set until the oscillator has restarted; registers are unusable before.
        self._wait(Reg.COMMAND, lambda v: True if not v & POWER_DOWN else None)

    def configure(self, *, irq_line: bool) -> None:
        self.write(Reg.TX_MODE, 0x00)  # 106 kbit/s, no hardware CRC: anticollision frames have none
        self.write(Reg.RX_MODE, 0x00)
        self.write(Reg.MOD_WIDTH, 0x26)
        # TAuto: the timer starts when a frame has been sent, so it bounds the wait for an
        # answer; 13.56 MHz / (2·169 + 1) = 40 kHz, 1000 ticks = 25 ms.
        self.write(Reg.T_MODE, 0x80)
        self.write(Reg.T_PRESCALER, 0xA9)
        self.write(Reg.T_RELOAD_H, 0x03)
        self.write(Reg.T_RELOAD_L, 0xE8)
        self.write(Reg.TX_ASK, 0x40)  # 14443-A needs 100 % ASK; the reset value does not force it
        self.write(Reg.MODE, 0x3D)  # CRC preset 0x6363 is CRC_A's; the reset value presets 0xFFFF
        # ValuesAfterColl off: bits after a collision read as zero, never as a plausible UID.
        self.write(Reg.COLL, self.read(Reg.COLL) & 0x7F)
        if irq_line:
            # IRqInv makes the line active-low; push-pull drives it both ways, no pull-up needed.
            self.write(Reg.COM_IEN, 0x80 | IRQ_RX | IRQ_IDLE | IRQ_TIMER)
            self.write(Reg.DIV_IEN, 0x80 | DIV_IRQ_CRC)
        self.write(Reg.TX_CONTROL, self.read(Reg.TX_CONTROL) | 0x03)  # antenna drivers on

    def transceive(self, data: bytes, tx_last_bits: int = 0) -> Frame | None:
        """Send a frame; the card's answer, or None when the chip timer expired without one."""
        self._load(data)
        self.write(Reg.BIT_FRAMING, tx_last_bits)
        self.write(Reg.COMMAND, Cmd.TRANSCEIVE)
        self.write(Reg.BIT_FRAMING, START_SEND | tx_last_bits)
        try:
            answered = self._wait(Reg.COM_IRQ, _transceive_outcome)
        finally:
            self.write(Reg.COMMAND, Cmd.IDLE)
            self.write(Reg.COM_IRQ, 0x7F)  # release a wired IRQ line between transactions
        return self._received() if answered else None

    def crc_a(self, data: bytes) -> bytes:
        """ISO 14443-3 CRC_A of `data` from the chip's coprocessor, low byte first."""
        self._load(data)
        self.write(Reg.COMMAND, Cmd.CALC_CRC)
        try:
            self._wait(Reg.DIV_IRQ, lambda v: True if v & DIV_IRQ_CRC else None)
        finally:
            self.write(Reg.COMMAND, Cmd.IDLE)
        self.write(Reg.DIV_IRQ, DIV_IRQ_CRC)  # clear it, or a wired IRQ line stays asserted
        return bytes((self.read(Reg.CRC_RESULT_L), self.read(Reg.CRC_RESULT_H)))

    def _load(self, data: bytes) -> None:
        self.write(Reg.COMMAND, Cmd.IDLE)
        self.write(Reg.COM_IRQ, 0x7F)  # Set1 = 0: every bit written as 1 is cleared
        self.write(Reg.DIV_IRQ, DIV_IRQ_CRC)
        self.write(Reg.FIFO_LEVEL, FLUSH_BUFFER)
        self.write(Reg.FIFO_DATA, *data)

    def _received(self) -> Frame:
        errors = self.read(Reg.ERROR)
        named = [name for bit, name in FRAME_ERRORS.items() if errors & bit]
        if named:
            raise BadFrame(f"MFRC522 receive error: {', '.join(named)}")
        level = self.read(Reg.FIFO_LEVEL) & 0x7F
        data = self.read_many(Reg.FIFO_DATA, level)
        return Frame(data, self.read(Reg.CONTROL) & 0x07)

    def _wait(self, reg: Reg, outcome: Outcome) -> bool:
        deadline = self._monotonic() + TX_DEADLINE_S
        # Bounded in polls as well as in time, so even a clock that does not move cannot spin.
        for _ in range(MAX_WAIT_POLLS):
            value = self.read(reg)
            result = outcome(value)
            if result is not None:
                return result
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                break
            self._pause(remaining)
        raise ChipStalled(f"MFRC522 command did not finish ({reg.name} = 0x{value:02X})")

    def _xfer(self, data: list[int]) -> list[int]:
        try:
            return self._spi.xfer2(data)
        except OSError as exc:
            raise ReaderError(f"SPI transfer to the MFRC522 failed: {exc}") from exc


def _read_address(reg: int) -> int:
    return ((reg << 1) & 0x7E) | 0x80


def _write_address(reg: int) -> int:
    return (reg << 1) & 0x7E


def _transceive_outcome(irq: int) -> bool | None:
    # Transceive never goes idle by itself: RxIRq marks an answer, TimerIRq its absence.
    if irq & (IRQ_RX | IRQ_IDLE):
        return True
    return False if irq & IRQ_TIMER else None


def wake_up(chip: Mfrc522) -> bytes | None:
    """WUPA: answered by idle and halted cards alike, so a card we halted still shows."""
    frame = chip.transceive(bytes([WUPA]), tx_last_bits=7)  # a short frame is 7 bits
    if frame is None:
        return None
    if len(frame.data) != 2 or frame.last_bits:
        raise BadFrame(f"ATQA of {len(frame.data)} bytes")
    return frame.data


def select_uid(chip: Mfrc522) -> bytes:
    """Run the cascade levels until the card's SAK says its UID is complete."""
    uid = bytearray()
    for level, sel in enumerate(SEL_CODES, start=1):
        part = _anticollision(chip, sel)
        sak = _select(chip, sel, part)
        if not sak & SAK_UID_INCOMPLETE:
            return bytes(uid + part[:4])
        if part[0] != CASCADE_TAG:
            raise BadFrame(f"UID continues after level {level} but no cascade tag came")
        uid += part[1:4]
    raise BadFrame("UID continues past cascade level 3")


def halt(chip: Mfrc522) -> None:
    command = bytes([HLTA, 0x00])
    try:
        # A card acknowledges HLTA by silence; if it did answer, the next WUPA copes anyway.
        chip.transceive(command + chip.crc_a(command))
    except BadFrame:
        log.debug("answer to HLTA ignored")


def _anticollision(chip: Mfrc522, sel: int) -> bytes:
    # NVB 0x20 gives no UID bits, so the card answers its whole CLn: 4 bytes and their BCC.
    frame = chip.transceive(bytes([sel, NVB_ANTICOLLISION]))
    if frame is None:
        raise BadFrame("card left during anticollision")
    part = frame.data
    if len(part) != 5 or frame.last_bits:
        raise BadFrame(f"anticollision answer of {len(part)} bytes")
    if part[0] ^ part[1] ^ part[2] ^ part[3] != part[4]:
        raise BadFrame(f"BCC mismatch in {part.hex()}")
    return part


def _select(chip: Mfrc522, sel: int, part: bytes) -> int:
    command = bytes([sel, NVB_SELECT]) + part
    frame = chip.transceive(command + chip.crc_a(command))
    if frame is None:
        raise BadFrame("card left during SELECT")
    if len(frame.data) != 3 or frame.last_bits:
        raise BadFrame(f"SAK answer of {len(frame.data)} bytes")
    if chip.crc_a(frame.data[:1]) != frame.data[1:]:
        raise BadFrame("CRC_A mismatch in SAK")
    return frame.data[0]
