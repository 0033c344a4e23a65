"""Atomic file writes for the hub's small data files and the broker's configuration.

A reader (Mosquitto on SIGHUP, another hub replica) sees either the old file or the new one,
never half of each: we write a temporary file in the same folder, fsync it, then rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data`, created with `mode` from the start (never briefly wider)."""
    with _complete_temporary(path, data, mode) as tmp:
        os.replace(tmp, path)
    _fsync_folder(path.parent)


def create_exclusively(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Write `path` only if it does not exist yet; False when another writer was first.

    Hard-linking a complete temporary file makes creation atomic *and* exclusive, so two hub
    replicas starting together never both generate a key and overwrite each other's.
    """
    with _complete_temporary(path, data, mode) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    _fsync_folder(path.parent)
    return True


@contextlib.contextmanager
def _complete_temporary(path: Path, data: bytes, mode: int) -> Iterator[str]:
    """A fsynced temporary file beside `path` holding `data`; removed afterwards if still there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600; chmod before any byte is written.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock: one read-modify-write at a time across processes."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
