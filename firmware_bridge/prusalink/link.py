"""Poll a Prusa printer's PrusaLink API with HTTP Digest authentication.

Each poll reads `/api/v1/status`, and `/api/v1/job` when the printer has a job (for its file
name and state); the first after every connection loss also reads `/api/version`, where recent
firmware names its version. Requests go over one kept-alive connection and answer the last Digest
challenge before being asked, counting its nonce up: a client that waits for a 401 on every
request doubles the load on a printer's small web server, and some stop after the first
challenge (prusa3d/Prusa-Link-Web#507). A 401 is answered once with the new challenge (the
nonce expired, or the printer restarted); a second 401 means the password is wrong, which is
reported and retried slowly rather than hammered.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from firmware_bridge.errors import LinkError
from firmware_bridge.httppoll import Answer, KeptAlive, Pacing, PollingLink, http_url
from firmware_bridge.model import ControllerView, Sink
from firmware_bridge.prusalink.machine import JOB_STATES, PrusaLinkMachine
from firmware_bridge.prusalink.parse import (
    MAX_BODY,
    Challenge,
    JobInfo,
    NoJob,
    Unknown,
    Version,
    authorization,
    parse_challenge,
    parse_job,
    parse_status,
    parse_version,
)

STATUS_PATH = "/api/v1/status"
JOB_PATH = "/api/v1/job"
VERSION_PATH = "/api/version"


class PrusaLinkLink(PollingLink[PrusaLinkMachine]):
    """A `Source` polling the PrusaLink printer at `base_url` (e.g. http://192.168.1.20)."""

    name = "prusalink"

    def __init__(
        self,
        base_url: str,
        user: str = "maker",
        password: str = "",
        *,
        poll_s: float = 2.0,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        auth_retry_s: float = 30.0,
    ) -> None:
        url = http_url(base_url, "a PrusaLink")
        self._digest = _Digest(user, password)
        connection = KeptAlive(
            url,
            device=self.name,
            headers=self._digest.headers,
            timeout_s=timeout_s,
            max_body=MAX_BODY,
        )
        super().__init__(base_url, connection, Pacing(poll_s, backoff_s, max_backoff_s))
        self._auth_retry_s = auth_retry_s
        self._refused = False  # the last failure was a refused password

    def _machine(self) -> PrusaLinkMachine:
        return PrusaLinkMachine()

    def _retry_s(self, delay: float) -> float:
        # A refused password will not get better by asking faster.
        return self._auth_retry_s if self._refused else delay

    def _identify(self, machine: PrusaLinkMachine, sink: Sink) -> None:
        version = parse_version(*self._get(VERSION_PATH))
        if isinstance(version, Version):
            machine.identified(version)
        else:
            sink.unknown(version.text)

    def _poll(self, machine: PrusaLinkMachine, sink: Sink) -> ControllerView | None:
        code, body = self._get(STATUS_PATH)
        status = parse_status(body) if code == 200 else Unknown(f"HTTP {code} for {STATUS_PATH}")
        if isinstance(status, Unknown):
            sink.unknown(status.text)
            return None  # nothing fresh to report this time
        job: JobInfo | NoJob | None = None
        if status.job is not None or status.printer.state in JOB_STATES:
            parsed = parse_job(*self._get(JOB_PATH))
            if isinstance(parsed, Unknown):
                sink.unknown(parsed.text)
            else:
                job = parsed
        return machine.feed(status, job)

    def _get(self, path: str) -> tuple[int, bytes]:
        self._refused = False
        answer = self._connection.get(path)
        if answer.status == 401:
            self._learn(answer)
            answer = self._connection.get(path)
            if answer.status == 401:
                self._refused = True
                raise LinkError(
                    f"prusalink at {self._connection.netloc} refused user {self._digest.user!r}: "
                    "wrong password? (HTTP 401)"
                )
        return answer.status, answer.body

    def _learn(self, answer: Answer) -> None:
        header = answer.header("WWW-Authenticate")
        if not self._digest.learn(header):
            raise LinkError(
                f"prusalink at {self._connection.netloc} asks for unsupported auth: {header!r}"
            )


class _Digest:
    """The `Authorization` header answering the last challenge, its nonce counted up."""

    def __init__(
        self,
        user: str,
        password: str,
        cnonce: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.user = user
        self._password = password
        self._cnonce = cnonce
        self._challenge: Challenge | None = None
        self._nc = 0

    def learn(self, header: str) -> bool:
        """Answer this challenge from now on; False if it is not one this client can answer."""
        challenge = parse_challenge(header)
        if isinstance(challenge, Unknown):
            return False
        self._challenge, self._nc = challenge, 0
        return True

    def headers(self, path: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._challenge is not None:
            self._nc += 1
            headers["Authorization"] = authorization(
                self._challenge,
                user=self.user,
                password=self._password,
                method="GET",
                uri=path,
                nc=self._nc,
                cnonce=self._cnonce(),
            )
        return headers
