"""Shelly Gen2 RPC frames as they arrive over MQTT. Pure: one payload in, one value out.

On `<prefix>/events/rpc` the device sends notifications: `NotifyStatus` carries only what
changed since the last status (a key set to null was removed), `NotifyFullStatus` the whole
status, `NotifyEvent` discrete events. Replies to our requests arrive on `<src>/rpc` with
our request's `id` and either a `result` or an `error` (`code`, `message`). `<prefix>/online`
holds `true` or `false` (the device's last will).

Nothing here raises on any payload: anything unusable is an `Unknown`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware_bridge.errors import FrameError
from firmware_bridge.model import MeterReading

JsonObject = dict[str, Any]

MAX_OVERLAY_DEPTH = 16  # deeper deltas replace the old value whole instead of merging
EXCERPT = 200


@dataclass(frozen=True, slots=True)
class StatusNotification:
    """`NotifyStatus` (a delta to overlay) or `NotifyFullStatus` (`full`: the whole status)."""

    ts: float | None
    components: Mapping[str, JsonObject]  # "switch:0", "sys", ... to their (partial) status
    full: bool = False


@dataclass(frozen=True, slots=True)
class EventNotification:
    ts: float | None
    events: tuple[JsonObject, ...]


@dataclass(frozen=True, slots=True)
class RpcResult:
    id: object
    src: str
    dst: str
    result: JsonObject


@dataclass(frozen=True, slots=True)
class RpcError:
    id: object
    src: str
    dst: str
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Online:
    online: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


Frame = StatusNotification | EventNotification | RpcResult | RpcError | Unknown


@dataclass(frozen=True, slots=True)
class SwitchStatus:
    """The metering fields of one `switch:<id>` status (absent fields are None)."""

    output: bool | None = None
    apower: float | None = None  # W
    voltage: float | None = None  # V
    current: float | None = None  # A
    energy_wh: float | None = None  # aenergy.total: the device's counter, Wh
    temperature_c: float | None = None
    errors: tuple[str, ...] = ()  # overtemp, overpower, overvoltage...

    def reading(self) -> MeterReading | None:
        """A meter reading, or None for a switch without power metering."""
        if self.apower is None:
            return None
        return MeterReading(
            power_w=self.apower,
            energy_wh=self.energy_wh,
            voltage_v=self.voltage,
            current_a=self.current,
        )


def parse_frame(payload: bytes | str) -> Frame:
    """A frame from `<prefix>/events/rpc` or `<src>/rpc`."""
    try:
        doc, text = _load(payload)
    except FrameError as exc:
        return Unknown(str(exc))
    if not isinstance(doc, dict):
        return Unknown(_excerpt(text))
    method = doc.get("method")
    if method in ("NotifyStatus", "NotifyFullStatus"):
        return _status(doc, text, full=method == "NotifyFullStatus")
    if method == "NotifyEvent":
        return _event(doc, text)
    if "id" in doc and method is None:
        return _reply(doc, text)
    return Unknown(_excerpt(text))


def parse_online(payload: bytes | str) -> Online | Unknown:
    """`<prefix>/online`: `true` or `false`."""
    try:
        doc, text = _load(payload)
    except FrameError as exc:
        return Unknown(str(exc))
    if isinstance(doc, bool):
        return Online(doc)
    return Unknown(_excerpt(text))


def overlay(status: Mapping[str, Any], delta: Mapping[str, Any], depth: int = 0) -> JsonObject:
    """`status` with `delta` laid over it, as a fresh GetStatus would return it."""
    merged = dict(status)
    for key, value in delta.items():
        old = merged.get(key)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(old, dict) and depth < MAX_OVERLAY_DEPTH:
            merged[key] = overlay(old, value, depth + 1)
        else:
            merged[key] = value
    return merged


def component_key(switch_id: int) -> str:
    return f"switch:{switch_id}"


def switch_of(result: Mapping[str, Any], switch_id: int) -> JsonObject | None:
    """The switch's status in a `Switch.GetStatus` or `Shelly.GetStatus` result."""
    nested = result.get(component_key(switch_id))
    if isinstance(nested, dict):
        return nested
    if result.get("id") == switch_id and not isinstance(result.get("id"), bool):
        return dict(result)
    return None


def switch_status(status: Mapping[str, Any]) -> SwitchStatus:
    """The metering fields of a `switch:<id>` status; wrong types read as absent."""
    energy = status.get("aenergy")
    temperature = status.get("temperature")
    errors = status.get("errors")
    output = status.get("output")
    return SwitchStatus(
        output=output if isinstance(output, bool) else None,
        apower=_number(status.get("apower")),
        voltage=_number(status.get("voltage")),
        current=_number(status.get("current")),
        energy_wh=_number(energy.get("total")) if isinstance(energy, dict) else None,
        temperature_c=_number(temperature.get("tC")) if isinstance(temperature, dict) else None,
        errors=tuple(e for e in errors if isinstance(e, str)) if isinstance(errors, list) else (),
    )


# ---------------------------------------------------------------------- inside


def _load(payload: bytes | str) -> tuple[object, str]:
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    except UnicodeDecodeError as exc:
        raise FrameError(f"not UTF-8: {payload[:EXCERPT]!r}") from exc
    try:
        return json.loads(text), text
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"not JSON: {_excerpt(text)}") from exc


def _status(doc: JsonObject, text: str, *, full: bool) -> StatusNotification | Unknown:
    params = doc.get("params")
    if not isinstance(params, dict):
        return Unknown(_excerpt(text))
    components = {key: value for key, value in params.items() if isinstance(value, dict)}
    return StatusNotification(_number(params.get("ts")), components, full)


def _event(doc: JsonObject, text: str) -> EventNotification | Unknown:
    params = doc.get("params")
    events = params.get("events") if isinstance(params, dict) else None
    if not isinstance(params, dict) or not isinstance(events, list):
        return Unknown(_excerpt(text))
    found = tuple(event for event in events if isinstance(event, dict))
    return EventNotification(_number(params.get("ts")), found)


def _reply(doc: JsonObject, text: str) -> RpcResult | RpcError | Unknown:
    src, dst = _text(doc.get("src")), _text(doc.get("dst"))
    result, error = doc.get("result"), doc.get("error")
    if isinstance(result, dict):
        return RpcResult(doc["id"], src, dst, result)
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(error, dict) and isinstance(code, int) and not isinstance(code, bool):
        return RpcError(doc["id"], src, dst, code, _text(error.get("message")))
    return Unknown(_excerpt(text))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # JSON integers are unbounded
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."
