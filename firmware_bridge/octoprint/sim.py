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
import time
from collections.abc import Callable
from email.message import Message

from firmware_bridge.errors import BridgeError
from firmware_bridge.httpsim import Reply, json_reply
from firmware_bridge.model import JobOutcome
from firmware_bridge.printsim import SimJob, SimulatedPrinter

TICK_S = 0.02
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


class OctoPrintSimulator(SimulatedPrinter):
    """A simulated OctoPrint instance (`serve` starts one printing by itself)."""

    printing = "Printing"
    extension = ".gcode"
    inject_path = "/api/job"

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
        super().__init__(
            host=host, port=port, clock=clock, tick_s=tick_s, targets_c=(NOZZLE_C, BED_C)
        )
        # OctoPrint generates a random key per application; so does the simulator.
        self.api_key = api_key if api_key is not None else secrets.token_hex(16).upper()
        self._transition_s = transition_s
        self._state = "Operational"
        self._error = ""
        self._until: float | None = None  # when the transient state settles
        self._selected: SimJob | None = None  # the file the job document shows

    @property
    def state(self) -> str:
        with self.lock:
            self._advance()
            return self._state

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

    # -- the printer's clock -----------------------------------------------------------

    def _printed(self, at: float) -> None:
        self._enter("Finishing", at)

    def _settle(self, now: float) -> None:
        if self._until is not None and now >= self._until:
            self._settle_transient()

    def _free(self) -> bool:
        return self._state == "Operational"

    def _enter(self, state: str, at: float) -> None:
        self._state, self._until = state, at + self._transition_s

    def _settle_transient(self) -> None:
        settled_at = self._until if self._until is not None else self._last
        following, outcome = SETTLES.get(self._state, (self._state, None))
        self._state, self._until = following, None
        if outcome is not None:
            self._end(outcome, settled_at)

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

    def _refusal(self, target: str, headers: Message, now: float) -> Reply | None:
        key = headers.get("X-Api-Key")
        if key is None or not hmac.compare_digest(key, self.api_key):
            return Reply(403, b"<h1>403 Forbidden</h1>")
        return None

    def _route(self, path: str) -> Reply:
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
