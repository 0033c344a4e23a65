"""A register-level simulation of the MFRC522 chip and of ISO 14443-A cards in its field.

It speaks SPI like the chip (`SpiBus`), so the real driver is tested unchanged, byte for byte.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from edge.hw.iso14443_sim import Corruption, SimulatedCard, crc_a

# Addresses and bits written from the datasheet apart from the driver's, so a wrong value in
# one of them shows up as a failing test rather than agreeing with itself.
COMMAND, COM_IEN, DIV_IEN, COM_IRQ, DIV_IRQ, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING, COLL = 0x09, 0x0A, 0x0C, 0x0D, 0x0E
MODE, TX_CONTROL, CRC_RESULT_H, CRC_RESULT_L = 0x11, 0x14, 0x21, 0x22
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L, VERSION = 0x2A, 0x2B, 0x2C, 0x2D, 0x37

CMD_IDLE, CMD_CALC_CRC, CMD_TRANSCEIVE, CMD_SOFT_RESET = 0x0, 0x3, 0xC, 0xF
TIMER_IRQ, ERR_IRQ, RX_IRQ, TX_IRQ = 0x01, 0x02, 0x20, 0x40
CRC_IRQ = 0x04
BUFFER_OVFL = 0x10
FIFO_SIZE = 64
CLOCK_HZ = 13_560_000
CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)  # ModeReg CRCPreset bits 1..0

# Reset values of the registers a driver depends on (datasheet §9.2).
RESET_VALUES = {
    COMMAND: 0x20,
    COM_IEN: 0x80,
    COM_IRQ: 0x14,
    0x07: 0x21,
    0x0B: 0x08,
    CONTROL: 0x10,
    COLL: 0xA0,
    MODE: 0x3F,
    TX_CONTROL: 0x80,
    0x16: 0x10,
    0x17: 0x84,
    0x18: 0x84,
    0x19: 0x4D,
    0x24: 0x26,
}


class ResetLine(Protocol):
    """What the sim samples of gpiozero's MockPin wired to RST."""

    @property
    def state(self) -> bool: ...

    @property
    def states(self) -> Sequence[tuple[float, bool]]: ...


class IrqLine(Protocol):
    """gpiozero's MockPin wired to IRQ, driven by the sim."""

    def drive_low(self) -> None: ...

    def drive_high(self) -> None: ...


class Mfrc522Sim:
    """The chip on an SPI bus: registers, FIFO, commands, CRC and timer, one card in its field."""

    def __init__(
        self, *, monotonic: Callable[[], float] = time.monotonic, version: int = 0x92
    ) -> None:
        self._monotonic = monotonic
        self._version = version
        self._lock = threading.RLock()
        self._regs = bytearray(FIFO_SIZE)
        self._fifo: deque[int] = deque()
        self._crc = 0
        self._timer_due: float | None = None
        self._timer_thread: threading.Timer | None = None
        self._card: SimulatedCard | None = None
        self._floating: int | None = None
        self._hung = False
        self._rst: ResetLine | None = None
        self._rst_seen = 0
        self._irq: IrqLine | None = None
        self._irq_level: bool | None = None
        self.transfers = 0
        self.reads: Counter[int] = Counter()
        self.frames_sent = 0
        self._writers: dict[int, Callable[[int], None]] = {
            COMMAND: self._command,
            COM_IRQ: partial(self._irq_write, COM_IRQ),
            DIV_IRQ: partial(self._irq_write, DIV_IRQ),
            FIFO_DATA: self._push,
            FIFO_LEVEL: self._fifo_level_write,
            BIT_FRAMING: self._bit_framing_write,
            TX_CONTROL: self._tx_control_write,
            CONTROL: self._control_write,
        }
        self._power_on_reset()

    # -- what a test does to the hardware --

    def place(self, card: SimulatedCard) -> None:
        with self._lock:
            if self._card is not None:
                self._card.power_off()
            card.power_off()
            self._card = card

    def remove(self) -> None:
        with self._lock:
            if self._card is not None:
                self._card.power_off()
            self._card = None

    def corrupt_next_frame(self, kind: Corruption) -> None:
        if self._card is None:
            raise ValueError("no card in the field to corrupt a frame of")
        self._card.corrupt_next(kind)

    def unplug(self, floating: int = 0x00) -> None:
        """Disconnect the module: MISO floats to `floating` (0x00 pulled low, 0xFF high)."""
        with self._lock:
            self._floating = floating

    def replug(self) -> None:
        with self._lock:
            self._floating = None
            self._power_on_reset()  # the module lost its supply with the cable

    def hang(self) -> None:
        """Stop answering, as after an ESD glitch, until RST is pulsed low."""
        with self._lock:
            self._hung = True

    def attach_reset_line(self, pin: ResetLine) -> None:
        self._rst = pin
        self._rst_seen = len(pin.states)

    def attach_irq_line(self, pin: IrqLine) -> None:
        """Drive `pin` like the chip's IRQ output; the timer then fires in real time."""
        with self._lock:
            self._irq, self._irq_level = pin, None
            self._drive_irq()

    @property
    def antenna_on(self) -> bool:
        return self._regs[TX_CONTROL] & 0x03 == 0x03

    # -- SpiBus --

    def xfer2(self, data: list[int]) -> list[int]:
        with self._lock:
            self.transfers += 1
            self._sample_reset_line()
            if self._floating is not None:
                return [self._floating] * len(data)
            if self._hung:
                return [0x00] * len(data)
            self._expire_timer()
            out = self._transfer(data)
            self._drive_irq()
            return out

    def close(self) -> None:
        with self._lock:
            self._stop_timer()

    # -- registers --

    def _transfer(self, data: list[int]) -> list[int]:
        if data[0] & 0x80:
            # MISO answers each address byte with that register one byte later.
            return [0x00] + [self._read((a >> 1) & 0x3F) for a in data[:-1]]
        for value in data[1:]:
            self._write((data[0] >> 1) & 0x3F, value)
        return [0x00] * len(data)

    def _read(self, reg: int) -> int:
        self.reads[reg] += 1
        if reg == FIFO_DATA:
            return self._fifo.popleft() if self._fifo else 0x00
        if reg == FIFO_LEVEL:
            return len(self._fifo)
        if reg == VERSION:
            return self._version
        return self._regs[reg]

    def _write(self, reg: int, value: int) -> None:
        special = self._writers.get(reg)
        if special is not None:
            special(value)
        elif reg not in (ERROR, VERSION):  # read-only
            self._regs[reg] = value

    def _irq_write(self, reg: int, value: int) -> None:
        bits = value & 0x7F
        # Set1/Set2 in bit 7 chooses whether the bits written as 1 are set or cleared.
        self._regs[reg] = self._regs[reg] | bits if value & 0x80 else self._regs[reg] & ~bits

    def _fifo_level_write(self, value: int) -> None:
        if value & 0x80:  # FlushBuffer
            self._fifo.clear()
            self._regs[ERROR] &= ~BUFFER_OVFL

    def _bit_framing_write(self, value: int) -> None:
        self._regs[BIT_FRAMING] = value
        if value & 0x80 and self._regs[COMMAND] & 0x0F == CMD_TRANSCEIVE:  # StartSend
            self._transmit()

    def _tx_control_write(self, value: int) -> None:
        self._regs[TX_CONTROL] = value
        if not self.antenna_on and self._card is not None:
            self._card.power_off()  # no field, no power for the card

    def _control_write(self, value: int) -> None:
        self._regs[CONTROL] = (self._regs[CONTROL] & 0x07) | (value & 0xF8)  # RxLastBits is RO

    def _push(self, value: int) -> None:
        if len(self._fifo) >= FIFO_SIZE:
            self._regs[ERROR] |= BUFFER_OVFL
        elif self._regs[COMMAND] & 0x0F == CMD_CALC_CRC:
            self._crc_feed(bytes([value]))  # CalcCRC goes on with every byte written later
        else:
            self._fifo.append(value)

    def _command(self, value: int) -> None:
        command = value & 0x0F
        if command == CMD_SOFT_RESET:
            self._power_on_reset()
            return
        self._regs[COMMAND] = value & 0x3F
        if command == CMD_CALC_CRC:
            self._crc = CRC_PRESETS[self._regs[MODE] & 0x03]
            data = bytes(self._fifo)
            self._fifo.clear()
            self._crc_feed(data)

    def _crc_feed(self, data: bytes) -> None:
        self._crc = crc_a(data, preset=self._crc)
        self._regs[CRC_RESULT_H], self._regs[CRC_RESULT_L] = self._crc >> 8, self._crc & 0xFF
        self._regs[DIV_IRQ] |= CRC_IRQ

    def _transmit(self) -> None:
        frame = bytes(self._fifo)
        self._fifo.clear()
        self.frames_sent += 1
        self._stop_timer()
        self._regs[ERROR] &= BUFFER_OVFL  # the other error bits clear as the receiver starts
        self._regs[COM_IRQ] |= TX_IRQ
        card = self._card if self.antenna_on else None
        answer = card.receive(frame, self._regs[BIT_FRAMING] & 0x07) if card else None
        if answer is None:
            self._start_timer()
            return
        self._fifo.extend(answer.data)
        self._regs[CONTROL] = (self._regs[CONTROL] & 0xF8) | answer.last_bits
        self._regs[ERROR] = answer.errors
        self._regs[COM_IRQ] |= RX_IRQ | (ERR_IRQ if answer.errors else 0)

    # -- timer, IRQ and RST --

    def _start_timer(self) -> None:
        if not self._regs[T_MODE] & 0x80:
            return  # without TAuto the timer does not start: nothing bounds the wait
        prescaler = (self._regs[T_MODE] & 0x0F) << 8 | self._regs[T_PRESCALER]
        reload = self._regs[T_RELOAD_H] << 8 | self._regs[T_RELOAD_L]
        period = (2 * prescaler + 1) * (reload + 1) / CLOCK_HZ
        self._timer_due = self._monotonic() + period
        if self._irq is not None:
            self._timer_thread = threading.Timer(period, self._timer_fired)
            self._timer_thread.daemon = True
            self._timer_thread.start()

    def _timer_fired(self) -> None:
        with self._lock:
            if self._timer_due is not None and threading.current_thread() is self._timer_thread:
                self._timer_due = self._monotonic()
                self._expire_timer()
                self._drive_irq()

    def _expire_timer(self) -> None:
        if self._timer_due is not None and self._monotonic() >= self._timer_due:
            self._timer_due = None
            self._regs[COM_IRQ] |= TIMER_IRQ

    def _stop_timer(self) -> None:
        self._timer_due = None
        if self._timer_thread is not None:
            self._timer_thread.cancel()
            self._timer_thread = None

    def _drive_irq(self) -> None:
        regs = self._regs
        asserted = bool(regs[COM_IRQ] & regs[COM_IEN] & 0x7F) or bool(
            regs[DIV_IRQ] & regs[DIV_IEN] & 0x14
        )
        level = not asserted if regs[COM_IEN] & 0x80 else asserted  # IRqInv
        if self._irq is not None and level != self._irq_level:
            self._irq_level = level
            (self._irq.drive_high if level else self._irq.drive_low)()

    def _sample_reset_line(self) -> None:
        if self._rst is None:
            return
        states = self._rst.states
        if len(states) < self._rst_seen:
            self._rst_seen = 0  # the test cleared the pin's history
        pulsed = any(not state for _, state in states[self._rst_seen :])
        self._rst_seen = len(states)
        if pulsed and self._rst.state and self._floating is None:
            self._power_on_reset()  # a low pulse on RST: hard power-down, then a fresh start

    def _power_on_reset(self) -> None:
        self._stop_timer()
        self._regs[:] = bytes(FIFO_SIZE)
        for reg, value in RESET_VALUES.items():
            self._regs[reg] = value
        self._fifo.clear()
        self._hung = False
        if self._card is not None:
            self._card.power_off()  # the antenna is off after reset
