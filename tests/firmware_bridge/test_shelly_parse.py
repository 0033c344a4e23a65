"""Shelly Gen2 frames: real wire JSON in tables, then any bytes and any JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.model import MeterReading
from firmware_bridge.shelly import parse

# Captured from a Shelly Plus 1PM on MQTT with a custom topic prefix, in the comments of
# koestler/go-mqtt-to-influx, converter/shelly.go.
PLUS1PM_VOLTAGE = (
    '{"src":"shellyplus1pm-4417939341dc","dst":"shellies/plus1pm/events","method":"NotifyStatus",'
    '"params":{"ts":1661517385.44,"switch:0":{"id":0,"voltage":232.7}}}'
)
PLUS1PM_ENERGY = (
    '{"src":"shellyplus1pm-4417939341dc","dst":"shellies/plus1pm/events","method":"NotifyStatus",'
    '"params":{"ts":1661517421.44,"switch:0":{"id":0,"aenergy":{"by_minute":[0.000,0.000,0.000],'
    '"minute_ts":1661517419,"total":0.000}}}}'
)
PLUS1PM_TEMPERATURE = (
    '{"src":"shellyplus1pm-4417939341dc","dst":"shellies/plus1pm/events","method":"NotifyStatus",'
    '"params":{"ts":1661517410.45,"switch:0":{"id":0,"temperature":{"tC":44.06,"tF":111.30}}}}'
)
PLUS1PM_MQTT_UP = (  # sent 1.61 s after boot, before the clock was set
    '{"src":"shellyplus1pm-4417939341dc","dst":"shellies/plus1pm/events","method":"NotifyStatus",'
    '"params":{"ts":1.61,"mqtt":{"connected":true}}}'
)
PLUS1PM_STATUS = (  # the full switch:0 status, as on <prefix>/status/switch:0
    '{"id":0, "source":"init", "output":false, "apower":0.0, "voltage":232.7, "current":0.000, '
    '"aenergy":{"total":0.000,"by_minute":[0.000,0.000,0.000],"minute_ts":1661517385},'
    '"temperature":{"tC":39.2, "tF":102.5}}'
)

# Captured from a Shelly Plus 1PM switching a heater, in mlyszczek/shelldown's README.
HEATER_ON = (
    '{"src":"shellyplus1pm-4417939a5610","dst":"shellyplus1pm-4417939a5610/events",'
    '"method":"NotifyStatus","params":{"ts":1708326852.50,"switch:0":{"id":0,"apower":918.63}}}'
)
HEATER_OFF = (
    '{"src":"shellyplus1pm-4417939a5610","dst":"shellyplus1pm-4417939a5610/events",'
    '"method":"NotifyStatus","params":{"ts":1708326875.04,"switch:0":{"id":0,"apower":0,'
    '"output":false,"source":"MQTT","voltage":0}}}'
)

# Shelly Gen2 API docs: General/Notifications "Example 1" and General/CommonErrors "-103".
DOCS_BUTTON = """{
"src": "shellypro4pm-f008d1d8b8b8",
"dst": "user_1",
"method": "NotifyStatus",
"params": {
"ts": 1631186545.04,
"switch:0": {
"id": 0,
"output": true,
"source": "button"
}
}
}"""
DOCS_ERROR = """{
"id": 1,
"src": "shellypro4pm-f008d1d8b8b8",
"dst": "user_1",
"error": {
"code": -103,
"message": "Missing required 'id'"
}
}"""


@pytest.mark.parametrize(
    ("wire", "ts", "components"),
    [
        (PLUS1PM_VOLTAGE, 1661517385.44, {"switch:0": {"id": 0, "voltage": 232.7}}),
        (PLUS1PM_MQTT_UP, 1.61, {"mqtt": {"connected": True}}),
        (HEATER_ON, 1708326852.50, {"switch:0": {"id": 0, "apower": 918.63}}),
        (DOCS_BUTTON, 1631186545.04, {"switch:0": {"id": 0, "output": True, "source": "button"}}),
    ],
)
def test_notify_status_from_the_wire(wire: str, ts: float, components: dict[str, Any]) -> None:
    assert parse.parse_frame(wire.encode()) == parse.StatusNotification(ts, components)


def test_rpc_error_from_the_docs() -> None:
    assert parse.parse_frame(DOCS_ERROR) == parse.RpcError(
        1, "shellypro4pm-f008d1d8b8b8", "user_1", -103, "Missing required 'id'"
    )


def test_rpc_result_carrying_the_real_status() -> None:
    # The reply envelope of the Gen2 RPC protocol page around the captured status object.
    frame = f'{{"id":7,"src":"shellyplus1pm-4417939341dc","dst":"hub","result":{PLUS1PM_STATUS}}}'
    reply = parse.parse_frame(frame)
    assert isinstance(reply, parse.RpcResult)
    assert (reply.id, reply.src, reply.dst) == (7, "shellyplus1pm-4417939341dc", "hub")
    status = parse.switch_status(reply.result)
    assert status == parse.SwitchStatus(
        output=False, apower=0.0, voltage=232.7, current=0.0, energy_wh=0.0, temperature_c=39.2
    )
    assert status.reading() == MeterReading(
        power_w=0.0, energy_wh=0.0, voltage_v=232.7, current_a=0.0
    )
    assert parse.switch_of(reply.result, 0) == json.loads(PLUS1PM_STATUS)
    assert parse.switch_of({"switch:0": reply.result}, 0) == json.loads(PLUS1PM_STATUS)
    assert parse.switch_of(reply.result, 1) is None


def test_notify_event_to_the_documented_shape() -> None:
    frame = (
        '{"src":"shellyplus1pm-a8032abe54dc","dst":"shellyplus1pm-a8032abe54dc/events",'
        '"method":"NotifyEvent","params":{"ts":1661517500.12,"events":[{"component":"sys",'
        '"event":"config_changed","restart_required":false,"ts":1661517500.12,"cfg_rev":9}]}}'
    )
    event = parse.parse_frame(frame)
    assert isinstance(event, parse.EventNotification)
    assert event.events[0]["event"] == "config_changed"


@pytest.mark.parametrize(("wire", "online"), [(b"true", True), (b"false", False)])
def test_online_topic(wire: bytes, online: bool) -> None:
    # <prefix>/online payloads as captured in koestler/go-mqtt-to-influx, converter/shelly.go.
    assert parse.parse_online(wire) == parse.Online(online)


@pytest.mark.parametrize("wire", [b"", b"1", b"online", b"\xff", b'"true"'])
def test_odd_online_payloads_are_unknown(wire: bytes) -> None:
    assert isinstance(parse.parse_online(wire), parse.Unknown)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\xff\xfe",
        b"{not json",
        b"[1, 2]",
        b'{"method":"NotifyStatus"}',  # no params
        b'{"method":"NotifyEvent","params":{"events":{}}}',
        b'{"id":1,"result":[]}',
        b'{"id":1,"error":{"code":true}}',
        b'{"method":"Switch.Set","id":3,"params":{"id":0}}',  # a request, not for us
        b"[" * 100_000,
    ],
)
def test_unusable_frames_are_unknown(wire: bytes) -> None:
    assert isinstance(parse.parse_frame(wire), parse.Unknown)


def test_the_captured_deltas_overlay_onto_the_captured_status() -> None:
    status = json.loads(PLUS1PM_STATUS)
    for wire in (PLUS1PM_VOLTAGE, PLUS1PM_TEMPERATURE, PLUS1PM_ENERGY):
        frame = parse.parse_frame(wire)
        assert isinstance(frame, parse.StatusNotification)
        status = parse.overlay(status, frame.components["switch:0"])
    assert status["temperature"] == {"tC": 44.06, "tF": 111.30}
    assert status["aenergy"]["minute_ts"] == 1661517419
    assert status["source"] == "init"  # untouched keys stay
    heater = parse.overlay(status, {"apower": 918.63, "output": True})
    off = parse.parse_frame(HEATER_OFF)
    assert isinstance(off, parse.StatusNotification)
    after = parse.switch_status(parse.overlay(heater, off.components["switch:0"]))
    assert (after.apower, after.output, after.voltage) == (0.0, False, 0.0)


def test_null_removes_a_key_and_nested_objects_merge() -> None:
    status = {"id": 0, "apower": 5.0, "errors": ["overpower"], "aenergy": {"total": 1.5, "x": 1}}
    merged = parse.overlay(status, {"errors": None, "aenergy": {"total": 2.0}})
    assert merged == {"id": 0, "apower": 5.0, "aenergy": {"total": 2.0, "x": 1}}
    assert status["errors"] == ["overpower"]  # the old status is left alone


def test_errors_and_wrong_types() -> None:
    status = parse.switch_status(
        {"apower": "12", "voltage": True, "errors": ["overtemp", 3], "aenergy": []}
    )
    assert status == parse.SwitchStatus(errors=("overtemp",))
    assert status.reading() is None  # a switch without metering gives no reading


# ---------------------------------------------------------------------- any input

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(
    st.sampled_from(["id", "apower", "aenergy", "total", "errors", "output", "switch:0", "ts"])
    | st.text(max_size=6),
    json_values,
    max_size=6,
)


@given(st.binary(max_size=200))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    assert isinstance(
        parse.parse_frame(data),
        parse.StatusNotification
        | parse.EventNotification
        | parse.RpcResult
        | parse.RpcError
        | parse.Unknown,
    )
    assert isinstance(parse.parse_online(data), parse.Online | parse.Unknown)


@given(json_values)
def test_any_json_parses_without_raising(value: object) -> None:
    parse.parse_frame(json.dumps(value))
    parse.parse_online(json.dumps(value))


@settings(max_examples=50)
@given(json_objects, st.sampled_from(["NotifyStatus", "NotifyFullStatus", "NotifyEvent", None]))
def test_any_params_in_a_notification_envelope(params: dict[str, Any], method: str | None) -> None:
    frame = parse.parse_frame(json.dumps({"method": method, "id": 1, "params": params}))
    if isinstance(frame, parse.StatusNotification):
        for component in frame.components.values():
            parse.switch_status(component).reading()


@settings(max_examples=50)
@given(json_objects, json_objects)
def test_overlay_of_anything_never_raises_and_drops_nulls(
    status: dict[str, Any], delta: dict[str, Any]
) -> None:
    merged = parse.overlay(status, delta)
    assert all(key not in merged for key, value in delta.items() if value is None)
    assert all(  # `is`: a NaN is not equal to itself
        merged[key] is value for key, value in delta.items() if not isinstance(value, dict | None)
    )
    parse.switch_status(merged).reading()
    parse.switch_of(merged, 0)


@settings(max_examples=50)
@given(json_objects)
def test_switch_status_of_anything(status: dict[str, Any]) -> None:
    reading = parse.switch_status(status).reading()
    assert reading is None or isinstance(reading.power_w, float)
