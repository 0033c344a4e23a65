"""A simulated Shelly Plus 1PM: an MQTT client that behaves as the device does on a broker.

It keeps `<prefix>/online` retained (`true` once connected, `false` as its last will and
before a reboot), answers RPC requests sent to `<prefix>/rpc` on `<src>/rpc`, and publishes
`NotifyStatus` deltas on `<prefix>/events/rpc`: power, current and output when they change,
the energy counter every `notify_every_s` while a load draws, errors as they appear (and
`null` when they clear). `reboot(reset_counters=True)` behaves as older firmware, whose
energy counter starts again from zero. `consumed_wh` is the truth: all energy metered.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from paho.mqtt.client import Client
from paho.mqtt.enums import MQTTErrorCode

from firmware_bridge.shelly import parse
from firmware_bridge.shelly.link import ClientEvent, Connack, Disconnected, Message, new_client

log = logging.getLogger(__name__)

DEFAULT_DEVICE_ID = "shellyplus1pm-a8032abe54dc"
TICK_S = 0.05
RECONNECT_S = 0.5
PUBLISH_WAIT_S = 2.0

# Shelly's own error codes (Gen2 API docs, "Common errors").
INVALID_ARGUMENT = -103
NOT_FOUND = -105
NO_HANDLER = 404


class ShellySimulator:
    """Start it, drive it with `set_load`, `reboot`, `set_errors`; read `consumed_wh`."""

    def __init__(
        self,
        host: str,
        port: int,
        device_id: str = DEFAULT_DEVICE_ID,
        *,
        prefix: str | None = None,
        switch_id: int = 0,
        voltage: float = 230.0,
        notify_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.device_id = device_id
        self.prefix = prefix or device_id
        self.switch_id = switch_id
        self.voltage = voltage
        self.notify_every_s = notify_every_s
        self._clock = clock
        self._lock = threading.RLock()
        self.output = True
        self.load_w = 0.0  # what the machine would draw with the relay closed
        self.total_wh = 0.0  # the device's counter: aenergy.total
        self.consumed_wh = 0.0  # truth: everything metered, across counter resets
        self.errors: tuple[str, ...] = ()
        self.requests = 0
        self.boots = 0
        self._now: float | None = None
        self._notified_at = -math.inf
        self._autoplay: tuple[float, float, float, float] | None = None  # idle, on, W, origin
        self._client: Client | None = None
        self._events: queue.Queue[ClientEvent] = queue.Queue()
        self._connected = False
        self._attempted_at = -math.inf
        self._powered = threading.Event()  # cleared while rebooting
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shelly-sim", daemon=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}/{self.prefix}"

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> ShellySimulator:
        self._powered.set()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Switch the device off: `online` goes false, as its last will would say."""
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self._say_offline()

    def __enter__(self) -> ShellySimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ driving it

    def set_load(self, power_w: float) -> None:
        with self._lock:
            self._advance()
            self._autoplay = None
            self._change_load(power_w)

    def set_output(self, on: bool, source: str = "button") -> None:
        """Open or close the relay; `source` is what the device names as the cause."""
        with self._lock:
            self._advance()
            was = self.apower
            self.output = on
            self._notify({"output": on, "source": source, **self._power_fields()}, was)

    def set_errors(self, errors: tuple[str, ...]) -> None:
        """Raise device errors (overpower, overtemp, overvoltage); `()` clears them."""
        with self._lock:
            self.errors = tuple(errors)
            self._publish_delta({"errors": list(errors) if errors else None})

    def autoplay(self, every_s: float, duration_s: float, power_w: float = 1200.0) -> None:
        """Alternate `every_s` idle and `duration_s` at `power_w`, starting idle now."""
        with self._lock:
            self._advance()
            self._autoplay = (every_s, duration_s, power_w, self._clock())

    def reboot(self, *, reset_counters: bool = False, downtime_s: float = 0.2) -> None:
        """Go offline for `downtime_s` (nothing metered meanwhile), then come back.

        With `reset_counters`, the energy counter restarts from zero, as it does on Gen1
        devices and Gen2 firmware before 1.1.0.
        """
        with self._lock:
            self._advance()
            self._publish_delta({"aenergy": self._energy()})
            self._powered.clear()
            self._say_offline()
        self._stop.wait(downtime_s)
        with self._lock:
            self._now = self._clock()  # the relay was open: nothing to integrate
            if reset_counters:
                self.total_wh = 0.0
            self._powered.set()

    @property
    def apower(self) -> float:
        return self.load_w if self.output and self._powered.is_set() else 0.0

    def status(self) -> parse.JsonObject:
        """The `switch:<id>` status a `Switch.GetStatus` returns now."""
        with self._lock:
            self._advance()
            status: parse.JsonObject = {
                "id": self.switch_id,
                "source": "init",
                "output": self.output,
                **self._power_fields(),
                "voltage": self.voltage,
                "freq": 50.0,
                "aenergy": self._energy(),
                "temperature": {"tC": 41.3, "tF": 106.3},
            }
            if self.errors:
                status["errors"] = list(self.errors)
            return status

    # ------------------------------------------------------------------ the device's loop

    def _run(self) -> None:
        while not self._stop.is_set():
            # Under the lock: `reboot` and `stop` drop the client from other threads.
            with self._lock:
                if self._powered.is_set():
                    self._keep_connected()
                    self._drain()
                    self._tick()
            self._stop.wait(TICK_S)

    def _tick(self) -> None:
        self._advance()
        self._follow_autoplay()
        now = self._clock()
        if self.apower > 0 and now - self._notified_at >= self.notify_every_s:
            self._publish_delta({"aenergy": self._energy()})
            self._notified_at = now

    def _advance(self) -> None:
        now = self._clock()
        if self._now is not None and now > self._now and self._powered.is_set():
            energy = self.apower * (now - self._now) / 3600
            self.total_wh += energy
            self.consumed_wh += energy
        self._now = now

    def _follow_autoplay(self) -> None:
        if self._autoplay is None:
            return
        idle, on, power, origin = self._autoplay
        cycle = idle + on
        loaded = cycle > 0 and (self._clock() - origin) % cycle >= idle
        target = power if loaded else 0.0
        if target != self.load_w:
            self._change_load(target)

    def _change_load(self, power_w: float) -> None:
        was = self.apower
        self.load_w = power_w
        self._notify(self._power_fields(), was)

    def _notify(self, delta: parse.JsonObject, was_w: float) -> None:
        if was_w > 0 and self.apower != was_w:
            delta = {**delta, "aenergy": self._energy()}  # close the loaded period exactly
        self._publish_delta(delta)

    def _power_fields(self) -> parse.JsonObject:
        power = self.apower
        return {"apower": round(power, 1), "current": round(power / self.voltage, 3)}

    def _energy(self) -> parse.JsonObject:
        minute = math.floor(time.time() / 60) * 60
        return {"total": round(self.total_wh, 3), "by_minute": [0.0, 0.0, 0.0], "minute_ts": minute}

    # ------------------------------------------------------------------ MQTT

    def _keep_connected(self) -> None:
        if self._client is not None:
            return
        now = time.monotonic()
        if now - self._attempted_at < RECONNECT_S:
            return
        self._attempted_at = now
        self._events = queue.Queue()
        client = new_client(self.device_id, self._events)
        client.will_set(f"{self.prefix}/online", "false", qos=1, retain=True)
        try:
            client.connect(self.host, self.port, keepalive=5)
        except OSError as exc:
            log.debug("simulated shelly cannot reach the broker: %s", exc)
            return
        client.loop_start()
        self._client = client

    def _drain(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, Connack) and event.refused is None:
                self._came_online()
            elif isinstance(event, Connack | Disconnected):
                self._drop_client()
                return
            elif isinstance(event, Message):
                self._answer(event.payload)

    def _came_online(self) -> None:
        client = self._client
        if client is None:
            return
        self.boots += 1
        client.subscribe(f"{self.prefix}/rpc", qos=1)
        client.publish(f"{self.prefix}/online", "true", qos=1, retain=True)
        self._connected = True

    def _say_offline(self) -> None:
        """What the broker publishes from the last will: `online` false, retained."""
        client = self._client
        if client is not None and self._connected:
            info = client.publish(f"{self.prefix}/online", "false", qos=1, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(PUBLISH_WAIT_S)
        self._drop_client()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._connected = False
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _publish_delta(self, delta: parse.JsonObject) -> None:
        if self._client is None or not self._connected:
            return
        params = {
            "ts": round(time.time(), 2),
            parse.component_key(self.switch_id): {"id": self.switch_id, **delta},
        }
        frame = {
            "src": self.device_id,
            "dst": f"{self.prefix}/events",
            "method": "NotifyStatus",
            "params": params,
        }
        self._client.publish(f"{self.prefix}/events/rpc", json.dumps(frame), qos=1)

    # ------------------------------------------------------------------ RPC

    def _answer(self, payload: bytes) -> None:
        try:
            request = json.loads(payload)
        except (ValueError, RecursionError):
            return  # the device ignores frames it cannot parse
        if not isinstance(request, dict) or not isinstance(request.get("src"), str):
            return  # without a src there is nowhere to reply
        self.requests += 1
        with self._lock:
            body = self._call(str(request.get("method")), request.get("params"))
        reply: dict[str, Any] = {"id": request.get("id"), "src": self.device_id}
        reply["dst"] = request["src"]
        reply.update(body)
        if self._client is not None:
            self._client.publish(f"{request['src']}/rpc", json.dumps(reply), qos=1)

    def _call(self, method: str, params: object) -> parse.JsonObject:
        args = params if isinstance(params, dict) else {}
        if method == "Shelly.GetStatus":
            return {"result": {parse.component_key(self.switch_id): self.status()}}
        if method not in ("Switch.GetStatus", "Switch.Set", "Switch.ResetCounters"):
            return _error(NO_HANDLER, f"No handler for {method}")
        if "id" not in args:
            return _error(INVALID_ARGUMENT, "Missing required 'id'")
        if args["id"] != self.switch_id:
            return _error(NOT_FOUND, f"Bad id={args['id']}")
        return {"result": self._switch_call(method, args)}

    def _switch_call(self, method: str, args: parse.JsonObject) -> parse.JsonObject:
        if method == "Switch.GetStatus":
            return self.status()
        if method == "Switch.Set":
            was_on = self.output
            self.set_output(bool(args.get("on")), source="MQTT")
            return {"was_on": was_on}
        self._advance()  # Switch.ResetCounters
        self.total_wh = 0.0
        self._publish_delta({"aenergy": self._energy()})
        return {}


def _error(code: int, message: str) -> parse.JsonObject:
    return {"error": {"code": code, "message": message}}


def serve(
    host: str,
    port: int,
    device_id: str = DEFAULT_DEVICE_ID,
    *,
    power_w: float = 1200.0,
    every_s: float | None = None,
    duration_s: float = 60.0,
) -> ShellySimulator:
    """A started simulated device on the broker at `host:port`; `.url` names it, `.stop()`.

    With `every_s`, the load alternates `every_s` idle and `duration_s` at `power_w` by
    itself; without, it draws `power_w` until told otherwise.
    """
    device = ShellySimulator(host, port, device_id).start()
    if every_s is None:
        device.set_load(power_w)
    else:
        device.autoplay(every_s, duration_s, power_w)
    return device
