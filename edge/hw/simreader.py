"""A simulated badge reader for the demo and the tests, fed by code, a Unix socket or a script.

Bad input is counted and logged, never raised; `unplug()` makes reads fail as a real reader's do.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.config import SimulatedReaderConfig
from edge.errors import ReaderError

log = logging.getLogger(__name__)

MAX_UID_BYTES = 16
MAX_LINE_BYTES = 256
ACCEPT_POLL_S = 0.1  # how soon the server threads notice close()
SEPARATORS = str.maketrans("", "", ":- ")


def normalise_uid(text: str) -> str | None:
    """Upper-case hex of a UID written with or without `:`/`-`/space separators; else None."""
    digits = text.strip().translate(SEPARATORS)
    if not digits or len(digits) % 2 or len(digits) > 2 * MAX_UID_BYTES:
        return None
    if digits.strip("0123456789abcdefABCDEF"):
        return None
    return digits.upper()


@dataclass(frozen=True)
class ScriptedBadge:
    at_s: float  # seconds after the reader started
    uid: str


class SimulatedReader:
    """A `BadgeReader` whose badges come from `present()`, the socket or the script."""

    def __init__(
        self,
        config: SimulatedReaderConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._pending: deque[str] = deque()
        self._unplugged = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socket_path: Path | None = None
        self._server: socket.socket | None = None
        self.counters: dict[str, int] = {"presented": 0, "invalid": 0}
        if config is not None and config.socket is not None:
            self._listen(config.socket)
        if config is not None and config.script is not None:
            self._start(self._play, load_script(config.script, self._count_invalid))

    def present(self, uid: str) -> bool:
        """Queue a badge; False (counted, logged) when `uid` is not one."""
        normal = normalise_uid(uid)
        if normal is None:
            self._count_invalid(f"not a badge UID: {uid[:40]!r}")
            return False
        with self._cond:
            self._pending.append(normal)
            self.counters["presented"] += 1
            self._cond.notify_all()
        return True

    def unplug(self) -> None:
        with self._cond:
            self._unplugged = True
            self._cond.notify_all()

    def replug(self) -> None:
        with self._cond:
            self._unplugged = False
            self._cond.notify_all()

    def read(self, timeout: float) -> str | None:
        deadline = self._monotonic() + timeout
        with self._cond:
            while True:
                if self._unplugged:
                    raise ReaderError("simulated badge reader unplugged")
                if self._pending:
                    return self._pending.popleft()
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
        while self._threads:
            with self._cond:
                thread = self._threads.pop()
            thread.join()
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)
            self._socket_path = None

    # -- feeding threads --

    def _count_invalid(self, problem: str) -> None:
        with self._cond:
            self.counters["invalid"] += 1
        log.warning("simulated reader: %s", problem)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="simreader")
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()  # under the lock, so close() never joins a thread not yet started

    def _play(self, badges: list[ScriptedBadge]) -> None:
        started = self._monotonic()
        for badge in badges:
            delay = badge.at_s - (self._monotonic() - started)
            if self._stop.wait(max(0.0, delay)):
                return
            self.present(badge.uid)

    def _listen(self, path: Path) -> None:
        if path.is_socket():
            path.unlink()  # left by a previous run that did not close cleanly
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(path))
            server.listen()
        except OSError as exc:
            server.close()
            raise ReaderError(f"cannot listen on {path}: {exc.strerror}") from exc
        server.settimeout(ACCEPT_POLL_S)
        self._server, self._socket_path = server, path
        self._start(self._serve, server)

    def _serve(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # close() closed the listening socket
            conn.settimeout(ACCEPT_POLL_S)
            self._start(self._converse, conn)

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer = self._answer_lines(conn, buffer + chunk)
                if len(buffer) > MAX_LINE_BYTES:
                    self._count_invalid("line too long on the socket")
                    conn.sendall(b"error: line too long\n")
                    return

    def _answer_lines(self, conn: socket.socket, buffer: bytes) -> bytes:
        *lines, rest = buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                reply = "ok" if self.present(text) else "error: not a badge UID (1-16 hex bytes)"
                conn.sendall(f"{reply}\n".encode())
        return rest


def load_script(path: Path, on_bad_line: Callable[[str], None]) -> list[ScriptedBadge]:
    """Parse `<seconds-after-start> <uid>` lines; `#` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReaderError(f"cannot read badge script {path}: {exc.strerror}") from exc
    badges = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            badge = _parse_script_line(content)
            if badge is None:
                on_bad_line(f"{path}:{number}: expected '<seconds> <uid>', got {content[:40]!r}")
            else:
                badges.append(badge)
    return sorted(badges, key=lambda badge: badge.at_s)


def _parse_script_line(content: str) -> ScriptedBadge | None:
    fields = content.split()
    if len(fields) != 2:
        return None
    try:
        at_s = float(fields[0])
    except ValueError:
        return None
    uid = normalise_uid(fields[1])
    if uid is None or not at_s >= 0:
        return None
    return ScriptedBadge(at_s, uid)


def send_badge(socket_path: Path, uid: str, timeout: float = 2.0) -> str:
    """Present `uid` to a simulated reader listening on `socket_path`; its reply, e.g. "ok"."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(socket_path))
            # One line per badge: an embedded newline must not smuggle in a second one.
            line = " ".join(uid.split())
            conn.sendall(f"{line}\n".encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:
        raise ReaderError(f"no simulated reader answers on {socket_path}: {exc}") from exc
    return reply.decode("utf-8", errors="replace").strip()
