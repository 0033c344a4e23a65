"""Poll an OctoPrint instance's REST API with its API key.

Each poll reads `/api/job` and `/api/printer?exclude=sd` over one kept-alive connection (and,
first after every connection loss, `/api/version`, which names OctoPrint) and reports a whole
view, so the consumer sees fresh telemetry at every poll. A 401 (older
OctoPrint) or 403 means the key is wrong or lacks the STATUS permission: reported as offline
and retried with growing backoff, never hammered. 409 from `/api/printer` is not a failure of
the link: OctoPrint is up but has no operational printer, which the machine reports.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

from firmware_bridge.errors import ConfigError, LinkError
from firmware_bridge.model import ControllerView, Sink
from firmware_bridge.octoprint.machine import OctoPrintMachine
from firmware_bridge.octoprint.parse import (
    MAX_BODY,
    JobStatus,
    PrinterStatus,
    Unknown,
    Version,
    parse_job,
    parse_printer,
    parse_version,
)

JOB_PATH = "/api/job"
PRINTER_PATH = "/api/printer?exclude=sd"
VERSION_PATH = "/api/version"
REFUSED = (401, 403)


class OctoPrintLink:
    """A `Source` polling the OctoPrint instance at `base_url` (e.g. http://octopi.local)."""

    name = "octoprint"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        poll_s: float = 2.0,
        *,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not an OctoPrint URL: {base_url!r}")
        self.base_url = base_url
        self._client = _Client(
            parts.scheme, parts.netloc, parts.path.rstrip("/"), api_key, timeout_s
        )
        self._poll_s = poll_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s

    def run(self, sink: Sink, stop: threading.Event) -> None:
        machine = OctoPrintMachine()
        delay = self._backoff_s
        reported: str | None = None  # the failure already told to the sink
        identify = True  # once per connection: an update restarts the server
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
                    stop.wait(delay)
                    delay = min(delay * 2, self._max_backoff_s)
                    continue
                delay, reported = self._backoff_s, None
                if view is not None:
                    sink.controller(view)
                stop.wait(max(0.0, self._poll_s - (time.monotonic() - started)))
        finally:
            self._client.close()

    def _identify(self, machine: OctoPrintMachine, sink: Sink) -> None:
        version = parse_version(*self._client.get(VERSION_PATH))
        if isinstance(version, Version):
            machine.identified(version)
        else:
            sink.unknown(version.text)

    def _poll(self, machine: OctoPrintMachine, sink: Sink) -> ControllerView | None:
        job = parse_job(*self._client.get(JOB_PATH))
        printer = parse_printer(*self._client.get(PRINTER_PATH))
        for parsed in (job, printer):
            if isinstance(parsed, Unknown):
                sink.unknown(parsed.text)
        usable_job = job if isinstance(job, JobStatus) else None
        usable_printer = None if isinstance(printer, Unknown) else printer
        if usable_job is None and not isinstance(usable_printer, PrinterStatus):
            return None  # nothing fresh enough to report this time
        return machine.feed(usable_printer, usable_job)


class _Client:
    """GET over one kept-alive connection, with the API key on every request."""

    def __init__(self, scheme: str, netloc: str, prefix: str, key: str, timeout_s: float) -> None:
        self._scheme = scheme
        self._netloc = netloc
        self._prefix = prefix  # OctoPrint may be served under a path behind a proxy
        self._key = key
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        status, body = self._send(self._prefix + path)
        if status in REFUSED:
            raise LinkError(
                f"octoprint at {self._netloc} refused the API key: wrong key? (HTTP {status})"
            )
        return status, body

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(self, path: str) -> tuple[int, bytes]:
        reused = self._connection is not None
        try:
            return self._exchange(self._connect(), path)
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            if reused:  # the server closed an idle kept-alive connection: that is normal
                return self._send(path)
            raise LinkError(f"octoprint unreachable at {self._netloc}: {exc}") from exc

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = kind(self._netloc, timeout=self._timeout_s)
        return self._connection

    def _exchange(self, connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
        connection.request(
            "GET", path, headers={"X-Api-Key": self._key, "Accept": "application/json"}
        )
        response = connection.getresponse()
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY or response.will_close:
            self.close()  # the rest of an oversized body would poison the next answer
        return response.status, body
