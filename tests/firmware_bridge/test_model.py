"""What the normalised model promises every consumer of a controller's self-description."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.model import FIRMWARE_MAX, ControllerView, MachineState, firmware_name


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("Marlin 2.1.2.1 (simulated)", "Marlin 2.1.2.1 (simulated)"),
        ("  Grbl   1.1h\r", "Grbl 1.1h"),  # padding and the line end a banner drags along
        ("Prusa-Firmware\t3.13.2", "Prusa-Firmware 3.13.2"),
        ("Klipper \x00v0.12.0\x1b[0m", "Klipper v0.12.0 [0m"),  # control bytes never pass
        ("\r\n", ""),
    ],
)
def test_firmware_names_are_trimmed_single_spaced_and_printable(said: str, kept: str) -> None:
    assert firmware_name(said) == kept


@given(st.text())
def test_any_text_gives_a_name_the_device_status_accepts(said: str) -> None:
    name = firmware_name(said)
    assert len(name) <= FIRMWARE_MAX and name == name.strip() and name.isprintable()


def test_a_view_names_no_firmware_until_told() -> None:
    assert ControllerView(MachineState.IDLE).firmware == ""
