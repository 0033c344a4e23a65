"""What every link polling a printer's HTTP API shares: one kept-alive connection and the loop.

The loop identifies the device once per connection, polls it every `poll_s`, reports each view,
and on a `LinkError` tells the sink once per distinct reason, drops the connection and retries
with a growing backoff. What a device is asked, how it authenticates and how its documents
become views stay in the protocol's own link.
"""

from __future__ import annotations

import http.client
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import SplitResult, urlsplit

from firmware_bridge.errors import ConfigError, LinkError
from firmware_bridge.model import ControllerView, Sink

Machine = TypeVar("Machine")
# The headers of a request for this path; called for every attempt, so a header computed per
# request (a Digest answer and its nonce count) is fresh on a retry too.
Headers = Callable[[str], dict[str, str]]


def http_url(base_url: str, device: str) -> SplitResult:
    """`base_url` split, or a `ConfigError` naming the `device` ("an OctoPrint")."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not {device} URL: {base_url!r}")
    return parts


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: http.client.HTTPMessage

    def header(self, name: str) -> str:
        """Every value of the header `name`, joined as `HTTPResponse.getheader` joins them."""
        return ", ".join(self.headers.get_all(name, []))


class KeptAlive:
    """GET over one kept-alive connection; a body over `max_body` bytes is cut there."""

    def __init__(
        self, url: SplitResult, *, device: str, headers: Headers, timeout_s: float, max_body: int
    ) -> None:
        self.netloc = url.netloc
        self._https = url.scheme == "https"
        self._device = device
        self._headers = headers
        self._timeout_s = timeout_s
        self._max_body = max_body
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> Answer:
        reused = self._connection is not None
        try:
            return self._exchange(self._connect(), path)
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            if reused:  # the device closed an idle kept-alive connection: that is normal
                return self.get(path)
            raise LinkError(f"{self._device} unreachable at {self.netloc}: {exc}") from exc

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self.netloc, timeout=self._timeout_s)
        return self._connection

    def _exchange(self, connection: http.client.HTTPConnection, path: str) -> Answer:
        connection.request("GET", path, headers=self._headers(path))
        response = connection.getresponse()
        body = response.read(self._max_body + 1)
        if len(body) > self._max_body or response.will_close:
            self.close()  # the rest of an oversized body would poison the next answer
        return Answer(response.status, body, response.msg)


@dataclass(frozen=True)
class Pacing:
    poll_s: float
    backoff_s: float
    max_backoff_s: float


class PollingLink(ABC, Generic[Machine]):
    """A `Source` polling one device over `connection`; a protocol supplies the three steps."""

    name: str

    def __init__(self, base_url: str, connection: KeptAlive, pacing: Pacing) -> None:
        self.base_url = base_url
        self._connection = connection
        self._pacing = pacing

    def run(self, sink: Sink, stop: threading.Event) -> None:
        machine = self._machine()
        delay = self._pacing.backoff_s
        reported: str | None = None  # the failure already told to the sink
        identify = True  # once per connection: an update restarts the device
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if identify:
                        self._identify(machine, sink)
                        identify = False
                    view = self._poll(machine, sink)
                except LinkError as exc:
                    reported = self._failed(sink, str(exc), reported)
                    identify = True
                    stop.wait(self._retry_s(delay))
                    delay = min(delay * 2, self._pacing.max_backoff_s)
                    continue
                delay, reported = self._pacing.backoff_s, None
                if view is not None:
                    sink.controller(view)
                stop.wait(max(0.0, self._pacing.poll_s - (time.monotonic() - started)))
        finally:
            self._connection.close()

    def _failed(self, sink: Sink, reason: str, reported: str | None) -> str:
        if reason != reported:
            sink.offline(reason)
        self._connection.close()
        return reason

    def _retry_s(self, delay: float) -> float:
        """How long to wait after a failure, given the current backoff."""
        return delay

    @abstractmethod
    def _machine(self) -> Machine:
        """A fresh state machine for one run."""

    @abstractmethod
    def _identify(self, machine: Machine, sink: Sink) -> None:
        """Ask the device its name and version, first on every connection."""

    @abstractmethod
    def _poll(self, machine: Machine, sink: Sink) -> ControllerView | None:
        """One poll's view, or None when nothing fresh enough came back."""
