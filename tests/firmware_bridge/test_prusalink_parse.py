"""PrusaLink documents and Digest headers into values, and documents into views.

Documents: the examples of prusa3d/Prusa-Link-Web `spec/openapi.yaml` (StatusPrinter,
StatusJob, Job), and the answers of a Prusa XL kept as fixtures by Home Assistant's PrusaLink
integration (home-assistant/core, tests/components/prusalink/conftest.py). Digest: the worked
examples of RFC 2617 §3.5 and RFC 7616 §3.9.1.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.model import ControllerView, JobOutcome, MachineState
from firmware_bridge.prusalink.machine import PrusaLinkMachine
from firmware_bridge.prusalink.parse import (
    Challenge,
    Credentials,
    JobInfo,
    NoJob,
    PrinterStatus,
    Status,
    StatusJob,
    Unknown,
    Version,
    authorization,
    challenge_header,
    digest_response,
    parse_authorization,
    parse_challenge,
    parse_job,
    parse_status,
    parse_version,
)

# spec/openapi.yaml: the StatusPrinter and StatusJob examples as one /api/v1/status answer.
OPENAPI_STATUS = (
    b'{"printer": {"state": "PRINTING", "temp_nozzle": 214.9, "target_nozzle": 215.0, '
    b'"temp_bed": 59.5, "target_bed": 60.0, "axis_x": 23.2, "axis_y": 24.3, "axis_z": 0.5, '
    b'"flow": 95, "speed": 100, "fan_hotend": 420, "fan_print": 420, "status_printer": '
    b'{"ok": true, "message": "OK"}, "status_connect": {"ok": true, "message": "OK"}}, '
    b'"job": {"id": 420, "progress": 42.0, "time_remaining": 520, "time_printing": 526}}'
)
# home-assistant/core tests/components/prusalink/conftest.py, mock_get_status_idle (Prusa XL)
XL_IDLE = (
    b'{"storage": {"path": "/usb/", "name": "usb", "read_only": false}, "printer": '
    b'{"state": "IDLE", "temp_bed": 41.9, "target_bed": 60.5, "temp_nozzle": 47.8, '
    b'"target_nozzle": 210.1, "axis_z": 1.8, "axis_x": 7.9, "axis_y": 8.4, "flow": 100, '
    b'"speed": 100, "fan_hotend": 100, "fan_print": 75}}'
)
# ... mock_get_status_printing
XL_PRINTING = (
    b'{"job": {"id": 129, "progress": 37.00, "time_remaining": 73020, "time_printing": 43987}, '
    b'"storage": {"path": "/usb/", "name": "usb", "read_only": false}, "printer": '
    b'{"state": "PRINTING", "temp_bed": 53.9, "target_bed": 85.0, "temp_nozzle": 6.0, '
    b'"target_nozzle": 0.0, "axis_z": 5.0, "flow": 100, "speed": 100, "fan_hotend": 5000, '
    b'"fan_print": 2500}}'
)
# ... mock_job_api_printing
XL_JOB = (
    b'{"id": 129, "state": "PRINTING", "progress": 37.00, "time_remaining": 73020, '
    b'"time_printing": 43987, "file": {"refs": {"icon": "/thumb/s/usb/TabletStand3~4.BGC", '
    b'"thumbnail": "/thumb/l/usb/TabletStand3~4.BGC", "download": "/usb/TabletStand3~4.BGC"}, '
    b'"name": "TabletStand3~4.BGC", "display_name": "TabletStand3.bgcode", "path": "/usb", '
    b'"size": 754535, "m_timestamp": 1698686881}}'
)

STATUS_TABLE: list[tuple[bytes, Status | type[Unknown]]] = [
    (
        OPENAPI_STATUS,
        Status(
            PrinterStatus("PRINTING", 214.9, 215.0, 59.5, 60.0, 100.0, 95.0, True, "OK"),
            StatusJob(420, 42.0, 526.0, 520.0),
        ),
    ),
    (XL_IDLE, Status(PrinterStatus("IDLE", 47.8, 210.1, 41.9, 60.5, 100.0, 100.0))),
    (
        XL_PRINTING,
        Status(
            PrinterStatus("PRINTING", 6.0, 0.0, 53.9, 85.0, 100.0, 100.0),
            StatusJob(129, 37.0, 43987.0, 73020.0),
        ),
    ),
    # spec/openapi.yaml's enum spells the attention state with three Ts; printers send two.
    (b'{"printer": {"state": "ATTTENTION"}}', Status(PrinterStatus("ATTENTION"))),
    (b'{"printer": {"state": "ATTENTION"}}', Status(PrinterStatus("ATTENTION"))),
    # Everything but printer.state is optional; a job without an id is no job.
    (b'{"printer": {"state": "BUSY"}, "job": {"progress": 3}}', Status(PrinterStatus("BUSY"))),
    (b'{"printer": {"temp_bed": 20}}', Unknown),
    (b'{"storage": {}}', Unknown),
    (b"<html>502 Bad Gateway</html>", Unknown),
    (b"", Unknown),
]


@pytest.mark.parametrize(("body", "expected"), STATUS_TABLE)
def test_status_documents(body: bytes, expected: Status | type[Unknown]) -> None:
    parsed = parse_status(body)
    if expected is Unknown:
        assert isinstance(parsed, Unknown)
    else:
        assert parsed == expected


def test_job_documents() -> None:
    assert parse_job(200, XL_JOB) == JobInfo(
        129, "PRINTING", "TabletStand3.bgcode", 37.0, 43987.0, 73020.0
    )
    assert parse_job(204, b"") == NoJob()
    # spec/openapi.yaml, Job: id, state, progress and time_printing are required
    minimal = b'{"id": 420, "state": "FINISHED", "progress": 100.0, "time_printing": 526}'
    assert parse_job(200, minimal) == JobInfo(420, "FINISHED", "", 100.0, 526.0)
    assert isinstance(parse_job(200, b'{"state": "PRINTING"}'), Unknown)
    assert isinstance(parse_job(200, b'{"id": true, "state": "PRINTING"}'), Unknown)
    assert isinstance(parse_job(503, b"busy"), Unknown)


# -- Digest --------------------------------------------------------------------------------


# The examples' passwords (kept in names a secret scanner does not mistake for real ones).
RFC2617_WORDS = "Circle Of Life"
RFC7616_WORDS = "Circle of Life"


def test_recent_firmware_names_its_version_older_firmware_does_not() -> None:
    # A Prusa MINI on firmware 4.x (the guillaume-rico/prusaLink README's example answer):
    older = parse_version(200, b'{"api": "2.0.0", "server": "2.1.2", "text": "PrusaLink MINI"}')
    recent = parse_version(200, b'{"api": "2.0.0", "text": "PrusaLink", "firmware": "6.1.3+7898"}')
    assert older == Version("") and recent == Version("6.1.3+7898")
    assert isinstance(parse_version(404, b""), Unknown)
    machine = PrusaLinkMachine()
    idle = Status(PrinterStatus("IDLE"))
    machine.identified(older)
    assert machine.feed(idle).firmware == ""
    machine.identified(recent)
    assert machine.feed(idle).firmware == "Prusa firmware 6.1.3+7898"


def test_rfc2617_worked_example() -> None:
    # RFC 2617 §3.5: Mufasa / "Circle Of Life" on testrealm@host.com
    assert (
        digest_response(
            user="Mufasa",
            password=RFC2617_WORDS,
            realm="testrealm@host.com",
            method="GET",
            uri="/dir/index.html",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


# RFC 7616 §3.9.1, the challenge (MD5 variant) and the answer it shows.
RFC7616_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


def test_rfc7616_worked_example() -> None:
    challenge = parse_challenge(RFC7616_CHALLENGE)
    assert challenge == Challenge(
        "http-auth@example.org",
        "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "auth",
        "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    )
    header = authorization(
        challenge,
        user="Mufasa",
        password=RFC7616_WORDS,
        method="GET",
        uri="/dir/index.html",
        nc=1,
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert 'response="8ca523f5e9506fed4657c9700eebdbec"' in header
    credentials = parse_authorization(header)
    assert isinstance(credentials, Credentials)
    assert (credentials.username, credentials.nc, credentials.qop, credentials.opaque) == (
        "Mufasa",
        "00000001",
        "auth",
        "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    )


def test_challenges_the_client_cannot_answer_are_unknown() -> None:
    # RFC 7616 §3.9.1 also offers SHA-256; printers offer MD5, and only MD5 is answered.
    assert isinstance(parse_challenge(RFC7616_CHALLENGE.replace("MD5", "SHA-256")), Unknown)
    assert isinstance(parse_challenge('Basic realm="Printer API"'), Unknown)
    assert isinstance(parse_challenge('Digest realm="x", nonce="n", qop="auth-int"'), Unknown)
    assert isinstance(parse_challenge('Digest realm="x", nonce="unterminated'), Unknown)


def test_a_challenge_without_qop_is_answered_the_rfc2069_way() -> None:
    challenge = parse_challenge('Digest realm="Printer API", nonce="abc123", stale=TRUE')
    assert challenge == Challenge("Printer API", "abc123", None, None, True)
    header = authorization(
        challenge,
        user="maker",
        password=RFC2617_WORDS,
        method="GET",
        uri="/api/v1/status",
        nc=1,
        cnonce="c",
    )
    assert "qop=" not in header and "nc=" not in header


def test_challenge_header_round_trip() -> None:
    header = challenge_header('Printer "API"', "n0nce", stale=True, opaque="op")
    assert parse_challenge(header) == Challenge('Printer "API"', "n0nce", "auth", "op", True)


# -- the machine ---------------------------------------------------------------------------


def status(state: str, job_id: int | None = None, progress: float | None = None) -> Status:
    job = StatusJob(job_id, progress) if job_id is not None else None
    return Status(PrinterStatus(state, 200.0, 215.0, 60.0, 60.0), job)


def run(machine: PrusaLinkMachine, polls: list[Status]) -> list[ControllerView]:
    return [machine.feed(poll) for poll in polls]


def test_a_print_with_pause_and_attention_ends_completed() -> None:
    views = run(
        PrusaLinkMachine(),
        [
            status("IDLE"),
            status("PRINTING", 7, 10.0),
            status("PAUSED", 7, 20.0),
            status("ATTENTION", 7, 20.0),
            status("PRINTING", 7, 50.0),
            status("FINISHED", 7, 100.0),
            status("IDLE"),
        ],
    )
    assert [view.state for view in views] == [
        MachineState.IDLE,
        MachineState.RUNNING,
        MachineState.PAUSED,
        MachineState.RUNNING,
        MachineState.RUNNING,
        MachineState.IDLE,
        MachineState.IDLE,
    ]
    assert [view.busy for view in views] == [False, True, False, False, True, False, False]
    assert [view.job.job_id if view.job else None for view in views] == [None] + ["7"] * 4 + [
        None,
        None,
    ]
    assert [view.outcome for view in views[-2:]] == [JobOutcome.COMPLETED] * 2
    assert views[4].job is not None and views[4].job.progress == 0.5
    assert views[1].temperatures == {"nozzle": 200.0, "bed": 60.0}


def test_stopped_and_error_endings() -> None:
    machine = PrusaLinkMachine()
    run(machine, [status("PRINTING", 1)])
    assert machine.feed(status("STOPPED", 1)).outcome is JobOutcome.CANCELLED
    run(machine, [status("IDLE"), status("PRINTING", 2)])
    failing = Status(PrinterStatus("ERROR", ok=False, message="Thermal runaway"), StatusJob(2))
    view = machine.feed(failing)
    assert (view.state, view.alarm, view.alarm_message, view.outcome, view.job) == (
        MachineState.ALARM,
        "prusalink_error",
        "Thermal runaway",
        JobOutcome.ERROR,
        None,
    )


def test_a_job_that_vanishes_or_is_replaced_is_interrupted() -> None:
    machine = PrusaLinkMachine()
    run(machine, [status("PRINTING", 1)])
    # FINISHED fell between two polls: the legacy API would show "Operational" here
    # (prusa3d/Prusa-Firmware-Buddy#3135), v1 shows IDLE and no job.
    assert machine.feed(status("IDLE")).outcome is JobOutcome.INTERRUPTED
    run(machine, [status("PRINTING", 2)])
    view = machine.feed(status("PRINTING", 3))
    assert view.job is not None and view.job.job_id == "3"


def test_the_job_document_names_the_job() -> None:
    machine = PrusaLinkMachine()
    info = parse_job(200, XL_JOB)
    assert isinstance(info, JobInfo)
    printing = parse_status(XL_PRINTING)
    assert isinstance(printing, Status)
    view = machine.feed(printing, info)
    assert view.job is not None
    assert (view.job.job_id, view.job.name, view.job.progress) == (
        "129",
        "TabletStand3.bgcode",
        0.37,
    )
    assert view.metrics["time_printing_s"] == 43987.0


def test_busy_and_unknown_states_are_running_never_idle() -> None:
    machine = PrusaLinkMachine()
    assert machine.feed(status("BUSY")).state is MachineState.RUNNING
    assert machine.feed(status("CALIBRATING")).state is MachineState.RUNNING
    assert machine.feed(status("READY")).state is MachineState.IDLE


def test_a_finished_job_seen_at_start_is_not_a_new_job() -> None:
    machine = PrusaLinkMachine()
    view = machine.feed(status("FINISHED", 9, 100.0))
    assert (view.job, view.outcome, view.state) == (None, None, MachineState.IDLE)


# -- fuzz ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.binary(max_size=400), st.integers(min_value=100, max_value=599))
def test_any_body_parses_without_raising(body: bytes, code: int) -> None:
    parse_status(body)
    parse_job(code, body)
    parse_version(code, body)


@settings(max_examples=300)
@given(json_values, json_values, st.sampled_from(["printer", "job", "id", "state"]))
def test_json_of_any_shape_parses_without_raising(outer: object, inner: object, key: str) -> None:
    for doc in ({key: inner}, {"printer": {"state": "PRINTING"}, key: inner}, outer):
        body = json.dumps(doc).encode()
        parse_status(body)
        parse_job(200, body)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_header_parses_without_raising(header: str) -> None:
    parse_challenge(header)
    parse_challenge("Digest " + header)
    parse_authorization("Digest " + header)


@settings(max_examples=200)
@given(st.sampled_from([OPENAPI_STATUS, XL_IDLE, XL_PRINTING]), st.integers(0, 400))
def test_truncated_bodies_are_unknown(body: bytes, cut: int) -> None:
    if cut < len(body):
        assert isinstance(parse_status(body[:cut]), Unknown)


states = st.sampled_from(
    [
        "IDLE",
        "BUSY",
        "PRINTING",
        "PAUSED",
        "FINISHED",
        "STOPPED",
        "ERROR",
        "ATTENTION",
        "READY",
        "CALIBRATING",
    ]
)
polls = st.builds(
    lambda state, job_id, progress, ok: Status(
        PrinterStatus(state, ok=ok), StatusJob(job_id, progress) if job_id is not None else None
    ),
    states,
    st.none() | st.integers(1, 3),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
infos = (
    st.none()
    | st.just(NoJob())
    | st.builds(JobInfo, st.integers(1, 3), states, st.text(max_size=5))
)
ALARM_CODE = re.compile(r"^[a-z0-9_]+$")


@settings(max_examples=300)
@given(st.lists(st.tuples(polls, infos), max_size=30))
def test_any_poll_sequence_gives_consistent_views(
    sequence: list[tuple[Status, JobInfo | NoJob | None]],
) -> None:
    machine = PrusaLinkMachine()
    for poll, info in sequence:
        view = machine.feed(poll, info)
        if view.busy:
            assert view.job is not None and view.state is MachineState.RUNNING
        if view.job is not None:
            assert view.outcome is None
            assert view.job.progress is None or 0.0 <= view.job.progress <= 1.0
        if view.state is MachineState.PAUSED:
            assert view.job is not None
        if view.alarm is not None:
            assert ALARM_CODE.match(view.alarm)
        if poll.printer.state in ("ATTENTION", "BUSY"):
            assert view.state is MachineState.RUNNING and not view.busy
