"""A simulated Klipper printer behind a real Moonraker-shaped server on one loopback port.

HTTP (`/server/info`, `/printer/objects/query`, `/server/history/list`) and the JSON-RPC
websocket (`/websocket`: `server.info`, `printer.objects.subscribe`/`query`,
`server.history.list`) share the port, as on Moonraker's 7125. Subscribed clients get
`notify_status_update` deltas of the fields that changed, the klippy and history
notifications, and lose their subscriptions when Klippy restarts, as with the real server.

The simulator keeps the truth a test compares the bridge against: `jobs`, one `SimJob` per
print with its start and end on the simulator's clock, outcome and printing seconds
(pauses excluded).
"""

from __future__ import annotations

import contextlib
import http
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection
from websockets.sync.server import serve as ws_serve

from firmware_bridge.errors import BridgeError
from firmware_bridge.model import JobOutcome

TICK_S = 0.05
RESTART_STEP_S = 0.3  # disconnected → startup → ready, each this long
AMBIENT_C = 22.0
NOZZLE_C = 215.0
BED_C = 60.0
FILE_SIZE = 538254
SHUTDOWN_MESSAGE = "Shutdown due to webhooks request"
KLIPPER_VERSION = "v0.12.0-sim"
HISTORY_STATUS = {
    JobOutcome.COMPLETED: "completed",
    JobOutcome.CANCELLED: "cancelled",
    JobOutcome.ERROR: "klippy_shutdown",
    JobOutcome.INTERRUPTED: "klippy_disconnect",
}
PRINT_STATE = {
    JobOutcome.COMPLETED: "complete",
    JobOutcome.CANCELLED: "cancelled",
    JobOutcome.ERROR: "error",
    JobOutcome.INTERRUPTED: "standby",
}
_MISSING = object()

Objects = dict[str, dict[str, object]]
Subscription = dict[str, list[str] | None]


@dataclass
class SimJob:
    """One print as the simulated printer ran it (times on the simulator's clock)."""

    job_id: str
    name: str
    start: float
    duration_s: float
    end: float | None = None
    outcome: JobOutcome | None = None
    printing_s: float = 0.0
    total_s: float = 0.0


class _Client:
    """One websocket connection and the objects it subscribed to."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.lock = threading.Lock()
        self.subscription: Subscription | None = None
        self.sent: Objects = {}

    def send(self, payload: str | bytes) -> None:
        with self.lock, contextlib.suppress(ConnectionClosed, OSError):
            self.ws.send(payload)

    def notify(self, method: str, params: list[object] | None = None) -> None:
        doc: dict[str, object] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            doc["params"] = params
        self.send(json.dumps(doc))


class MoonrakerSimulator:
    """Start with `start()` (or `serve`), drive with the methods below, `stop()` to drop it.

    `stop()` then `start()` again serves the same port, as a restarted Moonraker would.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
        restart_step_s: float = RESTART_STEP_S,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.jobs: list[SimJob] = []
        self.lock = threading.RLock()  # held while the printer changes: tests may hold it too
        self._clock = clock
        self._tick_s = tick_s
        self._restart_step_s = restart_step_s
        self._clients: set[_Client] = set()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._job: SimJob | None = None  # the print running or paused
        self._shown: SimJob | None = None  # the print print_stats describes (kept after it)
        self._state = "standby"
        self._filename = ""
        self._message = ""
        self._klippy = "ready"
        self._klippy_message = "Printer is ready"
        self._restart_at: float | None = None
        self._macro_until: float | None = None
        self._autoplay: tuple[float, float] | None = None
        self._next_autoplay = 0.0
        self._history: list[dict[str, object]] = []
        self._nozzle = AMBIENT_C
        self._bed = AMBIENT_C
        self._eventtime = 0.0
        self._last = clock()
        self._wall_offset = time.time() - self._last  # history times are Unix times

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- serving -----------------------------------------------------------------------

    def start(self) -> MoonrakerSimulator:
        server = ws_serve(
            self._connection,
            self.host,
            self.port,
            process_request=self._http,
            close_timeout=1,
            max_size=1 << 20,
        )
        self.port = server.socket.getsockname()[1]
        self._server = server
        self._stop.clear()
        self._threads = [
            threading.Thread(target=server.serve_forever, name="moonraker-sim", daemon=True),
            threading.Thread(target=self._tick_loop, name="moonraker-sim-tick", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every connection; the printer's state is kept."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        for thread in self._threads:
            thread.join(5)
        with self.lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            with contextlib.suppress(ConnectionClosed, OSError):
                client.ws.close(1001, "server shutdown")

    def __enter__(self) -> MoonrakerSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- driving the printer -----------------------------------------------------------

    def start_print(self, name: str, duration_s: float) -> SimJob:
        with self.lock:
            now = self._advance()
            if self._job is not None or self._klippy != "ready":
                raise BridgeError(f"cannot start {name!r}: printer busy or klippy {self._klippy}")
            job_id = f"{len(self._history) + 1:06d}"
            job = SimJob(job_id, name, now, duration_s)
            self.jobs.append(job)
            self._reset_printer()
            self._job = self._shown = job
            self._state, self._filename = "printing", name
            entry = self._history_entry(job, "in_progress")
            self._history.append(entry)
            # Moonraker records the job as it starts; clients hear of it with the first frame.
            self._broadcast("notify_history_changed", [{"action": "added", "job": entry}])
            self._flush()
            return job

    def pause(self) -> None:
        self._change_state("printing", "paused")

    def resume(self) -> None:
        self._change_state("paused", "printing")

    def cancel(self) -> None:
        with self.lock:
            self._advance()
            self._end(JobOutcome.CANCELLED)
            self._flush()

    def emergency_stop(self) -> None:
        """Klippy shutdown (M112, `printer.emergency_stop`): stays so until a firmware restart."""
        with self.lock:
            self._advance()
            self._klippy, self._klippy_message = "shutdown", SHUTDOWN_MESSAGE
            self._broadcast("notify_klippy_shutdown")
            self._message = SHUTDOWN_MESSAGE
            self._end(JobOutcome.ERROR)
            self._flush()

    def firmware_restart(self) -> None:
        """Klippy goes away (subscriptions dropped), starts up, and is ready again."""
        with self.lock:
            now = self._advance()
            self._end(JobOutcome.INTERRUPTED)
            self._flush()
            self._klippy, self._klippy_message = "disconnected", "Klippy Disconnected"
            self._broadcast("notify_klippy_disconnected")
            for client in self._clients:
                client.subscription, client.sent = None, {}
            self._restart_at = now

    def run_macro(self, duration_s: float) -> None:
        """A macro, homing or calibration: the toolhead is busy, print_stats stays standby."""
        with self.lock:
            now = self._advance()
            self._macro_until = now + duration_s
            self._flush()

    def autoplay(self, every_s: float, duration_s: float) -> None:
        """Start a `duration_s` print every `every_s` seconds whenever the printer is free."""
        with self.lock:
            now = self._advance()
            self._autoplay, self._next_autoplay = (every_s, duration_s), now
            self._autoplay_step(now)

    def inject(self, frame: str | bytes) -> None:
        """Send a raw frame (valid or not) to every connected client."""
        with self.lock:
            for client in self._clients:
                client.send(frame)

    def connected_clients(self) -> int:
        with self.lock:
            return len(self._clients)

    def subscribed_clients(self) -> int:
        with self.lock:
            return sum(client.subscription is not None for client in self._clients)

    def history_statuses(self) -> list[str]:
        """The status of each history entry, oldest first."""
        with self.lock:
            return [str(entry["status"]) for entry in self._history]

    def busy_seconds(self) -> float:
        with self.lock:
            self._advance()
            return sum(job.printing_s for job in self.jobs)

    # -- the printer's clock -----------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            with self.lock:
                self._advance()
                self._flush()

    def _advance(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._eventtime += elapsed
        self._run_job(now, elapsed)
        self._heat(elapsed)
        if self._macro_until is not None and now >= self._macro_until:
            self._macro_until = None
        self._restart_steps(now)
        self._autoplay_step(now)
        return now

    def _run_job(self, now: float, elapsed: float) -> None:
        job = self._job
        if job is None:
            return
        remaining = job.duration_s - job.printing_s
        if self._state != "printing" or elapsed < remaining:
            job.total_s += elapsed
            job.printing_s += elapsed if self._state == "printing" else 0.0
            return
        job.total_s += remaining
        job.printing_s = job.duration_s
        # The print finished between two ticks: the truth is the exact instant.
        self._end(JobOutcome.COMPLETED, at=now - (elapsed - remaining))

    def _heat(self, elapsed: float) -> None:
        hot = self._job is not None and self._klippy == "ready"
        share = min(1.0, elapsed / 2.0)
        self._nozzle += ((NOZZLE_C if hot else AMBIENT_C) - self._nozzle) * share
        self._bed += ((BED_C if hot else AMBIENT_C) - self._bed) * share

    def _restart_steps(self, now: float) -> None:
        if self._restart_at is None:
            return
        if self._klippy == "disconnected" and now >= self._restart_at + self._restart_step_s:
            self._klippy, self._klippy_message = "startup", "Printer is not ready"
        if self._klippy == "startup" and now >= self._restart_at + 2 * self._restart_step_s:
            self._klippy, self._klippy_message = "ready", "Printer is ready"
            self._restart_at = None
            self._reset_printer()
            self._broadcast("notify_klippy_ready")

    def _autoplay_step(self, now: float) -> None:
        if self._autoplay is None or now < self._next_autoplay:
            return
        if self._job is not None or self._klippy != "ready" or self._macro_until is not None:
            return
        every_s, duration_s = self._autoplay
        self._next_autoplay = now + every_s
        self.start_print(f"autoplay_{len(self.jobs) + 1:03d}.gcode", duration_s)

    def _change_state(self, before: str, after: str) -> None:
        with self.lock:
            self._advance()
            if self._state == before and self._job is not None:
                self._state = after
            self._flush()

    def _reset_printer(self) -> None:
        self._job = self._shown = None
        self._state = "standby"
        self._filename = ""
        self._message = ""

    def _end(self, outcome: JobOutcome, at: float | None = None) -> None:
        job = self._job
        if job is None:
            return
        job.end = self._last if at is None else at
        job.outcome = outcome
        self._state = PRINT_STATE[outcome]
        self._job = None
        entry = self._history_entry(job, HISTORY_STATUS[outcome])
        self._history[int(job.job_id) - 1] = entry
        self._flush()  # the state change first, then the history, as clients see them
        self._broadcast("notify_history_changed", [{"action": "finished", "job": entry}])

    # -- what Klipper reports ----------------------------------------------------------

    def _objects(self) -> Objects:
        job = self._shown
        printing_s = job.printing_s if job is not None else 0.0
        total_s = job.total_s if job is not None else 0.0
        progress = min(1.0, printing_s / job.duration_s) if job and job.duration_s > 0 else 0.0
        toolhead_busy = self._state == "printing" or self._macro_until is not None
        return {
            "webhooks": {"state": self._klippy, "state_message": self._klippy_message},
            "print_stats": {
                "filename": self._filename,
                "total_duration": round(total_s, 3),
                "print_duration": round(printing_s, 3),
                "filament_used": round(printing_s * 1.7, 2),
                "state": self._state,
                "message": self._message,
                "info": {"total_layer": None, "current_layer": None},
            },
            "idle_timeout": {
                "state": "Printing" if toolhead_busy else "Ready",
                "printing_time": round(printing_s, 3) if toolhead_busy else 0.0,
            },
            "virtual_sdcard": {
                "file_path": f"/home/pi/printer_data/gcodes/{self._filename}"
                if self._filename
                else None,
                "progress": round(progress, 4),
                "is_active": self._state == "printing",
                "file_position": int(progress * FILE_SIZE),
                "file_size": FILE_SIZE if self._filename else 0,
            },
            "extruder": self._heater(self._nozzle, NOZZLE_C),
            "heater_bed": self._heater(self._bed, BED_C),
        }

    def _heater(self, temperature: float, hot: float) -> dict[str, object]:
        target = hot if self._job is not None and self._klippy == "ready" else 0.0
        return {"temperature": round(temperature, 1), "target": target, "power": 0.0}

    def _history_entry(self, job: SimJob, status: str) -> dict[str, object]:
        return {
            "job_id": job.job_id,
            "user": "_TRUSTED_USER_",
            "filename": job.name,
            "exists": True,
            "status": status,
            "start_time": job.start + self._wall_offset,
            "end_time": None if job.end is None else job.end + self._wall_offset,
            "print_duration": round(job.printing_s, 3),
            "total_duration": round(job.total_s, 3),
            "filament_used": round(job.printing_s * 1.7, 2),
            "metadata": {"size": FILE_SIZE, "slicer": "PrusaSlicer", "estimated_time": 0},
            "auxiliary_data": [],
        }

    def _klippy_available(self) -> bool:
        return self._klippy in ("ready", "shutdown", "error")

    # -- pushing to clients ------------------------------------------------------------

    def _broadcast(self, method: str, params: list[object] | None = None) -> None:
        for client in self._clients:
            client.notify(method, params)

    def _flush(self) -> None:
        """Send each subscribed client the fields that changed since it last heard."""
        if not self._klippy_available():
            return
        objects = self._objects()
        for client in self._clients:
            changes = _delta(client, objects)
            if changes:
                client.notify("notify_status_update", [changes, round(self._eventtime, 3)])

    # -- answering requests ------------------------------------------------------------

    def _connection(self, ws: ServerConnection) -> None:
        client = _Client(ws)
        with self.lock:
            self._clients.add(client)
        try:
            for message in ws:
                self._rpc(client, message)
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self._clients.discard(client)

    def _rpc(self, client: _Client, message: str | bytes) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            client.send(json.dumps(_error(None, -32700, "Parse error")))
            return
        params = request.get("params")
        with self.lock:
            self._advance()
            answer = self._answer(
                client, request["method"], params if isinstance(params, dict) else {}
            )
            reply = (
                {"jsonrpc": "2.0", "result": answer, "id": request.get("id")}
                if not isinstance(answer, _Failure)
                else _error(request.get("id"), answer.code, answer.message)
            )
            client.send(json.dumps(reply))

    def _answer(
        self, client: _Client | None, method: str, params: dict[str, object]
    ) -> object | _Failure:
        if method == "server.info":
            return self._server_info()
        if method == "printer.info":
            return self._printer_info()
        if method == "server.history.list":
            return self._history_list(params)
        if method in ("printer.objects.subscribe", "printer.objects.query"):
            return self._objects_answer(client, method, params)
        return _Failure(-32601, "Method not found")

    def _objects_answer(
        self, client: _Client | None, method: str, params: dict[str, object]
    ) -> object | _Failure:
        if not self._klippy_available():
            return _Failure(503, "Klippy Disconnected")
        wanted = _requested(params.get("objects"))
        status = _select(self._objects(), wanted)
        if method == "printer.objects.subscribe" and client is not None:
            client.subscription = wanted
            client.sent = {name: dict(fields) for name, fields in status.items()}
        return {"eventtime": round(self._eventtime, 3), "status": status}

    def _server_info(self) -> dict[str, object]:
        return {
            "klippy_connected": self._klippy != "disconnected",
            "klippy_state": self._klippy,
            "components": ["klippy_connection", "history", "file_manager", "machine"],
            "failed_components": [],
            "registered_directories": ["config", "gcodes", "logs"],
            "warnings": [],
            "websocket_count": len(self._clients),
            "moonraker_version": "v0.9.3-sim",
            "api_version": [1, 5, 0],
            "api_version_string": "1.5.0",
        }

    def _printer_info(self) -> dict[str, object] | _Failure:
        if not self._klippy_available():
            return _Failure(503, "Klippy Disconnected")
        return {
            "state": self._klippy,
            "state_message": self._klippy_message,
            "hostname": "klipper-sim",
            "software_version": KLIPPER_VERSION,
            "cpu_info": "simulated",
            "klipper_path": "/home/pi/klipper",
            "python_path": "/home/pi/klippy-env/bin/python",
            "log_file": "/home/pi/printer_data/logs/klippy.log",
            "config_file": "/home/pi/printer_data/config/printer.cfg",
        }

    def _history_list(self, params: dict[str, object]) -> dict[str, object]:
        limit = params.get("limit", 50)
        start = params.get("start", 0)
        limit = limit if isinstance(limit, int) and limit >= 0 else 50
        start = start if isinstance(start, int) and start >= 0 else 0
        jobs = list(self._history) if params.get("order") == "asc" else self._history[::-1]
        return {"count": len(self._history), "jobs": jobs[start : start + limit]}

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.api_key is not None and request.headers.get("X-Api-Key") != self.api_key:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        parts = urlsplit(request.path)
        if parts.path == "/websocket":
            return None  # go on with the websocket handshake
        params: dict[str, object] = {}
        if parts.path == "/server/info":
            method = "server.info"
        elif parts.path == "/printer/info":
            method = "printer.info"
        elif parts.path == "/server/history/list":
            method = "server.history.list"
            params = {key: _int_or_text(value) for key, value in parse_qsl(parts.query)}
        elif parts.path == "/printer/objects/query":
            method = "printer.objects.query"
            params = {"objects": _query_objects(parts.query)}
        else:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        with self.lock:
            self._advance()
            answer = self._answer(None, method, params)
        if isinstance(answer, _Failure):
            return connection.respond(answer.code, json.dumps({"error": answer.message}))
        response = connection.respond(http.HTTPStatus.OK, json.dumps({"result": answer}))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response


@dataclass(frozen=True)
class _Failure:
    code: int
    message: str


def _error(request_id: object, code: int, message: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": request_id}


def _requested(objects: object) -> Subscription:
    if not isinstance(objects, dict):
        return {}
    wanted: Subscription = {}
    for name, fields in objects.items():
        if isinstance(fields, list):
            wanted[name] = [field for field in fields if isinstance(field, str)]
        else:
            wanted[name] = None
    return wanted


def _select(objects: Objects, wanted: Subscription) -> Objects:
    selected: Objects = {}
    for name, fields in wanted.items():
        if name in objects:
            current = objects[name]
            selected[name] = (
                dict(current) if fields is None else {k: current[k] for k in fields if k in current}
            )
    return selected


def _delta(client: _Client, objects: Objects) -> Objects:
    if client.subscription is None:
        return {}
    changes: Objects = {}
    for name, fields in _select(objects, client.subscription).items():
        sent = client.sent.setdefault(name, {})
        delta = {key: value for key, value in fields.items() if sent.get(key, _MISSING) != value}
        if delta:
            changes[name] = delta
            sent.update(delta)
    return changes


def _query_objects(query: str) -> dict[str, list[str] | None]:
    """`print_stats&extruder=target,temperature` → the JSON-RPC `objects` parameter."""
    objects: dict[str, list[str] | None] = {}
    for item in query.split("&"):
        name, _, fields = item.partition("=")
        if name:
            objects[name] = [field for field in fields.split(",") if field] if fields else None
    return objects


def _int_or_text(value: str) -> object:
    return int(value) if value.isdigit() else value


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    autoplay_every_s: float | None = 30.0,
    job_s: float = 20.0,
) -> MoonrakerSimulator:
    """A started simulator (`.url`, `.stop()`), printing a job every `autoplay_every_s`."""
    simulator = MoonrakerSimulator(host=host, port=port, api_key=api_key).start()
    if autoplay_every_s is not None:
        simulator.autoplay(autoplay_every_s, job_s)
    return simulator
