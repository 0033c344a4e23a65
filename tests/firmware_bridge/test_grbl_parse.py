"""GRBL lines as real controllers print them, and anything else, through the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import decode
from firmware_bridge.grbl import codes
from firmware_bridge.grbl.parse import (
    Alarm,
    Echo,
    Error,
    Feedback,
    Message,
    Ok,
    Options,
    Parsed,
    ParserState,
    SdProgress,
    Setting,
    StartupLine,
    Status,
    Unknown,
    Version,
    Welcome,
    parse_line,
)

STATUS_CASES: list[tuple[str, Status]] = [
    # OpenCNCPilot#6 (martin2250/OpenCNCPilot), a grbl 1.1 log showing the WCO cadence:
    (
        "<Idle|WPos:0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000>",
        Status("Idle", wpos=(0.0, 0.0, 0.0), feed=0.0, speed=0.0, wco=(0.0, 0.0, 0.0)),
    ),
    # gnea/grbl#19, grbl 1.1 with the `A:` missing at low S (fixed since):
    (
        "<Idle|MPos:1.000,0.000,0.000|Bf:15,128|FS:0,1|Ov:100,100,100>",
        Status(
            "Idle",
            mpos=(1.0, 0.0, 0.0),
            buffer=(15, 128),
            feed=0.0,
            speed=1.0,
            overrides=(100, 100, 100),
        ),
    ),
    # terjeio/ioSender#86, grbl 1.1h after M5: nothing says the spindle stopped.
    (
        "<Idle|MPos:-115.698,-98.815,-36.000|Bf:15,128|FS:0,0>",
        Status("Idle", mpos=(-115.698, -98.815, -36.0), buffer=(15, 128), feed=0.0, speed=0.0),
    ),
    # arkypita/LaserGRBL#2094, a LaserGRBL serial log of grbl 1.1 (laser):
    (
        "<Idle|MPos:0.000,0.000,0.000|FS:0,0|Ov:100,100,100|A:S>",
        Status(
            "Idle",
            mpos=(0.0, 0.0, 0.0),
            feed=0.0,
            speed=0.0,
            overrides=(100, 100, 100),
            accessories="S",
        ),
    ),
    # arkypita/LaserGRBL#2094, a G0 move: feed moves, laser power stays 0.
    (
        "<Run|MPos:12.788,0.000,0.000|FS:8100,0>",
        Status("Run", mpos=(12.788, 0.0, 0.0), feed=8100.0, speed=0.0),
    ),
    # gnea/grbl#829, laser mode, WCO on its 30-report busy cadence:
    (
        "<Run|MPos:-489.000,-398.638,0.000|FS:500,0|WCO:-499.000,-499.000,0.000>",
        Status(
            "Run",
            mpos=(-489.0, -398.638, 0.0),
            feed=500.0,
            speed=0.0,
            wco=(-499.0, -499.0, 0.0),
        ),
    ),
    # A 3018 mill's grbl 1.1 after `!` (a Jupyter log of a GRBL.py session):
    (
        "<Hold:0|MPos:-128.925,0.000,0.800|Bf:15,125|FS:0,0|WCO:0.000,0.000,0.000>",
        Status(
            "Hold",
            0,
            mpos=(-128.925, 0.0, 0.8),
            buffer=(15, 125),
            feed=0.0,
            speed=0.0,
            wco=(0.0, 0.0, 0.0),
        ),
    ),
    # The same log, spindle running during a cut:
    (
        "<Run|MPos:71.075,0.000,-0.521|Bf:12,127|FS:246,0|Ov:100,100,100>",
        Status(
            "Run",
            mpos=(71.075, 0.0, -0.521),
            buffer=(12, 127),
            feed=246.0,
            speed=0.0,
            overrides=(100, 100, 100),
        ),
    ),
    # grblHAL/core#73, grblHAL parked with the safety door open:
    (
        "<Door:1|WPos:3.300,4.965,21.000|Bf:0,1023|FS:0,0|Pn:D>",
        Status("Door", 1, wpos=(3.3, 4.965, 21.0), buffer=(0, 1023), feed=0.0, speed=0.0, pins="D"),
    ),
    # terjeio/ioSender#495, grblHAL after a hard limit: its empty `A:` says "all off".
    (
        "<Alarm|MPos:56.178,178.152,-32.000|Bf:0,1023|FS:0,0|A:>",
        Status(
            "Alarm",
            mpos=(56.178, 178.152, -32.0),
            buffer=(0, 1023),
            feed=0.0,
            speed=0.0,
            accessories="",
        ),
    ),
    # terjeio/ioSender#495, the next reports (Ov at 200 % feed):
    (
        "<Alarm|MPos:56.178,178.152,-32.000|Bf:0,1023|FS:0,0|Ov:200,100,100>",
        Status(
            "Alarm",
            mpos=(56.178, 178.152, -32.0),
            buffer=(0, 1023),
            feed=0.0,
            speed=0.0,
            overrides=(200, 100, 100),
        ),
    ),
    # bdring/PendantsForFluidNC#14, FluidNC with the spindle on:
    (
        "<Idle|MPos:50.000,150.000,52.000|FS:0,1000|Ov:100,100,100|A:S>",
        Status(
            "Idle",
            mpos=(50.0, 150.0, 52.0),
            feed=0.0,
            speed=1000.0,
            overrides=(100, 100, 100),
            accessories="S",
        ),
    ),
    # FluidNC running a file from its SD card (a FluidNC web page's console transcript):
    (
        "<Run|MPos:0.000,0.000,0.000|FS:0,0|SD:0.00,/fabrik_c1_infill.gcode>",
        Status(
            "Run",
            mpos=(0.0, 0.0, 0.0),
            feed=0.0,
            speed=0.0,
            sd=SdProgress(0.0, "/fabrik_c1_infill.gcode"),
        ),
    ),
    # grblHAL Plugin_SD_card sdcard.c: `|SD:<pct>,<name>` and `|SD:Pending` after a rewind.
    (
        "<Idle|MPos:0.000,0.000,0.000|FS:0,0|SD:Pending>",
        Status("Idle", mpos=(0.0, 0.0, 0.0), feed=0.0, speed=0.0, sd=SdProgress(None, "")),
    ),
    # gnea/grbl interface.md: `F:` without variable spindle, `Pn:` letters, `Ln:` line numbers.
    (
        "<Run|MPos:1.000,2.000,3.000|F:500|Pn:XZ|Ln:99999>",
        Status("Run", mpos=(1.0, 2.0, 3.0), feed=500.0, pins="XZ", line_number=99999),
    ),
    # gnea/grbl interface.md: every accessory letter.
    (
        "<Hold:1|MPos:0.000,0.000,0.000|FS:675,24000|Ov:120,100,100|A:SFM>",
        Status(
            "Hold",
            1,
            mpos=(0.0, 0.0, 0.0),
            feed=675.0,
            speed=24000.0,
            overrides=(120, 100, 100),
            accessories="SFM",
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), STATUS_CASES)
def test_status_reports_from_real_controllers(line: str, expected: Status) -> None:
    assert parse_line(line) == expected


def test_grblhal_extra_fields_are_kept_not_fatal() -> None:
    # grblHAL/core#101 lists what grblHAL may add: a measured rpm, WCS, MPG, H, D, Sc, TLR, FW.
    line = (
        "<Run|MPos:1.000,2.000,3.000,4.000|Bf:100,1023|FS:1200,12000,11950|WCS:G54"
        "|MPG:0|H:1,7|D:0|SD:42.5,/jobs/a,b.nc|FW:grblHAL>"
    )
    status = parse_line(line)
    assert isinstance(status, Status)
    assert status.mpos == (1.0, 2.0, 3.0, 4.0)
    assert (status.feed, status.speed) == (1200.0, 12000.0)
    assert status.sd == SdProgress(42.5, "/jobs/a,b.nc")  # a name may hold commas
    assert dict(status.extra) == {"WCS": "G54", "MPG": "0", "H": "1,7", "D": "0", "FW": "grblHAL"}


def test_malformed_fields_become_extra_text_not_guesses() -> None:
    # cncjs's numeric-only field regex would split `Pn:XZ` into tokens; here a bad field
    # is kept aside and the rest of the report still counts.
    status = parse_line("<Run|MPos:1,2,x|FS:10|Pn:xz|Ov:100,100|A:s1|Bf:1|Ln:-5>")
    assert isinstance(status, Status)
    assert status.state == "Run" and status.mpos is None and status.feed is None
    assert [key for key, _ in status.extra] == ["MPos", "FS", "Pn", "Ov", "A", "Bf", "Ln"]


HELP = "$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x"
NEWOPT = "ENUMS,RT+,ES,SED,RTC,WIFI,FTP,SD,YM"
OTHER_CASES: list[tuple[str, Parsed]] = [
    # gnea/grbl interface.md, "Grbl Response Messages":
    ("ok", Ok()),
    ("error:9", Error(9)),
    # grblHAL Plugin_SD_card: an error while running a file from the card.
    ("error:22 in SD file at line 5", Error(22, "in SD file at line 5")),
    # gnea/grbl#776, a hard limit:
    ("ALARM:1", Alarm(1)),
    # gnea/grbl interface.md, start up message:
    ("Grbl 1.1h ['$' for help]", Welcome("Grbl", "1.1h", "'$' for help")),
    # grblHAL's banner (a Telnet session on a grblHAL controller, and its sender tests):
    (
        "GrblHAL 1.1f ['$' or '$HELP' for help]",
        Welcome("GrblHAL", "1.1f", "'$' or '$HELP' for help"),
    ),
    # FluidNC's banner (a sender's transcript of FluidNC v4.0.3 waking from sleep):
    (
        "Grbl 4.0 [FluidNC v4.0.3 (wifi) '$' for help]",
        Welcome("Grbl", "4.0", "FluidNC v4.0.3 (wifi) '$' for help"),
    ),
    # A vendor's rebranded grbl on a diode laser (a sender's banner tests):
    ("SimpleLaser 1.1h ['$' for help]", Welcome("SimpleLaser", "1.1h", "'$' for help")),
    # gnea/grbl interface.md, feedback messages:
    ("[MSG:Pgm End]", Message("Pgm End")),
    ("[MSG:Reset to continue]", Message("Reset to continue")),
    ("[MSG:'$H'|'$X' to unlock]", Message("'$H'|'$X' to unlock")),
    ("[MSG:Caution: Unlocked]", Message("Caution: Unlocked")),
    # gnea/grbl#492:
    ("[MSG:Restoring spindle]", Message("Restoring spindle")),
    # gnea/grbl#36, `$G` on 1.1d:
    (
        "[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]",
        ParserState(("G0", "G54", "G17", "G21", "G90", "G94", "M5", "M9", "T0", "F0", "S0")),
    ),
    # gnea/grbl#288, `$I`:
    ("[VER:1.1f.20170131:]", Version("1.1f.20170131", "")),
    ("[OPT:V,15,128]", Options("V", 15, 128, ())),
    # gnea/grbl interface.md, a user string set with `$I=`:
    ("[VER:v1.1d.20161014:Some string]", Version("v1.1d.20161014", "Some string")),
    # terjeio/ioSender#310, `$I` on a Pico grblHAL:
    ("[OPT:VNMSL2,35,1024,3,0]", Options("VNMSL2", 35, 1024, ("3", "0"))),
    (f"[NEWOPT:{NEWOPT}]", Feedback("NEWOPT", NEWOPT)),
    ("[DRIVER VERSION:230525]", Feedback("DRIVER VERSION", "230525")),
    # gnea/grbl interface.md, `$#` and the help line:
    ("[PRB:0.000,0.000,0.000:0]", Feedback("PRB", "0.000,0.000,0.000:0")),
    (f"[HLP:{HELP}]", Feedback("HLP", HELP)),
    ("[echo:G1X0.540Y10.4F100]", Echo("G1X0.540Y10.4F100")),
    # gnea/grbl interface.md, `$$` and `$N`:
    ("$32=0", Setting("32", "0")),
    ("$11=0.010", Setting("11", "0.010")),
    ("$N0=G54", Setting("N0", "G54")),
    ("$N1=", Setting("N1", "")),
    # gnea/grbl interface.md, startup line execution: its `:ok` is not a stream ack.
    (">G54G20:ok", StartupLine("G54G20", None)),
    (">:error:7", StartupLine("", 7)),
]


@pytest.mark.parametrize(("line", "expected"), OTHER_CASES)
def test_other_messages_from_real_controllers(line: str, expected: Parsed) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "<Idle|MPos:0.000,0.0",  # truncated mid-report
        "Idle|MPos:0.000,0.000,0.000>",  # its start lost
        "<Walking|MPos:0,0,0>",  # no such state
        "<Hold:x|MPos:0,0,0>",
        "<>",
        "ALARM: Hard limit",  # grbl 0.9 (grbl/grbl#1466), not 1.1
        "['$H'|'$X' to unlock]",  # grbl 0.9 feedback, no key
        "error:",
        "ALARM:99999999999999999999",  # more digits than any code
        "okay",
        "",
    ],
)
def test_anything_else_is_unknown(line: str) -> None:
    assert parse_line(line) == Unknown(line)


def test_reset_noise_before_a_banner_is_dropped() -> None:
    # A board reset by the port opening sends undecodable bytes first.
    assert isinstance(parse_line(decode(b"\x80\xffGrbl 1.1h ['$' for help]\r")), Welcome)


def test_every_documented_code_has_a_meaning() -> None:
    assert sorted(codes.ALARMS) == list(range(1, 11))
    assert sorted(codes.ERRORS) == [*range(1, 18), *range(20, 39)]
    assert codes.alarm_text(1).startswith("Hard limit")
    assert codes.error_text(200) == "Error 200"


REAL_LINES = [line for line, _ in STATUS_CASES + OTHER_CASES]


@settings(max_examples=400)
@given(st.text())
def test_any_text_parses_to_a_value(text: str) -> None:
    assert parse_line(text) is not None


@settings(max_examples=300)
@given(st.sampled_from(REAL_LINES), st.data())
def test_truncated_and_mangled_real_lines_never_crash(line: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(line)))
    noise = data.draw(st.binary(max_size=8))
    mangled = decode(noise + line[:cut].encode() + noise)
    result = parse_line(mangled)
    assert type(result).__module__ == "firmware_bridge.grbl.parse"


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.text(alphabet="ABCDFHLMNOPSTWacdnosv", max_size=4), st.text(max_size=12)),
        max_size=8,
    ),
    st.sampled_from(["Idle", "Run", "Hold:0", "Alarm", "Door:2", "Jog"]),
)
def test_status_reports_with_random_fields_keep_their_state(
    fields: list[tuple[str, str]], state: str
) -> None:
    line = "<" + "|".join([state, *(f"{key}:{value}" for key, value in fields)]) + ">"
    result = parse_line(line)
    assert isinstance(result, Status)
    assert result.state == state.partition(":")[0]
