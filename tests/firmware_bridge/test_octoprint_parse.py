"""OctoPrint REST documents into values, and documents into views.

Documents: the examples of docs.octoprint.org, REST API pages "Job operations"
(https://docs.octoprint.org/en/1.10.0/api/job.html, "Retrieve information about the current
job") and "Printer operations" (https://docs.octoprint.org/en/1.10.0/api/printer.html,
"Retrieve the current printer state"), the "Common data model" page for the state flags and
the null fields of a job with no file selected, and OctoPrint's `server/api/printer.py`
(409 "Printer is not operational").
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.model import ControllerView, JobOutcome, MachineState
from firmware_bridge.octoprint.machine import OctoPrintMachine, Phase, phase_of
from firmware_bridge.octoprint.parse import (
    Disconnected,
    Flags,
    JobStatus,
    PrinterStatus,
    Unknown,
    Version,
    parse_job,
    parse_printer,
    parse_version,
)

# docs.octoprint.org api/job.html: the example answer of GET /api/job.
DOCS_JOB = (
    b'{"job": {"file": {"name": "whistle_v2.gcode", "origin": "local", "size": 1468987, '
    b'"date": 1378847754}, "estimatedPrintTime": 8811, "filament": {"tool0": {"length": 810, '
    b'"volume": 5.36}}}, "progress": {"completion": 0.2298468264184775, "filepos": 337942, '
    b'"printTime": 276, "printTimeLeft": 912}, "state": "Printing"}'
)
# docs.octoprint.org api/printer.html: the example answer of GET /api/printer (with history).
DOCS_PRINTER = (
    b'{"temperature": {"tool0": {"actual": 214.8821, "target": 220.0, "offset": 0}, '
    b'"tool1": {"actual": 25.3, "target": null, "offset": 0}, "bed": {"actual": 50.221, '
    b'"target": 70.0, "offset": 5}, "history": [{"time": 1395651926, "tool0": {"actual": '
    b'214.8821, "target": 220.0}, "tool1": {"actual": 25.3, "target": null}, "bed": '
    b'{"actual": 50.221, "target": 70.0}}]}, "sd": {"ready": true}, "state": {"text": '
    b'"Operational", "flags": {"operational": true, "paused": false, "printing": false, '
    b'"cancelling": false, "pausing": false, "sdReady": true, "error": false, "ready": true, '
    b'"closedOrError": false}}}'
)
# The same request with ?exclude=sd while printing (state flags as in "Common data model").
PRINTING_PRINTER = (
    b'{"temperature": {"tool0": {"actual": 214.8, "target": 220.0, "offset": 0}, "bed": '
    b'{"actual": 59.9, "target": 60.0, "offset": 0}}, "state": {"text": "Printing", "flags": '
    b'{"operational": true, "paused": false, "printing": true, "pausing": false, "cancelling": '
    b'false, "sdReady": true, "error": false, "ready": true, "closedOrError": false, '
    b'"finishing": false, "resuming": false}}}'
)
# GET /api/job with no file selected: every job and progress field null.
NO_JOB = (
    b'{"job": {"file": {"name": null, "origin": null, "size": null, "date": null}, '
    b'"estimatedPrintTime": null, "filament": null, "lastPrintTime": null}, "progress": '
    b'{"completion": null, "filepos": null, "printTime": null, "printTimeLeft": null}, '
    b'"state": "Operational"}'
)
# GET /api/job after a firmware error: OctoPrint adds the error text beside the state.
ERROR_JOB = (
    b'{"job": {"file": {"name": "bracket.gcode", "origin": "local", "size": 1234, '
    b'"date": 1700000000}}, "progress": {"completion": 22.4, "filepos": 337942, "printTime": '
    b'276, "printTimeLeft": 912}, "state": "Offline after error", "error": '
    b'"Printer halted. kill() called!"}'
)

JOB_TABLE: list[tuple[int, bytes, JobStatus | type[Unknown]]] = [
    (
        200,
        DOCS_JOB,
        JobStatus(
            "Printing", "whistle_v2.gcode", 1378847754.0, "local", 0.2298468264184775, 276.0, 912.0
        ),
    ),
    (200, NO_JOB, JobStatus("Operational")),
    (
        200,
        ERROR_JOB,
        JobStatus(
            "Offline after error",
            "bracket.gcode",
            1700000000.0,
            "local",
            22.4,
            276.0,
            912.0,
            "Printer halted. kill() called!",
        ),
    ),
    (200, b'{"state": "Paused"}', JobStatus("Paused")),
    (200, b'{"state": null}', Unknown),
    (200, b'{"state": 3}', Unknown),
    (200, b"[]", Unknown),
    (200, b"<html>", Unknown),
    (403, b"<h1>Forbidden</h1>", Unknown),
    (500, DOCS_JOB, Unknown),
]


@pytest.mark.parametrize(("code", "body", "expected"), JOB_TABLE)
def test_job_documents(code: int, body: bytes, expected: JobStatus | type[Unknown]) -> None:
    parsed = parse_job(code, body)
    if expected is Unknown:
        assert isinstance(parsed, Unknown)
    else:
        assert parsed == expected


def test_version_documents_name_octoprint() -> None:
    # docs.octoprint.org api/version.html, the example answer of GET /api/version:
    docs = b'{"api": "0.1", "server": "1.3.10", "text": "OctoPrint 1.3.10"}'
    assert parse_version(200, docs) == Version("OctoPrint 1.3.10")
    assert parse_version(200, b'{"api": "0.1", "server": "1.1.0"}') == Version("OctoPrint 1.1.0")
    assert isinstance(parse_version(404, b"Not Found"), Unknown)
    assert isinstance(parse_version(200, b'{"api": "0.1"}'), Unknown)
    machine = OctoPrintMachine()
    machine.identified(Version("OctoPrint 1.3.10"))
    assert machine.feed(None, None).firmware == "OctoPrint 1.3.10"


def test_printer_documents() -> None:
    assert parse_printer(200, DOCS_PRINTER) == PrinterStatus(
        "Operational",
        Flags(operational=True, ready=True),
        (("tool0", 214.8821), ("tool1", 25.3), ("bed", 50.221)),
        (("tool0", 220.0), ("bed", 70.0)),
    )
    assert parse_printer(200, PRINTING_PRINTER) == PrinterStatus(
        "Printing",
        Flags(operational=True, printing=True, ready=True),
        (("tool0", 214.8), ("bed", 59.9)),
        (("tool0", 220.0), ("bed", 60.0)),
    )
    # server/api/printer.py: 409 "Printer is not operational" whenever it is not.
    assert parse_printer(409, b"Printer is not operational") == Disconnected()
    for code, body in [(200, b'{"state": {}}'), (200, b"null"), (500, DOCS_PRINTER)]:
        assert isinstance(parse_printer(code, body), Unknown)


@pytest.mark.parametrize(
    ("text", "phase"),
    [
        ("Operational", Phase.IDLE),
        ("Printing from SD", Phase.PRINTING),
        ("Starting print from SD", Phase.STARTING),
        ("Pausing", Phase.PAUSED),
        ("Cancelling", Phase.CANCELLING),
        ("Finishing", Phase.FINISHING),
        ("Transferring file to SD", Phase.TRANSFER),
        ("Offline after error", Phase.ERROR),
        ("Error: Printer halted. kill() called!", Phase.ERROR),  # OctoPrint before 1.4
        ("Offline (Error: Too many consecutive timeouts)", Phase.ERROR),
        ("Detecting serial connection", Phase.OFFLINE),
        ("Something new", Phase.OTHER),
    ],
)
def test_state_texts(text: str, phase: Phase) -> None:
    assert phase_of(text) is phase


# -- the machine -------------------------------------------------------------------------

IDLE = PrinterStatus("Operational", Flags(operational=True, ready=True))


def printer(text: str, **flags: bool) -> PrinterStatus:
    return PrinterStatus(text, Flags(operational=True, **flags), (("tool0", 214.8),))


def job(state: str, completion: float | None = 10.0, name: str = "bracket.gcode") -> JobStatus:
    return JobStatus(state, name, 1700000000.0, "local", completion, 12.0, 100.0)


def run(
    steps: list[tuple[PrinterStatus | Disconnected | None, JobStatus | None]],
) -> list[ControllerView]:
    machine = OctoPrintMachine()
    return [machine.feed(p, j) for p, j in steps]


def test_a_completed_job_with_a_pause() -> None:
    views = run(
        [
            (IDLE, JobStatus("Operational")),
            (printer("Starting", printing=True), job("Starting", 0.0)),
            (printer("Printing", printing=True), job("Printing", 10.0)),
            (printer("Pausing", pausing=True), job("Pausing", 40.0)),
            (printer("Paused", paused=True), job("Paused", 40.0)),
            (printer("Printing", printing=True), job("Printing", 60.0)),
            (printer("Finishing", printing=True, finishing=True), job("Finishing", 100.0)),
            (IDLE, job("Operational", 100.0)),
        ]
    )
    assert [view.state for view in views] == [
        MachineState.IDLE,
        MachineState.RUNNING,
        MachineState.RUNNING,
        MachineState.PAUSED,
        MachineState.PAUSED,
        MachineState.RUNNING,
        MachineState.RUNNING,
        MachineState.IDLE,
    ]
    assert [view.busy for view in views] == [False, False, True, False, False, True, False, False]
    ids = {view.job.job_id for view in views if view.job is not None}
    assert ids == {"octoprint-1:bracket.gcode@1700000000"}
    assert views[5].job is not None and views[5].job.progress == pytest.approx(0.6)
    assert views[-1].outcome is JobOutcome.COMPLETED
    assert views[2].temperatures == {"nozzle": 214.8}


def test_endings() -> None:
    printing = (printer("Printing", printing=True), job("Printing"))
    cancelled = run(
        [
            printing,
            (printer("Cancelling", cancelling=True), job("Cancelling")),
            (IDLE, job("Operational", 35.0)),
        ]
    )
    assert cancelled[-1].outcome is JobOutcome.CANCELLED
    # Finishing fell between two polls: completion 100 still says it completed.
    assert run([printing, (IDLE, job("Operational", 100.0))])[-1].outcome is JobOutcome.COMPLETED
    # Cancelling fell between two polls: Operational below 100 % is a cancel.
    assert run([printing, (IDLE, job("Operational", 35.0))])[-1].outcome is JobOutcome.CANCELLED
    failed = run([printing, (Disconnected(), job("Offline after error"))])[-1]
    assert (failed.state, failed.outcome, failed.alarm, failed.alarm_message) == (
        MachineState.ALARM,
        JobOutcome.ERROR,
        "octoprint_error",
        "Offline after error",
    )
    flagged = run([printing, (printer("Error", error=True, closed_or_error=True), job("Error"))])
    assert flagged[-1].state is MachineState.ALARM
    gone = run([printing, (Disconnected(), job("Offline"))])[-1]
    assert (gone.state, gone.busy, gone.job, gone.outcome) == (
        MachineState.OFFLINE,
        False,
        None,
        JobOutcome.INTERRUPTED,
    )


def test_a_new_file_or_a_restart_between_two_polls_is_a_new_job() -> None:
    views = run(
        [
            (printer("Printing", printing=True), job("Printing", 90.0)),
            (printer("Printing", printing=True), job("Printing", 5.0, name="other.gcode")),
            (printer("Printing", printing=True), job("Printing", 95.0, name="other.gcode")),
            (printer("Printing", printing=True), job("Printing", 3.0, name="other.gcode")),
        ]
    )
    assert [view.job.job_id for view in views if view.job is not None] == [
        "octoprint-1:bracket.gcode@1700000000",
        "octoprint-2:other.gcode@1700000000",
        "octoprint-2:other.gcode@1700000000",
        "octoprint-3:other.gcode@1700000000",
    ]


def test_states_that_are_never_idle() -> None:
    for text in ("Cancelling", "Finishing", "Resuming", "Starting", "Sending file to SD", "New"):
        view = run([(printer(text), job(text))])[-1]
        assert view.state in (MachineState.RUNNING, MachineState.PAUSED), text
        assert not view.busy


# -- fuzz --------------------------------------------------------------------------------

TEXTS = st.sampled_from(
    [
        "Operational",
        "Printing",
        "Pausing",
        "Paused",
        "Cancelling",
        "Error",
        "Offline",
        "Offline after error",
        "Printing from SD",
        "Finishing",
        "Resuming",
        "Starting",
        "Sending file to SD",
        "Connecting",
        "Weird",
    ]
)
FLAGS = st.builds(
    Flags, printing=st.booleans(), paused=st.booleans(), pausing=st.booleans(), error=st.booleans()
)
PRINTERS = st.one_of(st.none(), st.just(Disconnected()), st.builds(PrinterStatus, TEXTS, FLAGS))
JOBS = st.one_of(
    st.none(),
    st.builds(
        JobStatus,
        TEXTS,
        st.sampled_from(["", "a.gcode", "b.gcode"]),
        st.sampled_from([None, 1.0, 2.0]),
        st.just("local"),
        st.one_of(st.none(), st.floats(-10, 120)),
    ),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(PRINTERS, JOBS), max_size=30))
def test_the_machine_keeps_its_invariants(
    steps: list[tuple[PrinterStatus | Disconnected | None, JobStatus | None]],
) -> None:
    for view in run(steps):
        if view.busy:
            assert view.job is not None and view.state is MachineState.RUNNING
        assert view.outcome is None or view.job is None
        assert (view.alarm is not None) == (view.state is MachineState.ALARM)
        if view.state in (MachineState.OFFLINE, MachineState.ALARM):
            assert view.job is None
        if view.job is not None and view.job.progress is not None:
            assert 0.0 <= view.job.progress <= 1.0


def _cut(body: bytes, at: int) -> bytes:
    return body[: at % (len(body) + 1)]


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            _cut, st.sampled_from([DOCS_JOB, DOCS_PRINTER, NO_JOB, ERROR_JOB]), st.integers()
        ),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
        ).map(lambda doc: repr(doc).encode()),
    ),
    st.sampled_from([200, 204, 401, 403, 404, 409, 500]),
)
def test_parsers_never_raise(body: bytes, code: int) -> None:
    job_status = parse_job(code, body)
    printer_status = parse_printer(code, body)
    assert isinstance(parse_version(code, body), Version | Unknown)
    assert isinstance(job_status, JobStatus | Unknown)
    assert isinstance(printer_status, PrinterStatus | Disconnected | Unknown)
    OctoPrintMachine().feed(
        None if isinstance(printer_status, Unknown) else printer_status,
        None if isinstance(job_status, Unknown) else job_status,
    )
