"""The normalised machine state every protocol adapter reports, and the ports between them.

An adapter (Marlin, GRBL, Moonraker, PrusaLink) turns its controller's dialect into a full
`ControllerView` each time it learns something; a power meter (PZEM, Shelly) gives a
`MeterReading`. The tracker (`firmware_bridge.tracker`) folds both into busy time, energy,
job start and end events and the edge's interlock. Nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from contracts.models import MachineState

__all__ = [
    "ControllerView",
    "Job",
    "JobOutcome",
    "MachineState",
    "MeterReading",
    "Sink",
    "Source",
    "firmware_name",
]

FIRMWARE_MAX = 120  # the contract's limit for `Status.firmware`


class JobOutcome(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"  # alarm, thermal runaway, klippy shutdown, firmware kill
    INTERRUPTED = "interrupted"  # controller reset or link lost mid-job: end time is a guess


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the controller names it.

    `job_id` is the controller's own id when it has one (Moonraker history id, PrusaLink job
    id); otherwise the adapter makes one that stays the same for the whole job (file name and
    start, or a counter), because the tracker detects a new job by a change of id.
    """

    job_id: str
    name: str = ""
    progress: float | None = None  # 0.0 to 1.0


@dataclass(frozen=True, slots=True)
class ControllerView:
    """Everything a controller adapter knows at one instant: a whole view, never a delta.

    `busy` is the billable activity: spindle on (mill), laser firing (laser), printing
    (printer). `job` stays set from the job's first to its last report, paused included;
    `outcome` says how the most recent job ended and is set only on views without a job.
    """

    state: MachineState
    busy: bool = False
    job: Job | None = None
    outcome: JobOutcome | None = None
    alarm: str | None = None  # code: lower-case [a-z0-9_], e.g. "grbl_alarm_1", "marlin_maxtemp"
    alarm_message: str = ""
    temperatures: Mapping[str, float] = field(default_factory=dict)  # "nozzle", "bed", ... in °C
    metrics: Mapping[str, float] = field(default_factory=dict)  # "feed_mm_min", "spindle_rpm"...
    firmware: str = ""  # as the controller names itself once learnt: "Marlin 2.1.2.1", "Grbl 1.1h"


def firmware_name(text: str) -> str:
    """A controller's own name for its firmware, fit for the device status: printable,
    single-spaced, trimmed, at most `FIRMWARE_MAX` characters ("" if nothing is left)."""
    printable = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(printable.split())[:FIRMWARE_MAX].rstrip()


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One power-meter sample. `energy_wh` is the meter's own counter, as read: it may reset
    or wrap, so only positive deltas are accumulated (by the tracker, not the adapter)."""

    power_w: float
    energy_wh: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None


class Sink(Protocol):
    """Where an adapter reports; the follower stamps each call with its own clock."""

    def controller(self, view: ControllerView) -> None: ...

    def meter(self, reading: MeterReading) -> None: ...

    def offline(self, reason: str) -> None:
        """The controller or meter cannot be reached (port gone, HTTP down, no answer)."""

    def unknown(self, what: str) -> None:
        """A line or frame the adapter could not use: counted and logged, never fatal."""


class Source(Protocol):
    """One adapter following one controller or meter."""

    name: str

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Follow until `stop` is set. Reconnects by itself; reports link loss to `sink`."""
