"""`Mfrc522Reader`: the MFRC522 driver as a `BadgeReader` that reports each card presentation once.

It owns the chip's optional reset and IRQ lines (through gpiozero), checks the chip's health
and hard-resets it when it stops answering.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice, GPIOZeroError

from edge.config import Mfrc522Config
from edge.errors import ReaderError
from edge.hw.mfrc522 import (
    NO_CHIP,
    POLL_STEP_S,
    BadFrame,
    ChipStalled,
    Mfrc522,
    SpiBus,
    halt,
    open_spidev,
    select_uid,
    wake_up,
)

log = logging.getLogger(__name__)


class Mfrc522Reader:
    """A `BadgeReader` on an MFRC522: polls for cards, reports each presentation once.

    Not thread-safe: one thread calls `read`. A card is halted after it is read and woken by
    the next poll's WUPA, so it is seen as present (and not reported again) until a poll
    finds the field empty.
    """

    def __init__(
        self,
        config: Mfrc522Config,
        *,
        spi: SpiBus | None = None,
        pin_factory: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        health_interval_s: float = 1.0,
    ) -> None:
        self._config = config
        self._spi = spi
        self._sleep = sleep
        self._monotonic = monotonic
        self._health_interval_s = health_interval_s
        self._reset_line = _claim_reset_line(config.reset_pin, pin_factory)
        self._irq_line = _claim_irq_line(config.irq_pin, pin_factory)
        self._chip: Mfrc522 | None = None
        self._present: bytes | None = None
        self._next_health = 0.0
        self._where = f"SPI {config.spi_bus}.{config.spi_device}"
        self.counters: dict[str, int] = {"bad_frames": 0, "resets": 0, "stalls": 0}

    def read(self, timeout: float) -> str | None:
        deadline = self._monotonic() + timeout
        while True:
            uid = self._poll_once()
            if uid is not None:
                return uid.hex().upper()
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return None
            self._sleep(min(self._config.poll_interval_s, remaining))

    def close(self) -> None:
        if self._spi is not None:
            self._spi.close()
            self._spi = None
        self._chip = None
        for line in (self._reset_line, self._irq_line):
            if line is not None:
                line.close()

    def _poll_once(self) -> bytes | None:
        try:
            return self._scan_counting_faults(self._ready_chip())
        except ReaderError:
            self._chip = None  # the next read starts over: hard reset, re-init
            raise

    def _scan_counting_faults(self, chip: Mfrc522) -> bytes | None:
        try:
            return self._scan(chip)
        except BadFrame as exc:
            if not self._answers(chip):
                self._restart(chip)  # garbage because nothing drives MISO, not a bad card
                return None
            self.counters["bad_frames"] += 1
            log.debug("corrupt frame ignored: %s", exc)
        except ChipStalled:
            self.counters["stalls"] += 1
            self._restart(chip)
        return None

    def _scan(self, chip: Mfrc522) -> bytes | None:
        try:
            uid = select_uid(chip) if wake_up(chip) is not None else None
        except BadFrame:
            # A card left mid-selection ignores WUPA (ISO 14443-3 §6.2); any other frame,
            # HLTA included, sends it back to IDLE or HALT where the next WUPA reaches it.
            halt(chip)
            raise
        if uid is None:
            self._present = None
            return None
        halt(chip)
        if uid == self._present:
            return None
        self._present = uid
        return uid

    def _ready_chip(self) -> Mfrc522:
        if self._chip is None:
            if self._spi is None:
                cfg = self._config
                self._spi = open_spidev(cfg.spi_bus, cfg.spi_device, cfg.spi_speed_hz)
            chip = Mfrc522(self._spi, pause=self._pause, monotonic=self._monotonic)
            self._hard_reset()
            self._bring_up(chip)
            self._chip = chip
        elif self._monotonic() >= self._next_health and not self._answers(self._chip):
            self._restart(self._chip)
        return self._chip

    def _restart(self, chip: Mfrc522) -> None:
        """Hard-reset a chip that stopped answering; ReaderError if it stays silent."""
        self.counters["resets"] += 1
        self._chip = None
        self._hard_reset()
        self._bring_up(chip)
        self._chip = chip

    def _bring_up(self, chip: Mfrc522) -> None:
        version = chip.version()
        if version in NO_CHIP:
            raise ReaderError(
                f"no MFRC522 answers on {self._where} (VersionReg=0x{version:02X}): "
                "reader unplugged or miswired"
            )
        chip.soft_reset()
        chip.configure(irq_line=self._irq_line is not None)
        self._next_health = self._monotonic() + self._health_interval_s
        log.info("MFRC522 on %s ready, version 0x%02X", self._where, version)

    def _answers(self, chip: Mfrc522) -> bool:
        self._next_health = self._monotonic() + self._health_interval_s
        return chip.version() not in NO_CHIP

    def _hard_reset(self) -> None:
        if self._reset_line is None:
            return
        self._reset_line.off()  # RST low: hard power-down; ≥100 ns is enough
        self._sleep(0.001)
        self._reset_line.on()
        self._sleep(0.05)  # oscillator start-up, as generous as the reference drivers

    def _pause(self, remaining: float) -> None:
        line = self._irq_line
        if line is None or line.is_active:
            # A line already asserted (or stuck) would return at once: poll at a slow pace.
            self._sleep(min(POLL_STEP_S, remaining))
        else:
            line.wait_for_active(timeout=remaining)


def _claim_reset_line(pin: int | str | None, pin_factory: Any) -> Any:
    if pin is None:
        return None
    try:
        # High keeps the chip running; the line is claimed at that level, no reset glitch.
        return DigitalOutputDevice(pin, initial_value=True, pin_factory=pin_factory)
    except GPIOZeroError as exc:
        raise ReaderError(f"cannot claim MFRC522 RST pin {pin}: {exc}") from exc


def _claim_irq_line(pin: int | str | None, pin_factory: Any) -> Any:
    if pin is None:
        return None
    try:
        # The chip drives IRQ low when asserted (IRqInv), so "active" means low.
        return DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
    except GPIOZeroError as exc:
        raise ReaderError(f"cannot claim MFRC522 IRQ pin {pin}: {exc}") from exc
