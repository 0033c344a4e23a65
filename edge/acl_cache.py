"""The machine's access list as last received: verified, kept on disk, newest valid version wins.

The file holds the signed message exactly as the hub published it, so it is verified again at
every boot and a corrupted or planted file is refused like a forged message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.errors import ContractError
from contracts.signing import open_access_list
from edge.access import AccessIndex

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # same or older version: retained messages come back at every reconnect
    REJECTED = "rejected"


@dataclass(frozen=True)
class Offer:
    outcome: Outcome
    detail: str = ""


class AclCache:
    def __init__(
        self, path: Path, trusted: Mapping[str, Ed25519PublicKey], *, site: str, machine_id: str
    ) -> None:
        self._path = path
        self._trusted = trusted
        self._site = site
        self._machine_id = machine_id
        self.index: AccessIndex | None = None

    def load(self) -> Offer:
        """Read the list kept on disk at boot; a missing file is normal on a new device."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return Offer(Outcome.STALE, "no access list on disk yet")
        except OSError as exc:
            return Offer(Outcome.REJECTED, f"cannot read {self._path}: {exc.strerror}")
        return self._accept(data, persist=False)

    def offer(self, data: bytes) -> Offer:
        """A message from the broker: apply it if valid and newer, keep it on disk."""
        return self._accept(data, persist=True)

    def _accept(self, data: bytes, *, persist: bool) -> Offer:
        try:
            access_list = open_access_list(data, self._trusted)
        except ContractError as exc:
            return Offer(Outcome.REJECTED, str(exc))
        if (access_list.site, access_list.machine_id) != (self._site, self._machine_id):
            where = f"{access_list.site}/{access_list.machine_id}"
            return Offer(Outcome.REJECTED, f"access list is for {where}, not this machine")
        if self.index is not None and access_list.version <= self.index.version:
            return Offer(Outcome.STALE, f"version {access_list.version} is not newer")
        if persist:
            self._persist(data)
        self.index = AccessIndex(access_list)
        return Offer(Outcome.APPLIED, f"version {access_list.version}")

    def _persist(self, data: bytes) -> None:
        try:
            _write_atomically(self._path, data)
        except OSError as exc:
            # Still apply it: a revocation must take effect even on a full or failing disk.
            log.error("access list applied but not saved to %s: %s", self._path, exc)


def _write_atomically(path: Path, data: bytes) -> None:
    # A power cut mid-write must leave the old list or the new one, never half of one.
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
