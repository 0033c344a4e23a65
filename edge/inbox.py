"""What other threads post to the agent's main loop, and the reader thread that posts badges.

Only the main loop touches the session machine and the relay; everything else is a message.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from contracts.topics import Kind
from edge.errors import ReaderError
from edge.hw.ports import BadgeReader
from edge.session import JobState
from firmware_bridge.tracker import Output

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.5
RETRY_S = 1.0


@dataclass(frozen=True)
class BadgeSeen:
    uid: str


@dataclass(frozen=True)
class ReaderFault:
    message: str


@dataclass(frozen=True)
class ReaderRecovered:
    pass


@dataclass(frozen=True)
class LogoutRequested:
    pass


@dataclass(frozen=True)
class JobReported:
    job: JobState


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    payload: bytes


@dataclass(frozen=True)
class BridgeReport:
    """What the firmware bridge learnt: job start and end, interlock changes, alarms."""

    outputs: tuple[Output, ...]


Item = (
    BadgeSeen
    | ReaderFault
    | ReaderRecovered
    | LogoutRequested
    | JobReported
    | Incoming
    | BridgeReport
)


def read_badges(
    reader: BadgeReader, post: Callable[[Item], None], stop: threading.Event, counters: Counter[str]
) -> None:
    """The reader thread: post each badge; on a fault post it once, retry, post the recovery."""
    failing = False
    while not stop.is_set():
        try:
            uid = reader.read(READ_TIMEOUT_S)
        except ReaderError as exc:
            counters["reader_faults"] += 1
            if not failing:
                log.error("badge reader failed: %s", exc)
                post(ReaderFault(str(exc)))
            failing = True
            stop.wait(RETRY_S)
            continue
        if failing:
            log.info("badge reader answers again")
            post(ReaderRecovered())
            failing = False
        if uid is not None:
            post(BadgeSeen(uid))
