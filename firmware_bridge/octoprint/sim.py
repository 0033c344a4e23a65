"""A simulated printer behind a real OctoPrint-shaped REST server on loopback.

`/api/job`, `/api/printer` and `/api/version` answer as docs.octoprint.org describes them,
each request checked for the `X-Api-Key` header (403 otherwise, as current OctoPrint does).
`/api/printer` answers 409 whenever the printer is not operational: disconnected, or after an
error, when only `/api/job`'s state text ("Error") and its `error` field tell what happened.

The simulator keeps the truth a test compares the bridge against: `jobs`, one `SimJob` per
print with its start (the start command) and end (back at Operational, or the error) on the
simulator's clock, outcome and printing seconds (Printing only: Starting, Pausing, Paused,
Resuming, Cancelling and Finishing excluded). Those transient states each last
`transition_s`, as they do while OctoPrint waits for the printer to empty its queue.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from firmware_bridge.errors import BridgeError
from firmware_bridge.httpsim import LoopbackHttp, Reply, json_reply
from firmware_bridge.model import JobOutcome

TICK_S = 0.02
AMBIENT_C = 22.0
NOZZLE_C = 220.0
BED_C = 60.0
FILE_DATE = 1700000000
SERVER_VERSION = "1.10.2"
# Where each transient state settles, and the outcome it ends the job with (if it does).
SETTLES: dict[str, tuple[str, JobOutcome | None]] = {
    "Starting": ("Printing", None),
    "Pausing": ("Paused", None),
    "Resuming": ("Printing", None),
    "Finishing": ("Operational", JobOutcome.COMPLETED),
    "Cancelling": ("Operational", JobOutcome.CANCELLED),
}
CANCELLABLE = frozenset({"Starting", "Printing", "Pausing", "Paused", "Resuming"})
OPERATIONAL = frozenset({"Operational", *SETTLES, "Printing", "Paused"})


@dataclass
class SimJob:
    """One print as the simulated printer ran it (times on the simulator's clock)."""

    name: str
    start: float
    duration_s: float
    end: float | None = None
    outcome: JobOutcome | None = None
    printing_s: float = 0.0


class OctoPrintSimulator:
    """Start with `start()` (or `serve`), drive with the methods below, `stop()` to drop it.

    `stop()` then `start()` again serves the same port, as a restarted OctoPrint would.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
        transition_s: float = 0.1,
    ) -> None:
        self.host = host
        self.port = port
        # OctoPrint generates a random key per application; so does the simulator.
        self.api_key = api_key if api_key is not None else secrets.token_hex(16).upper()
        self.jobs: list[SimJob] = []
        self.requests: list[tuple[str, int]] = []  # (path, HTTP status) of each answer
        self.lock = threading.RLock()  # held while the printer changes: tests may hold it too
        self._clock = clock
        self._transition_s = transition_s
        self._state = "Operational"
        self._error = ""
        self._until: float | None = None  # when the transient state settles
        self._job: SimJob | None = None  # the print on the bed
        self._selected: SimJob | None = None  # the file the job document shows
        self._autoplay: tuple[float, float] | None = None
        self._next_autoplay = 0.0
        self._injected: list[tuple[str, Reply]] = []
        self._nozzle = AMBIENT_C
        self._bed = AMBIENT_C
        self._last = clock()
        self._http = LoopbackHttp(
            host,
            port,
            lambda path, headers: self.answer(path, headers.get("X-Api-Key")),
            self._tick,
            tick_s,
        )

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def state(self) -> str:
        with self.lock:
            self._advance()
            return self._state

    # -- serving -----------------------------------------------------------------------

    def start(self) -> OctoPrintSimulator:
        self._http.start()
        self.port = self._http.port
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection; the printer's state is kept."""
        self._http.stop()

    def __enter__(self) -> OctoPrintSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- driving the printer -----------------------------------------------------------

    def start_print(self, name: str, duration_s: float) -> SimJob:
        with self.lock:
            now = self._advance()
            if self._state != "Operational":
                raise BridgeError(f"cannot start {name!r}: printer is {self._state}")
            job = SimJob(name, now, duration_s)
            self.jobs.append(job)
            self._job = self._selected = job
            self._enter("Starting", now)
            return job

    def pause(self) -> None:
        with self.lock:
            now = self._advance()
            if self._state == "Printing":
                self._enter("Pausing", now)

    def resume(self) -> None:
        with self.lock:
            now = self._advance()
            if self._state == "Paused":
                self._enter("Resuming", now)

    def cancel(self) -> None:
        with self.lock:
            now = self._advance()
            if self._state in CANCELLABLE:
                self._enter("Cancelling", now)

    def error(self, message: str = "Thermal Runaway") -> None:
        """A fatal firmware error: the print ends ERROR, the printer stays so until
        `reconnect()`."""
        with self.lock:
            now = self._advance()
            self._end(JobOutcome.ERROR, now)
            self._state, self._error, self._until = "Error", message, None

    def disconnect_printer(self) -> None:
        """Someone pressed Disconnect: a print on the bed is abandoned."""
        with self.lock:
            now = self._advance()
            self._end(JobOutcome.INTERRUPTED, now)
            self._state, self._until = "Offline", None

    def reconnect(self) -> None:
        with self.lock:
            self._advance()
            if self._state not in OPERATIONAL:
                self._state, self._error = "Operational", ""

    def autoplay(self, every_s: float, duration_s: float) -> None:
        """Start a `duration_s` print every `every_s` seconds whenever the printer is free."""
        with self.lock:
            now = self._advance()
            self._autoplay, self._next_autoplay = (every_s, duration_s), now
            self._autoplay_step(now)

    def inject(
        self, body: bytes, *, path: str = "/api/job", status: int = 200, count: int = 1
    ) -> None:
        """Answer the next `count` authorised requests for `path` with this body."""
        with self.lock:
            self._injected += [(path, Reply(status, body))] * count

    def busy_seconds(self) -> float:
        with self.lock:
            self._advance()
            return sum(job.printing_s for job in self.jobs)

    # -- the printer's clock -----------------------------------------------------------

    def _request(self, path: str, headers: Message) -> Reply:
        return self.answer(path, headers.get("X-Api-Key"))

    def _tick(self) -> None:
        with self.lock:
            self._advance()

    def _advance(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        job = self._job
        if job is not None and self._state == "Printing":
            remaining = job.duration_s - job.printing_s
            if elapsed < remaining:
                job.printing_s += elapsed
            else:
                job.printing_s = job.duration_s
                # The last line went out between two ticks: the truth is the exact instant.
                self._enter("Finishing", now - (elapsed - remaining))
        if self._until is not None and now >= self._until:
            self._settle()
        share = min(1.0, elapsed / 2.0)
        hot = self._job is not None
        self._nozzle += ((NOZZLE_C if hot else AMBIENT_C) - self._nozzle) * share
        self._bed += ((BED_C if hot else AMBIENT_C) - self._bed) * share
        self._autoplay_step(now)
        return now

    def _enter(self, state: str, at: float) -> None:
        self._state, self._until = state, at + self._transition_s

    def _settle(self) -> None:
        settled_at = self._until if self._until is not None else self._last
        following, outcome = SETTLES.get(self._state, (self._state, None))
        self._state, self._until = following, None
        if outcome is not None:
            self._end(outcome, settled_at)

    def _autoplay_step(self, now: float) -> None:
        if self._autoplay is None or now < self._next_autoplay:
            return
        if self._state != "Operational":
            return
        every_s, duration_s = self._autoplay
        self._next_autoplay = now + every_s
        self.start_print(f"autoplay_{len(self.jobs) + 1:03d}.gcode", duration_s)

    def _end(self, outcome: JobOutcome, at: float) -> None:
        job = self._job
        if job is None:
            return
        job.end, job.outcome = at, outcome
        self._job = None
        if self._state not in ("Error", "Offline"):
            self._state = "Operational"

    # -- documents ---------------------------------------------------------------------

    def _job_document(self) -> dict[str, object]:
        job = self._selected
        doc: dict[str, object] = {
            "job": {
                "file": {
                    "name": job.name if job else None,
                    "path": job.name if job else None,
                    "display": job.name if job else None,
                    "origin": "local" if job else None,
                    "size": 1234567 if job else None,
                    "date": FILE_DATE + len(self.jobs) if job else None,
                },
                "estimatedPrintTime": job.duration_s if job else None,
                "lastPrintTime": None,
                "filament": {"tool0": {"length": 810.0, "volume": 5.36}} if job else None,
                "user": "maker" if job else None,
            },
            "progress": _progress(job),
            "state": self._state,
        }
        if self._error:
            doc["error"] = self._error
        return doc

    def _printer_document(self) -> dict[str, object] | None:
        if self._state not in OPERATIONAL:
            return None  # answered 409
        hot = self._job is not None
        state = self._state
        return {
            "temperature": {
                "tool0": {
                    "actual": round(self._nozzle, 2),
                    "target": NOZZLE_C if hot else 0.0,
                    "offset": 0,
                },
                "bed": {
                    "actual": round(self._bed, 2),
                    "target": BED_C if hot else 0.0,
                    "offset": 0,
                },
            },
            "state": {
                "text": state,
                "flags": {
                    "operational": True,
                    "printing": state in ("Printing", "Starting", "Finishing"),
                    "paused": state == "Paused",
                    "pausing": state == "Pausing",
                    "cancelling": state == "Cancelling",
                    "finishing": state == "Finishing",
                    "resuming": state == "Resuming",
                    "sdReady": True,
                    "error": False,
                    "ready": state == "Operational",
                    "closedOrError": False,
                },
            },
        }

    # -- answering requests ------------------------------------------------------------

    def answer(self, target: str, key: str | None) -> Reply:
        path = urlsplit(target).path
        with self.lock:
            self._advance()
            if key is None or not hmac.compare_digest(key, self.api_key):
                reply = Reply(403, b"<h1>403 Forbidden</h1>")
            else:
                reply = self._route(path)
            self.requests.append((path, reply.status))
            return reply

    def _route(self, path: str) -> Reply:
        for index, (injected_path, reply) in enumerate(self._injected):
            if injected_path == path:
                del self._injected[index]
                return reply
        if path == "/api/job":
            return json_reply(self._job_document())
        if path == "/api/version":
            return json_reply(
                {"api": "0.1", "server": SERVER_VERSION, "text": f"OctoPrint {SERVER_VERSION}"}
            )
        if path == "/api/printer":
            printer = self._printer_document()
            return (
                Reply(409, b"Printer is not operational")
                if printer is None
                else json_reply(printer)
            )
        return Reply(404, b'{"error": "Not Found"}')


def _progress(job: SimJob | None) -> dict[str, object]:
    if job is None:
        return {"completion": None, "filepos": None, "printTime": None, "printTimeLeft": None}
    fraction = job.printing_s / job.duration_s if job.duration_s > 0 else 1.0
    return {
        "completion": round(100.0 * fraction, 4),
        "filepos": int(1234567 * fraction),
        "printTime": round(job.printing_s),
        "printTimeLeft": round(job.duration_s - job.printing_s),
        "printTimeLeftOrigin": "estimate",
    }


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    every_s: float | None = 30.0,
    duration_s: float = 20.0,
) -> OctoPrintSimulator:
    """A started simulator (`.url`, `.api_key`, `.stop()`), printing a `duration_s` job
    every `every_s` (never if None)."""
    simulator = OctoPrintSimulator(host=host, port=port, api_key=api_key).start()
    if every_s is not None:
        simulator.autoplay(every_s, duration_s)
    return simulator
