"""Short names for the sandbox's cast badges, and a sandbox with fast heartbeats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from machinerie import sandbox as site
from machinerie.sandbox import DEVICE, JOB, LOGOUT, RELAY, SITE, Sandbox, cast_entries
from machinerie.servers import Mosquitto

ALICE, BOB, CAROL = site.ALICE.uid, site.BRUNO.uid, site.CHLOE.uid
DAN, EVE, MARC = site.DIDIER.uid, site.EMILE.uid, site.MARC.uid
UNKNOWN = site.STRANGER
Rig = Sandbox
entries = cast_entries

__all__ = [
    "ALICE",
    "BOB",
    "CAROL",
    "DAN",
    "DEVICE",
    "EVE",
    "JOB",
    "LOGOUT",
    "MARC",
    "RELAY",
    "SITE",
    "UNKNOWN",
    "Rig",
    "entries",
    "rig",
]


@contextmanager
def rig(folder: Path, broker: Mosquitto, **session: Any) -> Iterator[Sandbox]:
    with Sandbox(folder, broker.port, heartbeat_s=0.2, **session) as sandbox:
        yield sandbox
