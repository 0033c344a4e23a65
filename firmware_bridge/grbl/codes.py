"""What GRBL's numbered alarms and errors mean, as data.

The meanings are the facts published in grbl's `doc/csv/alarm_codes_en_US.csv` and
`error_codes_en_US.csv` (v1.1h), reworded; alarm 10 comes from grbl 1.1's dual-axis homing.
grblHAL and FluidNC number beyond these tables, so unknown codes get a generic text.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ALARMS: Mapping[int, str] = MappingProxyType(
    {
        1: "Hard limit triggered; machine position is likely lost, re-homing recommended",
        2: "Soft limit: motion target exceeds machine travel; position retained",
        3: "Reset while in motion; position is likely lost, re-homing recommended",
        4: "Probe fail: probe not in the expected initial state before the probe cycle",
        5: "Probe fail: probe did not contact the workpiece within the programmed travel",
        6: "Homing fail: the active homing cycle was reset",
        7: "Homing fail: safety door opened during the homing cycle",
        8: "Homing fail: pull-off travel failed to clear the limit switch",
        9: "Homing fail: limit switch not found within the search distance",
        10: "Homing fail: second limit switch of a dual-axis machine not found",
    }
)

ERRORS: Mapping[int, str] = MappingProxyType(
    {
        1: "G-code word without a letter",
        2: "Bad or missing numeric value",
        3: "'$' system command not recognised or supported",
        4: "Negative value where a positive one is expected",
        5: "Homing is not enabled in the settings",
        6: "Step pulse time must be greater than 3 µs",
        7: "EEPROM read failed; affected values restored to defaults",
        8: "'$' command only valid when idle",
        9: "G-code locked out during alarm or jog",
        10: "Soft limits need homing enabled",
        11: "Line too long; not executed",
        12: "Setting would exceed the maximum step rate",
        13: "Safety door opened; door state entered",
        14: "Build info or startup line too long for EEPROM",
        15: "Jog target exceeds machine travel; jog ignored",
        16: "Jog command without '=' or with prohibited G-code",
        17: "Laser mode requires PWM output",
        20: "Unsupported or invalid G-code command",
        21: "Two G-code commands of the same modal group in one block",
        22: "Feed rate not set",
        23: "G-code command needs an integer value",
        24: "Two G-code commands in one block both need axis words",
        25: "G-code word repeated in the block",
        26: "G-code command needs axis words but the block has none",
        27: "Line number out of range",
        28: "G-code command missing a required P or L value",
        29: "G59.x work coordinate systems are not supported",
        30: "G53 only allowed with G0 or G1",
        31: "Axis words in a block where nothing uses them",
        32: "G2/G3 arc without an in-plane axis word",
        33: "Motion target is invalid",
        34: "Arc radius is invalid",
        35: "G2/G3 arc without an in-plane offset word",
        36: "Unused value words in the block",
        37: "G43.1 offset on an axis other than the tool length axis",
        38: "Tool number above the supported maximum",
    }
)

# Alarms that a reset raises: the job was stopped on purpose, not by a machine fault.
RESET_ALARMS: frozenset[int] = frozenset({3, 6})


def alarm_text(code: int) -> str:
    return ALARMS.get(code, f"Alarm {code}")


def error_text(code: int) -> str:
    return ERRORS.get(code, f"Error {code}")
