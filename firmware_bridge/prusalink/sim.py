"""A simulated Prusa printer behind a real PrusaLink-shaped HTTP server on loopback.

`/api/v1/status`, `/api/v1/job` (204 without a job), `/api/v1/info` and `/api/version`,
each behind HTTP Digest authentication as the printers do it: a 401 challenge (MD5, qop=auth,
a nonce that expires), the response checked, the nonce count required to grow. Connections are kept
alive (HTTP/1.1), so a client can reuse its authenticated state.

The simulator keeps the truth a test compares the bridge against: `jobs`, one `SimJob` per
print with its start and end on the simulator's clock, outcome and printing seconds
(pauses and attention excluded). After a print ends the printer shows FINISHED, STOPPED or
ERROR (with the job) for `hold_s`, as the printer's screen waits to be acknowledged.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from email.message import Message
from typing import Self

from firmware_bridge.errors import BridgeError
from firmware_bridge.httpsim import Reply, json_reply
from firmware_bridge.model import JobOutcome
from firmware_bridge.printsim import SimJob, SimulatedPrinter
from firmware_bridge.prusalink.parse import (
    Credentials,
    challenge_header,
    digest_response,
    parse_authorization,
)

TICK_S = 0.05
REALM = "Printer API"
NOZZLE_C = 215.0
BED_C = 60.0
FIRST_JOB_ID = 100
FIRMWARE = "6.1.3+7898"
ENDED_STATE = {
    JobOutcome.COMPLETED: "FINISHED",
    JobOutcome.CANCELLED: "STOPPED",
    JobOutcome.ERROR: "ERROR",
}


class PrusaLinkSimulator(SimulatedPrinter):
    """A simulated Prusa printer (`serve` starts one printing by itself)."""

    printing = "PRINTING"
    extension = ".bgcode"
    inject_path = "/api/v1/status"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "maker",
        password: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
        hold_s: float = 2.0,
        nonce_ttl_s: float = 300.0,
    ) -> None:
        super().__init__(
            host=host, port=port, clock=clock, tick_s=tick_s, targets_c=(NOZZLE_C, BED_C)
        )
        self.user = user
        # Printers show a random password on their screen; so does the simulator (`.password`).
        self.password = password if password is not None else secrets.token_urlsafe(9)
        self._hold_s = hold_s
        self._nonce_ttl_s = nonce_ttl_s
        self._nonces: dict[str, float] = {}  # nonce → when issued
        self._counts: dict[str, int] = {}  # nonce → highest nonce count used
        self._opaque = secrets.token_hex(8)
        self._state = "IDLE"
        self._message = "OK"
        self._shown: SimJob | None = None  # the print the status shows (kept while held)
        self._hold_until: float | None = None

    # -- serving -----------------------------------------------------------------------

    def start(self) -> Self:
        with self.lock:
            # A rebooted printer has forgotten its nonces: clients meet a fresh challenge.
            self._nonces.clear()
            self._counts.clear()
        return super().start()

    # -- driving the printer -----------------------------------------------------------

    def start_print(self, name: str, duration_s: float) -> SimJob:
        with self.lock:
            now = self._advance()
            if self._job is not None or self._state in ("ERROR", "ATTENTION", "BUSY"):
                raise BridgeError(f"cannot start {name!r}: printer is {self._state}")
            job = SimJob(name, now, duration_s, job_id=FIRST_JOB_ID + len(self.jobs))
            self.jobs.append(job)
            self._job = self._shown = job
            self._state, self._hold_until = "PRINTING", None
            return job

    def pause(self) -> None:
        with self.lock:
            self._advance()
            if self._job is not None and self._state == "PRINTING":
                self._state = "PAUSED"

    def resume(self) -> None:
        """Back to printing after a pause or an attention dialog."""
        with self.lock:
            self._advance()
            if self._job is not None and self._state in ("PAUSED", "ATTENTION"):
                self._state = "PRINTING"
            elif self._state == "ATTENTION":
                self._state = "IDLE"

    def stop_print(self) -> None:
        """Stop the print from the screen (the API's `DELETE /api/v1/job/{id}`)."""
        with self.lock:
            self._advance()
            self._end(JobOutcome.CANCELLED)

    def attention(self) -> None:
        """A dialog waits for someone (filament runout, crash): the print halts meanwhile."""
        with self.lock:
            self._advance()
            self._state = "ATTENTION"

    def error(self, message: str = "Thermal runaway") -> None:
        """A fatal error: the print ends ERROR, the printer stays so until `recover()`."""
        with self.lock:
            self._advance()
            self._message = message
            self._end(JobOutcome.ERROR)
            self._state = "ERROR"

    def recover(self) -> None:
        with self.lock:
            self._advance()
            if self._state == "ERROR":
                self._state, self._message, self._shown = "IDLE", "OK", None

    # -- the printer's clock -----------------------------------------------------------

    def _printed(self, at: float) -> None:
        self._end(JobOutcome.COMPLETED, at=at)

    def _settle(self, now: float) -> None:
        if self._hold_until is not None and now >= self._hold_until:
            self._hold_until, self._shown = None, None
            if self._state in ("FINISHED", "STOPPED"):
                self._state = "IDLE"

    def _free(self) -> bool:
        return self._job is None and self._state in ("IDLE", "FINISHED", "STOPPED")

    def _end(self, outcome: JobOutcome, at: float | None = None) -> None:
        job = self._job
        if job is None:
            return
        job.end = self._last if at is None else at
        job.outcome = outcome
        self._job = None
        self._state = ENDED_STATE[outcome]
        self._hold_until = job.end + self._hold_s

    # -- documents ---------------------------------------------------------------------

    def _status(self) -> dict[str, object]:
        hot = self._job is not None
        doc: dict[str, object] = {
            "storage": {"path": "/usb/", "name": "usb", "read_only": False},
            "printer": {
                "state": self._state,
                "temp_nozzle": round(self._nozzle, 1),
                "target_nozzle": NOZZLE_C if hot else 0.0,
                "temp_bed": round(self._bed, 1),
                "target_bed": BED_C if hot else 0.0,
                "axis_z": 1.8,
                "flow": 100,
                "speed": 100,
                "fan_hotend": 5000 if hot else 0,
                "fan_print": 2500 if hot else 0,
                "status_printer": {"ok": self._state != "ERROR", "message": self._message},
                "status_connect": {"ok": True, "message": "OK"},
            },
        }
        job = self._shown
        if job is not None:
            doc["job"] = {
                "id": job.job_id,
                "progress": round(100 * job.printing_s / job.duration_s, 2)
                if job.duration_s > 0
                else 100.0,
                "time_remaining": round(job.duration_s - job.printing_s),
                "time_printing": round(job.printing_s),
            }
        return doc

    def _job_document(self) -> dict[str, object] | None:
        job = self._shown
        if job is None:
            return None
        status = _as_dict(self._status().get("job"))
        state = (
            self._state
            if self._state in ("PAUSED", "FINISHED", "STOPPED", "ERROR")
            else ("PRINTING")
        )
        return {
            **status,
            "state": state,
            "inaccurate_estimates": False,
            "file": {
                "name": job.name[:8].upper() + "~1.BGC",
                "display_name": job.name,
                "path": "/usb",
                "size": 754535,
                "m_timestamp": 1698686881,
                "refs": {"download": f"/usb/{job.name}"},
            },
        }

    @staticmethod
    def _version() -> dict[str, object]:
        return {
            "api": "2.0.0",
            "server": "2.1.2",
            "nozzle_diameter": 0.4,
            "text": "PrusaLink",
            "hostname": "prusa-sim",
            "firmware": FIRMWARE,
            "capabilities": {"upload-by-put": True},
        }

    def _info(self) -> dict[str, object]:
        return {
            "nozzle_diameter": 0.4,
            "mmu": False,
            "serial": "SIM-0001",
            "hostname": "prusa-sim",
            "min_extrusion_temp": 170,
        }

    # -- answering requests ------------------------------------------------------------

    def _refusal(self, target: str, headers: Message, now: float) -> Reply | None:
        verdict = self._verify("GET", target, headers.get("Authorization"), now)
        return None if verdict is None else self._challenge(now, stale=verdict)

    def _route(self, path: str) -> Reply:
        if path == "/api/v1/status":
            return json_reply(self._status())
        if path == "/api/v1/job":
            job = self._job_document()
            return Reply(204) if job is None else json_reply(job)
        if path == "/api/v1/info":
            return json_reply(self._info())
        if path == "/api/version":
            return json_reply(self._version())
        return Reply(404, b'{"title": "Not Found", "text": "Not Found"}')

    def _verify(self, method: str, target: str, header: str | None, now: float) -> bool | None:
        """None if authenticated, else whether the refusal is only a stale nonce."""
        credentials = parse_authorization(header) if header is not None else None
        if not isinstance(credentials, Credentials):
            return False
        if not self._genuine(method, target, credentials):
            return False
        issued = self._nonces.get(credentials.nonce)
        if issued is None or now - issued > self._nonce_ttl_s:
            return True  # the right password with an old nonce: stale
        count = int(credentials.nc, 16) if _is_hex(credentials.nc) else 0
        if count <= self._counts.get(credentials.nonce, 0):
            return False  # a replayed request
        self._counts[credentials.nonce] = count
        return None

    def _genuine(self, method: str, target: str, credentials: Credentials) -> bool:
        """Whether the header was computed with the right user and password for this request."""
        if credentials.username != self.user or credentials.realm != REALM:
            return False
        if credentials.uri != target:
            return False
        expected = digest_response(
            user=self.user,
            password=self.password,
            realm=REALM,
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
        )
        return hmac.compare_digest(expected, credentials.response)

    def _challenge(self, now: float, *, stale: bool) -> Reply:
        for nonce, issued in list(self._nonces.items()):
            if now - issued > self._nonce_ttl_s:
                del self._nonces[nonce]
                self._counts.pop(nonce, None)
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = now
        header = challenge_header(REALM, nonce, stale=stale, opaque=self._opaque)
        body = b'{"title": "Unauthorized", "text": "Unauthorized"}'
        return Reply(401, body, (("WWW-Authenticate", header),))


def _as_dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _is_hex(text: str) -> bool:
    return bool(text) and all(char in "0123456789abcdefABCDEF" for char in text)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    user: str = "maker",
    password: str | None = None,
    every_s: float | None = 30.0,
    duration_s: float = 20.0,
) -> PrusaLinkSimulator:
    """A started simulator (`.url`, `.password`, `.stop()`), printing a `duration_s` job
    every `every_s` (never if None)."""
    simulator = PrusaLinkSimulator(host=host, port=port, user=user, password=password).start()
    if every_s is not None:
        simulator.autoplay(every_s, duration_s)
    return simulator
