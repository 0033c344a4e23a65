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

import http.client
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from firmware_bridge.errors import ConfigError, LinkError
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


class PrusaLinkLink:
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
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not a PrusaLink URL: {base_url!r}")
        self.base_url = base_url
        self._client = _DigestClient(
            parts.scheme, parts.netloc, user=user, password=password, timeout_s=timeout_s
        )
        self._poll_s = poll_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._auth_retry_s = auth_retry_s

    def run(self, sink: Sink, stop: threading.Event) -> None:
        machine = PrusaLinkMachine()
        delay = self._backoff_s
        reported: str | None = None  # the failure already told to the sink
        identify = True  # once per connection: a firmware update restarts the printer
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if identify:
                        self._identify(machine, sink)
                        identify = False
                    view = self._poll(machine, sink)
                except LinkError as exc:
                    reason = str(exc)
                    if reason != reported:
                        sink.offline(reason)
                    reported = reason
                    identify = True
                    self._client.close()
                    # A refused password will not get better by asking faster.
                    stop.wait(self._auth_retry_s if self._client.refused else delay)
                    delay = min(delay * 2, self._max_backoff_s)
                    continue
                delay, reported = self._backoff_s, None
                if view is not None:
                    sink.controller(view)
                stop.wait(max(0.0, self._poll_s - (time.monotonic() - started)))
        finally:
            self._client.close()

    def _identify(self, machine: PrusaLinkMachine, sink: Sink) -> None:
        version = parse_version(*self._client.get(VERSION_PATH))
        if isinstance(version, Version):
            machine.identified(version)
        else:
            sink.unknown(version.text)

    def _poll(self, machine: PrusaLinkMachine, sink: Sink) -> ControllerView | None:
        code, body = self._client.get(STATUS_PATH)
        status = parse_status(body) if code == 200 else Unknown(f"HTTP {code} for {STATUS_PATH}")
        if isinstance(status, Unknown):
            sink.unknown(status.text)
            return None  # nothing fresh to report this time
        job: JobInfo | NoJob | None = None
        if status.job is not None or status.printer.state in JOB_STATES:
            parsed = parse_job(*self._client.get(JOB_PATH))
            if isinstance(parsed, Unknown):
                sink.unknown(parsed.text)
            else:
                job = parsed
        return machine.feed(status, job)


@dataclass
class _Answer:
    status: int
    challenge: str
    body: bytes


class _DigestClient:
    """GET over one kept-alive connection, answering Digest challenges ahead of time."""

    def __init__(
        self,
        scheme: str,
        netloc: str,
        *,
        user: str,
        password: str,
        timeout_s: float,
        cnonce: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self._scheme = scheme
        self._netloc = netloc
        self._user = user
        self._password = password
        self._timeout_s = timeout_s
        self._cnonce = cnonce
        self._connection: http.client.HTTPConnection | None = None
        self._challenge: Challenge | None = None
        self._nc = 0
        self.refused = False  # the last failure was a refused password

    def get(self, path: str) -> tuple[int, bytes]:
        self.refused = False
        answer = self._send(path)
        if answer.status == 401:
            self._learn(answer.challenge)
            answer = self._send(path)
            if answer.status == 401:
                self.refused = True
                raise LinkError(
                    f"prusalink at {self._netloc} refused user {self._user!r}: "
                    "wrong password? (HTTP 401)"
                )
        return answer.status, answer.body

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _learn(self, header: str) -> None:
        challenge = parse_challenge(header)
        if isinstance(challenge, Unknown):
            raise LinkError(f"prusalink at {self._netloc} asks for unsupported auth: {header!r}")
        self._challenge, self._nc = challenge, 0

    def _send(self, path: str) -> _Answer:
        reused = self._connection is not None
        try:
            return self._exchange(self._connect(), path)
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            if reused:  # the printer closed an idle kept-alive connection: that is normal
                return self._send(path)
            raise LinkError(f"prusalink unreachable at {self._netloc}: {exc}") from exc

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = kind(self._netloc, timeout=self._timeout_s)
        return self._connection

    def _exchange(self, connection: http.client.HTTPConnection, path: str) -> _Answer:
        headers = {"Accept": "application/json"}
        if self._challenge is not None:
            self._nc += 1
            headers["Authorization"] = authorization(
                self._challenge,
                user=self._user,
                password=self._password,
                method="GET",
                uri=path,
                nc=self._nc,
                cnonce=self._cnonce(),
            )
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY or response.will_close:
            self.close()  # the rest of an oversized body would poison the next answer
        return _Answer(response.status, response.getheader("WWW-Authenticate", ""), body)
