"""Marlin and Prusa lines as real printers print them, and anything else, through the parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.framing import decode
from firmware_bridge.marlin.parse import (
    Action,
    Busy,
    Capability,
    Echo,
    Empty,
    Error,
    ErrorKind,
    FileOpened,
    FileSelected,
    Firmware,
    Message,
    Ok,
    Position,
    PrintTime,
    PrusaProgress,
    Reading,
    Resend,
    Reset,
    SdDone,
    SdNotPrinting,
    SdStatus,
    Temperatures,
    Unknown,
    Wait,
    canonical_temperatures,
    checksum,
    frame,
    join_errors,
    parse,
    parse_firmware_fields,
)

# -- host to printer ------------------------------------------------------------------------

# Lines from real OctoPrint serial logs, checksums recomputed in the research (§1.1).
LOGGED_FRAMES = [
    (1, "M115", b"N1 M115*39\n"),
    (46, "M105", b"N46 M105*21\n"),
    (50, "M113 S2", b"N50 M113 S2*84\n"),
    (48, "M84", b"N48 M84*35\n"),
]


@pytest.mark.parametrize(("n", "command", "wire"), LOGGED_FRAMES)
def test_frames_match_logged_lines(n: int, command: str, wire: bytes) -> None:
    assert frame(n, command) == wire
    body, _, given_sum = wire.decode().strip().partition("*")
    assert checksum(body) == int(given_sum)
    assert checksum(wire.decode()) == int(given_sum)  # everything after `*` is ignored


def test_the_hello_line() -> None:
    # OctoPrint's sayHello line, as its logs show it: `N0 M110 N0*125`.
    assert frame(0, "M110 N0") == b"N0 M110 N0*125\n"


@given(st.integers(min_value=0, max_value=10**9), st.text(alphabet="GMTXYZEFS0123456789. "))
def test_frames_always_carry_their_checksum(n: int, command: str) -> None:
    line = frame(n, command).decode()
    body, star, given_sum = line.rstrip("\n").rpartition("*")
    assert star == "*"
    assert body.startswith(f"N{n}")
    assert checksum(body) == int(given_sum)


# -- acknowledgements -----------------------------------------------------------------------

GLUED = (
    "T:190.26 /190.00 B:59.98 /60.00 T0:190.10 /190.00 T1:190.26 /190.00 "
    "@:64 B@:18 @0:65 @N7531ok N7531 P0 B3"
)

ACK_CASES: list[tuple[str, tuple[Message, ...]]] = [
    ("ok", (Ok(),)),
    # MarlinFirmware/Marlin#9111 (ADVANCED_OK): line number, planner and buffer slots.
    ("ok N7530 P1 B3", (Ok(7530, 1, 3),)),
    # Repetier acknowledges with the line number alone (OctoPrint's comm layer).
    ("ok 42", (Ok(42),)),
    # MarlinFirmware/Marlin#9111: the ok glued to an M155 autoreport, temperatures kept.
    (
        GLUED,
        (
            Temperatures(
                (
                    Reading("T", 190.26, 190.0),
                    Reading("B", 59.98, 60.0),
                    Reading("T0", 190.1, 190.0),
                    Reading("T1", 190.26, 190.0),
                )
            ),
            Ok(7531, 0, 3),
        ),
    ),
    # A glued bare ok (no ADVANCED_OK) still splits when the head is an autoreport.
    (
        "T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0ok",
        (Temperatures((Reading("T", 21.0, 0.0), Reading("B", 21.0, 0.0))), Ok()),
    ),
    # ...but a word ending in "ok" is no ack (Marlin's boot line).
    ("echo:SD card ok", (Echo("SD card ok"),)),
    # Marlin NO_TIMEOUTS (research §1.1).
    ("wait", (Wait(),)),
    # The busy protocol (research §1.3), with and without the echo prefix.
    ("echo:busy: processing", (Busy("processing"),)),
    ("echo:busy: paused for user", (Busy("paused for user"),)),
    ("busy: processing", (Busy("processing"),)),
]


@pytest.mark.parametrize(("line", "expected"), ACK_CASES)
def test_acknowledgements(line: str, expected: tuple[Message, ...]) -> None:
    assert parse(line) == expected


def test_busy_paused_means_waiting_for_the_user() -> None:
    assert Busy("paused for user").paused
    assert not Busy("processing").paused


# OctoPrint's test_parse_resend_line table (tests/plugins/serial_connector); the last is
# Teacup's form (OctoPrint#300).
RESEND_LINES = [
    "Resend:23",
    "Resend: N23",
    "Resend: N:23",
    "rs 23",
    "rs N23",
    "rs N:23",
    "rs N23 expected checksum 109",
]


@pytest.mark.parametrize("line", RESEND_LINES)
def test_resend_requests(line: str) -> None:
    assert parse(line) == (Resend(23),)


# -- errors ---------------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, ErrorKind, str | None]] = [
    # OctoPrint's test_serial_comm.py error-handling table (Marlin, Repetier, `!!`):
    ("Error: Line Number is not Last Line Number+1, Last Line: 1", ErrorKind.RESEND, None),
    ("Error: Expected Line 1 got 2", ErrorKind.RESEND, None),
    ("!! expected line 1 got 2", ErrorKind.RESEND, None),
    ("Error: No Line Number with checksum, Last Line: 1", ErrorKind.COMM, None),
    ("Error: checksum mismatch", ErrorKind.RESEND, None),
    ("Error: Wrong checksum", ErrorKind.RESEND, None),
    ("Error: No Checksum with line number, Last Line: 1", ErrorKind.RESEND, None),
    ("Error: Missing checksum", ErrorKind.RESEND, None),
    ("Error: volume.init failed", ErrorKind.SD, None),
    ("Error: openRoot failed", ErrorKind.SD, None),
    ("Error: workDir open failed", ErrorKind.SD, None),
    ("Error: Cannot enter subdir: folder", ErrorKind.SD, None),
    ("Error: file.open failed", ErrorKind.SD, None),
    ("Error: error writing to file", ErrorKind.SD, None),
    ("Error: open failed, File: foo.gco", ErrorKind.SD, None),
    ("Error: Cannot open foo.gco", ErrorKind.SD, None),
    ('Error: Unknown command: "ABC"', ErrorKind.UNKNOWN_COMMAND, None),
    ("Error: Unknown command:ABC", ErrorKind.UNKNOWN_COMMAND, None),
    ("Error: Printer on fire", ErrorKind.OTHER, None),
    # knutwurst/Marlin-2-0-x-Anycubic-i3-MEGA-S#289, a Pronterface log of Marlin 2:
    (
        "Error:Thermal Runaway, system stopped! Heater_ID: E0",
        ErrorKind.OTHER,
        "marlin_thermal_runaway",
    ),
    ("Error:Printer halted. kill() called!", ErrorKind.FATAL, "marlin_kill"),
    # MarlinFirmware/Marlin#8403 and #18278 (hotend and bed):
    (
        "Error:Heating failed, system stopped! Heater_ID: 0",
        ErrorKind.OTHER,
        "marlin_heating_failed",
    ),
    (
        "Error:Heating failed, system stopped! Heater_ID: bed",
        ErrorKind.OTHER,
        "marlin_heating_failed",
    ),
    # MarlinFirmware/Marlin#2452, Marlin 1.0 after MINTEMP:
    (
        "Error:Printer stopped due to errors. Fix the error and use M999 to restart. "
        "(Temperature is reset. Set it after restarting)",
        ErrorKind.FATAL,
        "marlin_stopped",
    ),
    # MarlinFirmware/Marlin PR #8230, the AVR watchdog message:
    ("Error:Watchdog barked, please turn off the printer.", ErrorKind.FATAL, "marlin_watchdog"),
    # Marlin 1.1's M85 inactivity kill (MSG_KILL_INACTIVE_TIME), as a board printed it:
    (
        "Error:KILL caused by too much inactive time - current command: M105",
        ErrorKind.FATAL,
        "marlin_kill",
    ),
    # Klipper behind its pseudo-tty (OctoPrint's virtual printer, broken-klipper mode):
    ("!! Lost communication with MCU 'mcu'", ErrorKind.FATAL, "klipper_mcu_lost"),
    # Repetier's fatal errors (OctoPrint rewrites them to `Error:fatal:`):
    ("fatal: Heater decoupled", ErrorKind.FATAL, "marlin_fatal"),
    ("Error:MAXTEMP triggered, system stopped! Heater_ID: bed", ErrorKind.OTHER, "marlin_maxtemp"),
]


@pytest.mark.parametrize(("line", "kind", "alarm"), ERROR_CASES)
def test_errors_are_classified(line: str, kind: ErrorKind, alarm: str | None) -> None:
    (message,) = parse(line)
    assert isinstance(message, Error)
    assert (message.kind, message.alarm) == (kind, alarm)
    assert not message.partial


def test_multi_line_errors_join() -> None:
    # MarlinFirmware/Marlin#2452: Marlin 1.0 splits the message after the heater number.
    (first,) = parse("Error:0")
    (second,) = parse(": Extruder switched off. MINTEMP triggered !")
    assert isinstance(first, Error) and first.partial
    assert isinstance(second, Error) and second.continuation
    joined = join_errors(first, second)
    assert joined.alarm == "marlin_mintemp"
    assert joined.message == "0: Extruder switched off. MINTEMP triggered !"


def test_a_kill_after_a_thermal_error_keeps_the_thermal_code() -> None:
    (runaway,) = parse("Error:Thermal Runaway, system stopped! Heater_ID: E0")
    (kill,) = parse("Error:Printer halted. kill() called!")
    assert isinstance(runaway, Error) and isinstance(kill, Error)
    joined = join_errors(runaway, kill)
    assert joined.alarm == "marlin_thermal_runaway"
    assert joined.kind is ErrorKind.FATAL
    assert "kill() called" in joined.message


# -- temperatures ---------------------------------------------------------------------------

# OctoPrint's test_process_temperature_line table, canonicalised for tool 0.
TEMPERATURE_CASES: list[tuple[str, dict[str, tuple[float, float | None]]]] = [
    ("T:23.0 B:60.0", {"T0": (23.0, None), "B": (60.0, None)}),
    ("T:23.0/220.0 B:60.0/70.0", {"T0": (23.0, 220.0), "B": (60.0, 70.0)}),
    (
        "ok T:23.0/220.0 T0:23.0/220.0 T1:50.2/210.0 T2:39.4/220.0 B:60.0",
        {"T0": (23.0, 220.0), "T1": (50.2, 210.0), "T2": (39.4, 220.0), "B": (60.0, None)},
    ),
    ("ok T:-55.7/0 T0:-55.7/0 T1:150.0/210.0", {"T0": (-55.7, 0.0), "T1": (150.0, 210.0)}),
    ("T:210.04 /210.00 B:52.00 /52.00 @:85 B@:31", {"T0": (210.04, 210.0), "B": (52.0, 52.0)}),
    (
        "T:210.04 /210.00 B:52.00 /52.00 @:85 F0:255.0 /255.0",
        {"T0": (210.04, 210.0), "B": (52.0, 52.0), "F0": (255.0, 255.0)},
    ),
    ("T:210.04 /210.00 @B:52.00 /52.00", {"T0": (210.04, 210.0)}),
    (
        "T:210.04 /210.00 B:52.00 /52.00 @:85 B:1234.0 /1234.0",
        {"T0": (210.04, 210.0), "B": (52.0, 52.0)},
    ),
    # Prusa MK3 (research §1.4): P is the PINDA probe, A the ambient sensor.
    (
        "T:240.4 /240.0 B:83.8 /85.0 T0:240.4 /240.0 @:24 B@:63 P:0.0 A:38.9",
        {
            "T0": (240.4, 240.0),
            "B": (83.8, 85.0),
            "P": (0.0, None),
            "A": (38.9, None),
        },
    ),
    # OctoPrint/OctoPrint#4422, a Prusa short line: E is the extruder, not a sensor we show.
    ("T:240.00 E:0 B:83.7", {"T0": (240.0, None), "E": (0.0, None), "B": (83.7, None)}),
    # MarlinFirmware/Marlin#18278, an OctoPrint log before a bed heating failure:
    ("T:33.62 /0.00 B:82.63 /110.00 @:0 B@:127", {"T0": (33.62, 0.0), "B": (82.63, 110.0)}),
    # MarlinFirmware/Marlin#23504: Marlin 2.0.9.2 repeats T0; the first occurrence counts.
    (
        "ok T0:23.00 /0.00 B:22.62 /0.00 T0:23.00 /0.00 T1:23.08 /0.00 @:0 B@:0 @0:0 @1:0",
        {"T0": (23.0, 0.0), "B": (22.62, 0.0), "T1": (23.08, 0.0)},
    ),
]


@pytest.mark.parametrize(("line", "expected"), TEMPERATURE_CASES)
def test_temperature_lines(line: str, expected: dict[str, tuple[float, float | None]]) -> None:
    report = parse(line)[-1]
    assert isinstance(report, Temperatures)
    canonical = canonical_temperatures(report)
    assert {key: (r.actual, r.target) for key, r in canonical.items()} == expected


def test_smoothieware_bare_t_is_tool_zero() -> None:
    # OctoPrint's test_canonicalize_temperatures: `T` beside `T1` without `T0` is T0.
    report = parse("T:23.0 T1:42.0")[0]
    assert isinstance(report, Temperatures)
    assert set(canonical_temperatures(report, tool=1)) == {"T0", "T1"}
    only_bare = parse("T:23.0")[0]
    assert isinstance(only_bare, Temperatures)
    assert set(canonical_temperatures(only_bare, tool=1)) == {"T1"}


POSITION_CASES: list[tuple[str, Position]] = [
    # OctoPrint's test_parse_position_line table (Marlin, RepRapFirmware, AlfaWise U20):
    (
        "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20",
        Position(62.417, 64.781, 0.2, 2.72328),
    ),
    (
        "X:96.99 Y:88.31 Z:0.30 E0:0.0 E1:0.0 E2:0.0 E3:0.0 E4:0.0 E5:0.0",
        Position(96.99, 88.31, 0.3, 0.0),
    ),
    ("X:150.0 Y:150.0 Z:  0.7 E:  0.0", Position(150.0, 150.0, 0.7, 0.0)),
    # Marlin 2 with a count line (MarlinFirmware/Marlin#10735 shows the `B:` trap):
    (
        "X:0.00 Y:0.00 Z:0.00 E:0.00 Count A:51714 B:-711 Z:0",
        Position(0.0, 0.0, 0.0, 0.0),
    ),
]


@pytest.mark.parametrize(("line", "expected"), POSITION_CASES)
def test_positions_are_never_temperatures(line: str, expected: Position) -> None:
    assert parse(line) == (expected,)


def test_position_reply_with_its_ok() -> None:
    line = "ok X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20"
    assert parse(line) == (Ok(), Position(62.417, 64.781, 0.2, 2.72328))


def test_count_line_alone_is_no_bed() -> None:
    # A and B without T: an axis count, never a bed temperature (OctoPrint's rule).
    assert parse("Count A:6241 B:6478 C:20") == (Unknown("Count A:6241 B:6478 C:20"),)
    # ...and a line without E is no position either (OctoPrint's table).
    assert isinstance(parse("X:62.417 Y:64.781 Z:0.2")[0], Unknown)


# -- SD card, progress, time ----------------------------------------------------------------

SD_CASES: list[tuple[str, Message]] = [
    # OctoPrint/OctoPrint#30, an SD print from Marlin 1.0's terminal:
    ("File opened:box1.gco Size:193158", FileOpened("box1.gco", 193158)),
    ("File selected", FileSelected()),
    ("SD printing byte 534/193158", SdStatus(534, 193158)),
    # MarlinFirmware/Marlin#6723, Marlin 1.1.1:
    ("File opened: cal_s.g Size: 1696271", FileOpened("cal_s.g", 1696271)),
    ("SD printing byte 0/0", SdStatus(0, 0)),
    ("echo:Now fresh file: cap.g 433195", Echo("Now fresh file: cap.g 433195")),
    # Marlin's M27 and end-of-file strings (research §1.5):
    ("Not SD printing", SdNotPrinting()),
    ("Done printing file", SdDone()),
    # Prusa firmware's M73 progress lines (research §1.5; prusa3d/Prusa-Firmware#2735):
    (
        "NORMAL MODE: Percent done: 42; print time remaining in mins: 30; Change in mins: -1",
        PrusaProgress(42, 30),
    ),
    (
        "SILENT MODE: Percent done: -1; print time remaining in mins: -1; Change in mins: -1",
        PrusaProgress(-1, -1, silent=True),
    ),
    # Prusa MK3's second M27 line, elapsed HH:MM (a Prusa host parser's regex):
    ("1:05", PrintTime(3900)),
    # M31 (research §1.9): Marlin 2's duration text, and an older fork's.
    ("echo:Print time: 1h 2m 3s", PrintTime(3723)),
    ("echo:Print time: 1h 02m 03s", PrintTime(3723)),
    ("echo: 1 hours, 2 min", PrintTime(3720)),
]


@pytest.mark.parametrize(("line", "expected"), SD_CASES)
def test_sd_and_progress_lines(line: str, expected: Message) -> None:
    assert parse(line) == (expected,)


# -- identity, actions, banner --------------------------------------------------------------

FIRMWARE_CASES: list[tuple[str, dict[str, str]]] = [
    # OctoPrint's test_parse_firmware_line table:
    (
        "FIRMWARE_NAME:Marlin 2.0.7.2 (Nov 27 2020 14:30:11) "
        "SOURCE_CODE_URL:https://github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
        "MACHINE_TYPE:Ender 5 Pro EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
        {
            "FIRMWARE_NAME": "Marlin 2.0.7.2 (Nov 27 2020 14:30:11)",
            "SOURCE_CODE_URL": "https://github.com/MarlinFirmware/Marlin",
            "PROTOCOL_VERSION": "1.0",
            "MACHINE_TYPE": "Ender 5 Pro",
            "EXTRUDER_COUNT": "1",
            "UUID": "cede2a2f-41a2-4748-9b12-c55c62f367ff",
        },
    ),
    (
        "NAME. Malyan\tVER: 3.8\tMODEL: M100\tHW: HB02",
        {"NAME": "Malyan", "VER": "3.8", "MODEL": "M100", "HW": "HB02"},
    ),
    (
        "NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02",
        {"NAME": "Malyan", "VER": "2.9", "MODEL": "M200", "HW": "HA02"},
    ),
    # prusa3d/Prusa-Firmware#2490, an OctoPrint log of a Prusa MK2.5S:
    (
        "FIRMWARE_NAME:Prusa-Firmware 3.9.1 based on Marlin "
        "FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware PROTOCOL_VERSION:1.0 "
        "MACHINE_TYPE:Prusa i3 MK2.5 EXTRUDER_COUNT:1 UUID:00000000-0000-0000-0000-000000000000",
        {
            "FIRMWARE_NAME": "Prusa-Firmware 3.9.1 based on Marlin",
            "FIRMWARE_URL": "https://github.com/prusa3d/Prusa-Firmware",
            "PROTOCOL_VERSION": "1.0",
            "MACHINE_TYPE": "Prusa i3 MK2.5",
            "EXTRUDER_COUNT": "1",
            "UUID": "00000000-0000-0000-0000-000000000000",
        },
    ),
]


@pytest.mark.parametrize(("line", "expected"), FIRMWARE_CASES)
def test_firmware_lines(line: str, expected: dict[str, str]) -> None:
    (message,) = parse(line)
    assert isinstance(message, Firmware)
    assert dict(message.fields) == expected
    assert message.name == expected.get("FIRMWARE_NAME", expected.get("NAME"))


def test_firmware_keys_must_look_like_keys() -> None:
    # OctoPrint's table: keys starting with `_` or a digit belong to the previous value.
    fields = parse_firmware_fields("KEY1:VALUE1 _KEY2:INVALID 123:INVALID 1KEY:INVALID KEY2:VALUE2")
    assert dict(fields) == {
        "KEY1": "VALUE1 _KEY2:INVALID 123:INVALID 1KEY:INVALID",
        "KEY2": "VALUE2",
    }


OTHER_CASES: list[tuple[str, Message]] = [
    # OctoPrint's test_parse_capability_line table (with the wire's `Cap:` prefix):
    ("Cap:EEPROM:1", Capability("EEPROM", True)),
    ("Cap:EEPROM:0", Capability("EEPROM", False)),
    ("Cap:AUTOREPORT_TEMP:1", Capability("AUTOREPORT_TEMP", True)),
    ("Cap:", Unknown("Cap:")),
    ("Cap:TOO:MANY:FIELDS", Unknown("Cap:TOO:MANY:FIELDS")),
    # knutwurst/Marlin-2-0-x-Anycubic-i3-MEGA-S#289 (ACTION_ON_KILL):
    ("//action:poweroff", Action("poweroff")),
    # Host action commands (research §1.8):
    ("//action:paused", Action("paused")),
    ("//action:resumed", Action("resumed")),
    ("//action:cancel", Action("cancel")),
    ("//action:prompt_begin Filament runout", Action("prompt_begin", "Filament runout")),
    ("// Klipper state: Shutdown", Echo("Klipper state: Shutdown")),
    # MarlinFirmware/Marlin#2452, Marlin 1.0's boot banner:
    ("start", Reset("start")),
    ("Marlin 1.0.0", Reset("Marlin 1.0.0")),
    ("echo: External Reset", Echo("External Reset")),
    # OctoPrint's virtual printer reset lines:
    ("Marlin: Virtual Marlin!", Reset("Marlin: Virtual Marlin!")),
    ("echo:Marlin 2.1.2.1", Reset("echo:Marlin 2.1.2.1")),
    # Marlin 2's answer to an unknown G-code:
    ('echo:Unknown command: "M4242"', Echo('Unknown command: "M4242"')),
    ("", Empty()),
    ("\ufffd", Unknown("\ufffd")),  # the `\x80` a board prints at reset, decoded
]


@pytest.mark.parametrize(("line", "expected"), OTHER_CASES)
def test_identity_actions_and_banner(line: str, expected: Message) -> None:
    assert parse(line) == (expected,)


# -- anything at all ------------------------------------------------------------------------

REAL_LINES = (
    [line for line, _ in ACK_CASES]
    + RESEND_LINES
    + [line for line, _, _ in ERROR_CASES]
    + [line for line, _ in TEMPERATURE_CASES]
    + [line for line, _ in POSITION_CASES]
    + [line for line, _ in SD_CASES]
    + [line for line, _ in FIRMWARE_CASES]
    + [line for line, _ in OTHER_CASES]
)

MESSAGE_TYPES = (
    Ok,
    Wait,
    Busy,
    Resend,
    Error,
    Temperatures,
    Position,
    SdStatus,
    SdNotPrinting,
    SdDone,
    FileOpened,
    FileSelected,
    PrusaProgress,
    PrintTime,
    Firmware,
    Capability,
    Action,
    Reset,
    Echo,
    Empty,
    Unknown,
)


def _well_formed(messages: tuple[Message, ...]) -> None:
    assert messages
    assert all(isinstance(message, MESSAGE_TYPES) for message in messages)


@given(st.binary(max_size=300))
def test_any_bytes_parse(raw: bytes) -> None:
    for line in raw.split(b"\n"):
        _well_formed(parse(decode(line)))


@given(st.text(max_size=300))
def test_any_text_parses(text: str) -> None:
    _well_formed(parse(text))


@given(st.sampled_from(REAL_LINES), st.data())
def test_truncated_and_spliced_real_lines_parse(line: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    other = data.draw(st.sampled_from(REAL_LINES))
    _well_formed(parse(line[:cut]))
    _well_formed(parse(line[:cut] + other))  # a line whose end was lost, glued to the next


@given(st.text(alphabet="0123456789.:/-+ TBCPAEXYZNok@", max_size=80))
def test_number_soup_parses(text: str) -> None:
    _well_formed(parse(text))


def test_garbage_is_unknown() -> None:
    for line in ("\x80\x81", "lorem ipsum", "#####", "X:1 Y:2"):
        assert parse(line) == (Unknown(line.strip()),)


@given(st.integers(min_value=0, max_value=10**6), st.data())
def test_one_changed_byte_breaks_the_checksum(n: int, data: st.DataObject) -> None:
    # XOR catches any single corrupted byte: the firmware asks for such a line again.
    body = f"N{n} M27 S2"
    at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    other = data.draw(
        st.characters(min_codepoint=32, max_codepoint=126).filter(lambda c: c != body[at])
    )
    assert checksum(body[:at] + other + body[at + 1 :]) != checksum(body)
