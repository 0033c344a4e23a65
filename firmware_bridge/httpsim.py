"""A simulated device's HTTP API on loopback, for the simulators of HTTP controllers.

It owns what every such simulator needs and nothing of what it simulates: the keep-alive
server, the thread serving it, the thread ticking the simulated machine, and the connections
it holds open, cut on `stop()` as a powered-off printer would.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

POLL_S = 0.05  # how soon `stop()` is seen by the serving thread
JOIN_S = 5.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(doc: dict[str, object]) -> Reply:
    return Reply(200, json.dumps(doc).encode())


# The request's path (with its query) and headers, to the reply.
Answer = Callable[[str, Message], Reply]


class LoopbackHttp:
    """Serve `answer` on `host:port` (0: a free port, kept across restarts) and call `tick`
    every `tick_s` while serving."""

    def __init__(
        self, host: str, port: int, answer: Answer, tick: Callable[[], None], tick_s: float
    ) -> None:
        self.host = host
        self.port = port
        self._answer = answer
        self._tick = tick
        self._tick_s = tick_s
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._stop.clear()
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True),
            threading.Thread(target=self._ticking, name="http-sim-tick", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop serving and cut every open connection; the simulated machine is kept."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(JOIN_S)
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _ticking(self) -> None:
        while not self._stop.wait(self._tick_s):
            self._tick()

    def _register(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackHttp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the devices serve it
    timeout = 30  # an idle kept-alive connection is dropped after this
    # Headers and body leave in one segment: written apart, Nagle's algorithm and the
    # client's delayed ACK would hold every answer back by tens of milliseconds.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self._owner()._register(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self._owner()._register(self.connection, add=False)

    def do_GET(self) -> None:
        reply = self._owner()._answer(self.path, self.headers)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.status != 204:  # No Content: no body, no body headers
            json_body = reply.body.startswith((b"{", b"["))
            self.send_header("Content-Type", "application/json" if json_body else "text/html")
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.status != 204:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        return  # tests and the demo read the simulators' `requests`, not stderr

    def _owner(self) -> LoopbackHttp:
        return cast(_Server, self.server).owner
