"""The agent's one SQLite database: outbox, open session, and small persistent state.

WAL with `synchronous=FULL`: with NORMAL a committed transaction may roll back after a power
cut, and a committed `session_started` is what justifies closing the relay. Checkpoints run on
a connection and thread of their own, so a badge never waits for the database file's fsync.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from edge.errors import OutboxError

log = logging.getLogger(__name__)

# A checkpoint fsyncs the database file, and an fsync running beside a badge's commit can
# stall it: checkpoint in a quiet second, or after this many commits if it never gets quiet.
CHECKPOINT_POLL_S = 1.0
CHECKPOINT_QUIET_S = 2.0
CHECKPOINT_MAX_COMMITS = 1000
_KV = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class Store:
    """One connection, one lock: the single writer the outbox design relies on."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn.execute(_KV)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the agent database {path}: {exc}") from exc
        self.path = path
        self.lock = threading.RLock()
        self._closing = threading.Event()
        self._commits = 0
        self._last_commit = time.monotonic()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically under the lock; commit on success, roll back on error."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._commits += 1
            self._last_commit = time.monotonic()

    @contextmanager
    def relaxed(self) -> Iterator[sqlite3.Connection]:
        """A transaction that need not survive a power cut, committed without an fsync.

        For deletions of acknowledged events: losing one means a resend the hub dedupes, and
        not holding the lock through an fsync keeps badge-ins fast.
        """
        with self.lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self.transaction() as conn:
                    yield conn
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self._conn

    def ensure(self, ddl: str) -> None:
        with self.lock:
            self._conn.executescript(ddl)

    def get(self, key: str) -> str | None:
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _checkpoint_loop(self) -> None:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
        except sqlite3.Error as exc:
            log.error("checkpoints disabled, cannot open %s: %s", self.path, exc)
            return
        with closing(conn):
            while not self._closing.wait(CHECKPOINT_POLL_S):
                if self._checkpoint_due():
                    self._commits = 0
                    self._checkpoint(conn)

    def _checkpoint_due(self) -> bool:
        quiet = time.monotonic() - self._last_commit >= CHECKPOINT_QUIET_S
        return self._commits >= CHECKPOINT_MAX_COMMITS or (self._commits > 0 and quiet)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        # PASSIVE never blocks the writer; whatever it cannot copy now waits for the next round.
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join(5)
        with self.lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
