"""Where batches are validated and committed: a process of its own, or a thread.

The MQTT side of the ingest is one thread that must keep reading, acking and publishing; in the
same interpreter as the ledger work, each would wait for the other's hold on the interpreter
lock. In a child process the two run on two cores. The child opens the same database by URL and
lives as long as its pipe: it exits when the hub closes it, or dies (a SIGKILL included).

A child takes about a second to import what it needs. Meanwhile a thread of the hub commits, so
the first events after a start are recorded at once; the child takes over at the first moment
the thread has no batch left (results come back in the order submitted, from one pipe at a
time). Without a URL to reopen (an in-memory database) the thread stays.

Use: while `room`, `submit` batches; when `connection` is readable, `take` the oldest outcome.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import queue
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Protocol, runtime_checkable

from hub.db import make_engine
from hub.errors import StoreUnavailable
from hub.ingest.batch import Checked, EventSink, Judge, Outcome
from hub.ingest.sink import LedgerSink

log = logging.getLogger(__name__)
STOP_S = 10.0
READY = "ready"
GC_THRESHOLD = 10_000  # allocations between young-generation collections (Python's is 700)


@runtime_checkable
class Reopenable(Protocol):
    def reopen_url(self) -> str | None:
        """The URL another process opens the same ledger with; None if it cannot."""
        ...


@dataclass(frozen=True)
class Failed:
    """The committer could not commit a batch (nothing of it was committed)."""

    error: str


class CommitterLost(StoreUnavailable):
    """The committer process died, with every batch it had; they must be sent again."""


Request = tuple[list[tuple[str, bytes]], datetime]


# ---------------------------------------------------------------- the serving side


def serve(sink: EventSink, prefix: str, connection: Connection) -> None:
    """Commit each batch received, in order, and reply with its outcome, in order; return on
    None or a closed pipe.

    Two stages: this thread validates the next batch while a writer thread commits the
    previous one, so decoding fills the time the writer waits for the disk or the server.
    """
    judge = Judge(prefix)
    handoff: queue.Queue[Checked | Failed | None] = queue.Queue(maxsize=1)
    writer = threading.Thread(
        target=_write, args=(sink, handoff, connection), name="ingest-writer", daemon=True
    )
    writer.start()
    try:
        while True:
            try:
                request: Request | None = connection.recv()
            except (EOFError, OSError):
                return  # the hub is gone
            if request is None:
                return
            messages, received_at = request
            try:
                checked: Checked | Failed = judge.check(messages, received_at)
            except Exception as exc:
                checked = _failure(exc)
            handoff.put(checked)
    finally:
        handoff.put(None)
        writer.join()


def _write(
    sink: EventSink, handoff: queue.Queue[Checked | Failed | None], connection: Connection
) -> None:
    gone = False
    while (checked := handoff.get()) is not None:
        if gone:
            continue  # drained, so that `serve` can always hand over its None
        reply: Outcome | Failed
        try:
            reply = checked.commit(sink) if isinstance(checked, Checked) else checked
        except Exception as exc:
            reply = _failure(exc)
        try:
            connection.send(reply)
        except OSError:
            gone = True  # the hub died: it gets these events again from the broker


def _failure(exc: Exception) -> Failed:
    # Whatever failed, nothing of the batch was committed: the hub keeps it and retries.
    return Failed(f"{type(exc).__name__}: {exc}")


def _serve_url(url: str, prefix: str, connection: Connection) -> None:
    # The hub stops this process through the pipe, after its last batch; a Ctrl-C at the
    # terminal reaches the whole group and is the hub's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _finish_and_exit)
    engine = make_engine(url)
    # This process only commits batches, whose objects die by reference counting: leave the
    # modules loaded so far out of every collection, and collect less often (a tenth of its
    # CPU went to the collector otherwise).
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    try:
        connection.send(READY)
        serve(LedgerSink(engine), prefix, connection)
    finally:
        engine.dispose()


def _finish_and_exit(_signum: int, _frame: FrameType | None) -> None:
    # SIGTERM: a service manager stopping the whole group, or a hub exiting without stopping
    # the ingest (multiprocessing terminates its children then waits for them). Leave, but
    # through `serve`'s cleanup: the writer first commits and answers what it has.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(0)


# ---------------------------------------------------------------- the hub's side


class _Lane:
    """One serving worker, thread or child process, and the hub's end of its pipe."""

    def __init__(self, connection: Connection, worker: threading.Thread | BaseProcess) -> None:
        self.connection = connection
        self.worker = worker

    @classmethod
    def thread(cls, sink: EventSink, prefix: str) -> _Lane:
        mine, theirs = multiprocessing.Pipe()
        worker = threading.Thread(target=serve, args=(sink, prefix, theirs), name="ingest-commit")
        worker.daemon = True
        worker.start()
        return cls(mine, worker)

    @classmethod
    def process(cls, url: str, prefix: str) -> _Lane:
        mine, theirs = multiprocessing.Pipe()
        # spawn: a fresh interpreter, no copy of the hub's threads and locks.
        worker = multiprocessing.get_context("spawn").Process(
            target=_serve_url, args=(url, prefix, theirs), name="ingest-committer"
        )
        worker.daemon = True
        worker.start()
        theirs.close()  # the child's end lives in the child: its death reads as EOF here
        return cls(mine, worker)

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.connection.send(None)
        self.worker.join(STOP_S)
        if isinstance(self.worker, BaseProcess) and self.worker.is_alive():
            log.error("the ingest committer did not stop in %.0f s; killing it", STOP_S)
            self.worker.kill()
            self.worker.join(STOP_S)
        self.connection.close()


class Committer:
    """Commits in a child process when the sink can be reopened there, else in a thread."""

    def __init__(self, sink: EventSink, prefix: str, *, process: bool = True) -> None:
        self._sink = sink
        self._prefix = prefix
        url = sink.reopen_url() if isinstance(sink, Reopenable) else None
        self._url = url if process else None
        self._active: _Lane | None = None
        self._booting: _Lane | None = None  # the child, until it takes over
        self._booted = False  # the child said it is ready
        self._in_flight = 0  # batches submitted to the active lane, not taken yet

    @property
    def in_process(self) -> bool:
        """True once batches are committed in a child process."""
        return self._active is not None and isinstance(self._active.worker, BaseProcess)

    @property
    def connection(self) -> Connection:
        """Readable when an outcome is there to `take`."""
        if self._active is None:
            raise RuntimeError("the committer is not started")
        return self._active.connection

    def start(self) -> None:
        """Start committing at once (in a thread), the child process booting meanwhile."""
        self._active = _Lane.thread(self._sink, self._prefix)
        self._in_flight = 0
        self._booted = False
        if self._url is not None:
            self._booting = _Lane.process(self._url, self._prefix)

    def room(self, limit: int) -> bool:
        """Whether another batch may be submitted, `limit` being the most at once."""
        self._switch_if_due()
        if self._booted:
            return False  # the thread finishes its batches, then the child takes over
        return self._in_flight < limit

    def submit(self, messages: Sequence[tuple[str, bytes]], received_at: datetime) -> None:
        try:
            self.connection.send((list(messages), received_at))
        except OSError as exc:  # BrokenPipeError: the child died
            raise CommitterLost(f"the committer is gone: {exc}") from exc
        self._in_flight += 1

    def take(self) -> Outcome:
        """The oldest submitted batch's outcome.

        Raises StoreUnavailable if that batch was not committed, CommitterLost (all submitted
        batches with it) if the committer died."""
        try:
            reply: Outcome | Failed = self.connection.recv()
        except (EOFError, OSError) as exc:
            self._in_flight = 0
            raise CommitterLost(f"the committer is gone: {exc or 'closed'}") from exc
        self._in_flight -= 1
        if isinstance(reply, Failed):
            raise StoreUnavailable(reply.error)
        return reply

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        for lane in (self._booting, self._active):
            if lane is not None:
                lane.stop()
        self._active = self._booting = None

    def _switch_if_due(self) -> None:
        booting = self._booting
        if booting is None:
            return
        if not self._booted:
            if not booting.connection.poll():
                return
            try:
                self._booted = booting.connection.recv() == READY
            except (EOFError, OSError):
                log.error("the ingest committer process did not start; committing in a thread")
                booting.stop()
                self._booting = None
                return
        if self._in_flight == 0 and self._active is not None:
            self._active.stop()
            self._active, self._booting, self._booted = booting, None, False
