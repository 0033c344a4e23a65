"""Moonraker frames into messages, and messages into views.

The frames are Moonraker's own documented examples (Arksine/moonraker, docs/external_api/*.md,
docs/web_api.md and docs/printer_objects.md), as a client receives them on the websocket.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.model import ControllerView, JobOutcome, MachineState
from firmware_bridge.moonraker.machine import MoonrakerMachine
from firmware_bridge.moonraker.parse import (
    HistoryChanged,
    HistoryEntry,
    HistoryList,
    Ignored,
    KlippyEvent,
    Message,
    PrinterInfo,
    RpcError,
    ServerInfo,
    StatusSnapshot,
    StatusUpdate,
    Unknown,
    parse_frame,
)

# docs/external_api/jsonrpc_notifications.md, "Subscription Updates" (its trailing comma
# removed: the docs' JSON is hand-written, Moonraker's encoder never emits one).
STATUS_UPDATE = (
    '{"jsonrpc": "2.0", "method": "notify_status_update", "params": [{"gcode_move": '
    '{"speed": 1500}, "toolhead": {"status": "Ready"}}, 578243.57824499]}'
)
# docs/external_api/printer.md, "Subscribe to printer object status updates" example response,
# as the JSON-RPC result of request 5434.
SUBSCRIBE_RESULT = (
    '{"jsonrpc": "2.0", "result": {"eventtime": 578243.57824499, "status": {"gcode_move": '
    '{"absolute_coordinates": true, "absolute_extrude": true, "extrude_factor": 1, '
    '"gcode_position": [0, 0, 0, 0], "homing_origin": [0, 0, 0, 0], "position": [0, 0, 0, 0], '
    '"speed": 1500, "speed_factor": 1}, "toolhead": {"position": [0, 0, 0, 0], '
    '"status": "Ready"}}}, "id": 5434}'
)
# docs/external_api/server.md, "Query Server Info" example response (HTTP body form).
SERVER_INFO = (
    '{"result": {"klippy_connected": true, "klippy_state": "ready", "components": '
    '["database", "file_manager", "klippy_apis", "machine", "data_store", "shell_command", '
    '"proc_stats", "history", "octoprint_compat", "update_manager", "power"], '
    '"failed_components": [], "registered_directories": ["config", "gcodes", '
    '"config_examples", "docs"], "warnings": [], "websocket_count": 2, '
    '"moonraker_version": "v0.7.1-105-ge4f103c", "api_version": [1, 4, 0], '
    '"api_version_string": "1.4.0"}}'
)
# docs/external_api/history.md, "Get job list" example response (auxiliary data shortened
# to its first entry, the metadata comment dropped).
HISTORY_LIST = (
    '{"result": {"count": 1, "jobs": [{"job_id": "000001", "exists": true, '
    '"end_time": 1615764265.6493807, "filament_used": 7.83, "filename": '
    '"test/history_test.gcode", "metadata": {}, "print_duration": 18.37201827496756, '
    '"status": "completed", "start_time": 1615764496.622146, "total_duration": '
    '18.37201827496756, "user": "testuser", "auxiliary_data": [{"provider": '
    '"sensor hist_test", "name": "power_consumption", "value": 4.119977, "description": '
    '"Printer Power Consumption", "units": "kWh"}]}]}}'
)
# docs/external_api/jsonrpc_notifications.md, "History Changed" (metadata and auxiliary data
# shortened to a few fields).
HISTORY_ADDED = (
    '{"jsonrpc": "2.0", "method": "notify_history_changed", "params": [{"action": "added", '
    '"job": {"end_time": null, "filament_used": 20.09796999999998, "filename": '
    '"calicat_0.3mm_PLA_MK3S_33m.gcode", "metadata": {"size": 538254, "slicer": '
    '"PrusaSlicer", "estimated_time": 1954}, "print_duration": 0.911540990229696, '
    '"status": "in_progress", "start_time": 1738671939.433274, "total_duration": '
    '0.911540990229696, "auxiliary_data": [], "user": "testuser", "exists": true, '
    '"job_id": "000027"}}]}'
)

TABLE: list[tuple[str, Message]] = [
    (
        STATUS_UPDATE,
        StatusUpdate(
            {"gcode_move": {"speed": 1500}, "toolhead": {"status": "Ready"}}, 578243.57824499
        ),
    ),
    # docs/external_api/jsonrpc_notifications.md, Klippy Ready / Shutdown / Disconnected
    ('{"jsonrpc": "2.0", "method": "notify_klippy_ready"}', KlippyEvent("ready")),
    ('{"jsonrpc": "2.0", "method": "notify_klippy_shutdown"}', KlippyEvent("shutdown")),
    ('{"jsonrpc": "2.0", "method": "notify_klippy_disconnected"}', KlippyEvent("disconnected")),
    (SERVER_INFO, ServerInfo("ready", True)),
    (
        HISTORY_LIST,
        HistoryList(
            (
                HistoryEntry(
                    "000001",
                    "test/history_test.gcode",
                    "completed",
                    18.37201827496756,
                    18.37201827496756,
                ),
            )
        ),
    ),
    (
        HISTORY_ADDED,
        HistoryChanged(
            "added",
            HistoryEntry(
                "000027",
                "calicat_0.3mm_PLA_MK3S_33m.gcode",
                "in_progress",
                0.911540990229696,
                0.911540990229696,
            ),
        ),
    ),
    # docs/web_api.md, the JSON-RPC error example
    (
        '{"jsonrpc": "2.0", "error": {"code": 36000, "message": "Error Message"}, "id": 354}',
        RpcError(354, 36000, "Error Message"),
    ),
    # docs/external_api/jsonrpc_notifications.md, Gcode Responses and CPU Throttled
    (
        '{"jsonrpc": "2.0", "method": "notify_gcode_response", "params": ["response message"]}',
        Ignored("notify_gcode_response"),
    ),
    (
        '{"jsonrpc": "2.0", "method": "notify_cpu_throttled", "params": [{"bits": 0, '
        '"flags": []}]}',
        Ignored("notify_cpu_throttled"),
    ),
    # docs/external_api/printer.md, Emergency Stop answers the string "ok": not a status
    (
        '{"jsonrpc": "2.0", "result": "ok", "id": 4564}',
        Unknown('{"jsonrpc": "2.0", "result": "ok", "id": 4564}'),
    ),
    (
        '{"jsonrpc": "2.0", "method": "notify_made_up"}',
        Unknown('{"jsonrpc": "2.0", "method": "notify_made_up"}'),
    ),
    # docs/external_api/printer.md, Get Klippy host information (printer.info):
    (
        '{"jsonrpc": "2.0", "result": {"state": "ready", "state_message": "Printer is ready", '
        '"hostname": "my-pi-hostname", "software_version": "v0.9.1-302-g900c7396", '
        '"cpu_info": "4 core ARMv7 Processor rev 4 (v7l)", "klipper_path": "/home/pi/klipper", '
        '"python_path": "/home/pi/klippy-env/bin/python", "log_file": "/tmp/klippy.log", '
        '"config_file": "/home/pi/printer.cfg"}, "id": 7}',
        PrinterInfo("v0.9.1-302-g900c7396", "ready"),
    ),
    ("not json at all", Unknown("not json at all")),
    ("[1, 2, 3]", Unknown("[1, 2, 3]")),
]


@pytest.mark.parametrize(("frame", "expected"), TABLE)
def test_documented_frames(frame: str, expected: Message) -> None:
    assert parse_frame(frame) == expected


def test_klipper_names_its_version_and_keeps_it_through_a_restart() -> None:
    machine = MoonrakerMachine()
    assert machine.feed(ServerInfo("ready", True)).firmware == ""
    assert machine.feed(PrinterInfo("v0.12.0-85-gd785b396", "ready")).firmware == (
        "Klipper v0.12.0-85-gd785b396"
    )
    restarting = machine.feed(KlippyEvent("disconnected"))
    assert restarting.state is MachineState.OFFLINE
    assert restarting.firmware == "Klipper v0.12.0-85-gd785b396"


def test_subscribe_result_is_a_whole_snapshot() -> None:
    message = parse_frame(SUBSCRIBE_RESULT)
    assert isinstance(message, StatusSnapshot)
    assert message.eventtime == 578243.57824499
    assert message.status["toolhead"] == {"position": [0, 0, 0, 0], "status": "Ready"}


def test_binary_frames_are_decoded_and_bad_bytes_replaced() -> None:
    assert parse_frame(b'{"jsonrpc": "2.0", "method": "notify_klippy_ready"}') == KlippyEvent(
        "ready"
    )
    assert isinstance(parse_frame(b"\x80\xff{"), Unknown)


# -- the machine ------------------------------------------------------------------------

# docs/printer_objects.md examples, the objects a view is made of.
IDLE_STATUS: dict[str, dict[str, object]] = {
    "print_stats": {
        "filename": "",
        "total_duration": 0.0,
        "print_duration": 0.0,
        "filament_used": 0.0,
        "state": "standby",
        "message": "",
        "info": {"total_layer": None, "current_layer": None},
    },
    "idle_timeout": {"state": "Idle", "printing_time": 0.0},
    "virtual_sdcard": {
        "file_path": None,
        "progress": 0,
        "is_active": False,
        "file_position": 0,
        "file_size": 0,
    },
    "extruder": {"temperature": 0, "target": 0, "power": 0, "can_extrude": True},
    "heater_bed": {"temperature": 0.0, "target": 0.0, "power": 0.0},
    "webhooks": {"state": "ready", "state_message": "Printer is ready"},
}


def snapshot(**changes: dict[str, object]) -> StatusSnapshot:
    status: dict[str, dict[str, object]] = {
        name: dict(fields) for name, fields in IDLE_STATUS.items()
    }
    for name, fields in changes.items():
        status[name].update(fields)
    return StatusSnapshot(status, 1.0)


def update(**changes: dict[str, object]) -> StatusUpdate:
    return StatusUpdate(changes, 2.0)


def printing(filename: str = "cube.gcode", state: str = "printing") -> StatusUpdate:
    return update(print_stats={"state": state, "filename": filename})


def feed_all(machine: MoonrakerMachine, messages: list[Message]) -> list[ControllerView]:
    return [machine.feed(message) for message in messages]


def test_a_print_with_a_pause_takes_the_history_id_and_ends_completed() -> None:
    machine = MoonrakerMachine()
    views = feed_all(
        machine,
        [
            ServerInfo("ready", True),
            snapshot(),
            parse_frame(HISTORY_ADDED),
            printing("calicat_0.3mm_PLA_MK3S_33m.gcode"),
            update(virtual_sdcard={"progress": 0.25}, extruder={"temperature": 214.6}),
            update(print_stats={"state": "paused"}),
            update(print_stats={"state": "printing"}),
            update(print_stats={"state": "complete"}, virtual_sdcard={"progress": 1.0}),
            update(extruder={"temperature": 150.0}),
        ],
    )
    assert [view.state for view in views] == [
        MachineState.OFFLINE,  # Klippy ready, but nothing known of the printer yet
        MachineState.IDLE,
        MachineState.IDLE,
        MachineState.RUNNING,
        MachineState.RUNNING,
        MachineState.PAUSED,
        MachineState.RUNNING,
        MachineState.IDLE,
        MachineState.IDLE,
    ]
    assert [view.busy for view in views] == [False] * 3 + [True, True, False, True] + [False] * 2
    job = views[4].job
    assert job is not None
    assert (job.job_id, job.name, job.progress) == (
        "000027",
        "calicat_0.3mm_PLA_MK3S_33m.gcode",
        0.25,
    )
    assert views[4].temperatures == {"nozzle": 214.6, "bed": 0.0}
    assert [view.outcome for view in views[-2:]] == [JobOutcome.COMPLETED] * 2
    assert views[5].job == views[6].job == job.__class__("000027", job.name, 0.25)


def test_a_bridge_started_after_a_print_sees_no_job_and_no_outcome() -> None:
    # print_stats keeps the last job's values until the next one: `complete` is not an ending.
    view = MoonrakerMachine().feed(snapshot(print_stats={"state": "complete", "filename": "a"}))
    assert (view.state, view.job, view.outcome) == (MachineState.IDLE, None, None)


def test_without_history_ids_the_file_name_and_a_counter_name_each_job() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    first = machine.feed(printing())
    machine.feed(update(print_stats={"state": "cancelled"}))
    second = machine.feed(printing())
    assert first.job is not None and second.job is not None
    assert (first.job.job_id, second.job.job_id) == ("cube.gcode#1", "cube.gcode#2")
    ended = machine.feed(update(print_stats={"state": "error", "message": "Move out of range"}))
    assert (ended.job, ended.outcome, ended.state) == (None, JobOutcome.ERROR, MachineState.IDLE)


def test_a_history_entry_added_after_the_job_started_does_not_rename_it() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    started = machine.feed(printing("calicat_0.3mm_PLA_MK3S_33m.gcode"))
    later = machine.feed(parse_frame(HISTORY_ADDED))
    assert started.job is not None and later.job is not None
    assert later.job.job_id == started.job.job_id


def test_macros_and_vendor_states_are_running_but_not_busy() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    macro = machine.feed(update(idle_timeout={"state": "Printing"}))
    assert (macro.state, macro.busy, macro.job) == (MachineState.RUNNING, False, None)
    assert machine.feed(update(idle_timeout={"state": "Ready"})).state is MachineState.IDLE
    heating = machine.feed(update(print_stats={"state": "heating", "filename": "a.gcode"}))
    assert (heating.state, heating.busy, heating.job) == (MachineState.RUNNING, False, None)
    in_job = machine.feed(printing("a.gcode"))
    vendor = machine.feed(update(print_stats={"state": "extracting"}))
    assert vendor.job == in_job.job
    assert (vendor.state, vendor.busy) == (MachineState.RUNNING, False)


def test_klippy_shutdown_is_an_alarm_and_ends_the_job_in_error() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    machine.feed(printing())
    view = machine.feed(KlippyEvent("shutdown"))
    assert (view.state, view.alarm, view.job, view.outcome) == (
        MachineState.ALARM,
        "klippy_shutdown",
        None,
        JobOutcome.ERROR,
    )
    # A frame queued before the shutdown, without webhooks, does not end the alarm.
    assert machine.feed(update(extruder={"temperature": 180.0})).state is MachineState.ALARM
    why = "MCU 'mcu' shutdown: Timer too close"
    message = machine.feed(update(webhooks={"state": "shutdown", "state_message": why}))
    assert message.alarm_message == why


def test_klippy_disconnected_is_offline_and_interrupts_the_job() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    machine.feed(printing())
    view = machine.feed(KlippyEvent("disconnected"))
    assert (view.state, view.job, view.outcome) == (
        MachineState.OFFLINE,
        None,
        JobOutcome.INTERRUPTED,
    )
    # Klipper's objects went with it: nothing is known until the new subscription answers.
    assert machine.feed(KlippyEvent("ready")).state is MachineState.OFFLINE
    assert machine.feed(snapshot()).state is MachineState.IDLE


def test_null_fields_leave_the_overlay() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    machine.feed(printing())
    half = machine.feed(update(virtual_sdcard={"progress": 0.5})).job
    gone = machine.feed(update(virtual_sdcard={"progress": None})).job
    assert half is not None and half.progress == 0.5
    assert gone is not None and gone.progress is None


def test_history_ends_a_job_whose_status_transition_was_missed() -> None:
    machine = MoonrakerMachine()
    machine.feed(snapshot())
    machine.feed(parse_frame(HISTORY_ADDED))
    machine.feed(printing("calicat_0.3mm_PLA_MK3S_33m.gcode"))
    finished = HistoryChanged(
        "finished", HistoryEntry("000027", "calicat_0.3mm_PLA_MK3S_33m.gcode", "klippy_shutdown")
    )
    view = machine.feed(finished)
    assert (view.job, view.outcome) == (None, JobOutcome.ERROR)
    # The status frame saying so comes after: still the same ended job, no new one.
    assert machine.feed(update(virtual_sdcard={"progress": 0.5})).job is None
    assert machine.feed(update(print_stats={"state": "error"})).outcome is JobOutcome.ERROR


def test_reconnecting_mid_print_recovers_the_history_id() -> None:
    machine = MoonrakerMachine()
    machine.feed(HistoryList((HistoryEntry("000042", "benchy.gcode", "in_progress"),)))
    view = machine.feed(snapshot(print_stats={"state": "printing", "filename": "benchy.gcode"}))
    assert view.job is not None and view.job.job_id == "000042"


# -- fuzz ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
known_frames = [STATUS_UPDATE, SUBSCRIBE_RESULT, SERVER_INFO, HISTORY_LIST, HISTORY_ADDED]


@settings(max_examples=300)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_parse_without_raising(frame: bytes | str) -> None:
    parse_frame(frame)


@settings(max_examples=300)
@given(st.sampled_from(known_frames), st.integers(min_value=0, max_value=2000))
def test_truncated_frames_are_unknown(frame: str, cut: int) -> None:
    if cut < len(frame):
        assert isinstance(parse_frame(frame[:cut]), Unknown)


@settings(max_examples=300)
@given(
    method=st.sampled_from(
        ["notify_status_update", "notify_history_changed", "notify_klippy_ready", "x"]
    ),
    params=json_values,
    result=json_values,
    key=st.sampled_from(["params", "result", "error"]),
)
def test_json_of_any_shape_parses_without_raising(
    method: str, params: object, result: object, key: str
) -> None:
    doc: dict[str, object] = {"jsonrpc": "2.0", key: params if key != "result" else result}
    if key == "params":
        doc["method"] = method
    parse_frame(json.dumps(doc))
    parse_frame(json.dumps({"result": {"status": result, "jobs": params}}))


field_values = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8)
print_states = st.sampled_from(
    ["standby", "printing", "paused", "complete", "error", "cancelled", "heating", ""]
)
messages = st.one_of(
    st.builds(
        lambda state, name, idle, progress, extra: StatusUpdate(
            {
                "print_stats": {"state": state, "filename": name, "print_duration": extra},
                "idle_timeout": {"state": idle},
                "virtual_sdcard": {"progress": progress},
                "extruder": {"temperature": extra},
            }
        ),
        print_states,
        st.sampled_from(["a.gcode", "b.gcode", ""]),
        st.sampled_from(["Idle", "Ready", "Printing", None]),
        field_values,
        field_values,
    ),
    st.builds(lambda s: StatusSnapshot({"print_stats": {"state": s}}), print_states),
    st.builds(KlippyEvent, st.sampled_from(["ready", "shutdown", "disconnected"])),
    st.builds(
        ServerInfo, st.sampled_from(["ready", "startup", "shutdown", "error", ""]), st.booleans()
    ),
    st.builds(
        HistoryChanged,
        st.sampled_from(["added", "finished", "x"]),
        st.builds(
            HistoryEntry,
            st.sampled_from(["000001", "000002"]),
            st.sampled_from(["a.gcode", "b.gcode", ""]),
            st.sampled_from(["in_progress", "completed", "cancelled", "klippy_shutdown"]),
        ),
    ),
    st.builds(
        HistoryList,
        st.lists(
            st.builds(
                HistoryEntry,
                st.sampled_from(["000001", "000003"]),
                st.just("a.gcode"),
                st.sampled_from(["in_progress", "completed"]),
            ),
            max_size=2,
        ).map(tuple),
    ),
    st.builds(Unknown, st.text(max_size=5)),
)

ALARM_CODE = re.compile(r"^[a-z0-9_]+$")


@settings(max_examples=300)
@given(st.lists(messages, max_size=30))
def test_any_message_sequence_gives_consistent_views(sequence: list[Message]) -> None:
    machine = MoonrakerMachine()
    last_ended: str | None = None
    current: str | None = None
    for message in sequence:
        view = machine.feed(message)
        if view.busy:
            assert view.job is not None and view.state is MachineState.RUNNING
        if view.state is MachineState.PAUSED:
            assert view.job is not None
        if view.job is not None:
            assert view.outcome is None
            assert view.job.progress is None or 0.0 <= view.job.progress <= 1.0
        if view.alarm is not None:
            assert ALARM_CODE.match(view.alarm)
        job_id = view.job.job_id if view.job is not None else None
        if job_id != current and current is not None:
            last_ended = current
        if job_id is not None and job_id != current:
            assert job_id != last_ended  # a new job never takes the id of the one just ended
        current = job_id
