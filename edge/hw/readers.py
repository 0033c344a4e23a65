"""Opens the badge reader the configuration names.

The kind is taken literally: a real reader that fails never falls back to the simulated one.
"""

from __future__ import annotations

from typing import Any, assert_never

from edge.config import Mfrc522Config, ReaderConfig, SimulatedReaderConfig, WedgeConfig
from edge.hw.mfrc522_reader import Mfrc522Reader
from edge.hw.ports import BadgeReader
from edge.hw.simreader import SimulatedReader
from edge.hw.wedge import WedgeReader


def open_reader(config: ReaderConfig, *, pin_factory: Any = None) -> BadgeReader:
    """The adapter for `config.kind`; `pin_factory` is gpiozero's, for the MFRC522's RST/IRQ."""
    if isinstance(config, Mfrc522Config):
        return Mfrc522Reader(config, pin_factory=pin_factory)
    if isinstance(config, WedgeConfig):
        return WedgeReader(config)
    if isinstance(config, SimulatedReaderConfig):
        return SimulatedReader(config)
    assert_never(config)
