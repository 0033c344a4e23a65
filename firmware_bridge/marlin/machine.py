"""Marlin's messages folded into whole `ControllerView`s: SD jobs, pauses, alarms, heat.

A job is an SD-card print, whoever started it (the host with `M23`/`M24`, or someone at the
printer's LCD). The printer never says "job started", so a job starts when the SD read
position rises above a known starting point: `File opened` (position 0), `Not SD printing`,
or an earlier report. It ends on `Done printing file` (completed), `//action:cancel`
(cancelled), a thermal or kill error (error), a reset banner (interrupted), or two
`Not SD printing` in a row. Silence and busy lines never end a job: a printer waiting for a
filament change (`busy: paused for user`) is mid-job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.marlin.parse import (
    Action,
    Busy,
    Error,
    FileOpened,
    FileSelected,
    Firmware,
    Message,
    PrintTime,
    PrusaProgress,
    Reading,
    Reset,
    SdDone,
    SdNotPrinting,
    SdStatus,
    Temperatures,
    canonical_temperatures,
    join_errors,
)
from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, firmware_name

NOT_PRINTING_TO_END = 2  # consecutive `Not SD printing` that end a job nobody announced
MAX_ALARM_MESSAGE = 300  # joined error lines stop growing here
NEARLY_DONE = 0.999  # progress at which a silently closed file counts as completed

_SENSOR_NAMES = {"T0": "nozzle", "B": "bed", "C": "chamber", "P": "probe", "A": "ambient"}


def sensor_name(sensor: str) -> str | None:
    """The view's name for a canonical sensor (`T0` nozzle, `T1` t1, `B` bed...), or None."""
    if sensor in _SENSOR_NAMES:
        return _SENSOR_NAMES[sensor]
    if sensor.startswith("T") and sensor[1:].isdigit():
        return f"t{int(sensor[1:])}"
    return None  # PWM, fans, Prusa's `E:0`: not temperatures the hub shows


@dataclass(slots=True)
class _Job:
    job_id: str
    name: str
    size: int
    position: int = 0
    percent: int | None = None  # Prusa's own estimate beats the byte ratio
    paused: bool = False
    paused_by_action: bool = False
    resume_from: int | None = None  # SD position seen since the pause
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def progress(self) -> float | None:
        if self.percent is not None:
            return min(max(self.percent / 100, 0.0), 1.0)
        if self.size <= 0:
            return None
        return min(self.position / self.size, 1.0)


class MarlinMachine:
    """Pure state: feed it parsed messages, read the `view()` whenever you like."""

    def __init__(self) -> None:
        self._job: _Job | None = None
        self._outcome: JobOutcome | None = None
        self._alarm: Error | None = None
        self._partial_error: Error | None = None
        self._temperatures: dict[str, float] = {}
        self._targets: dict[str, float] = {}
        self._sd_from: int | None = None  # the SD position a rise is measured from
        self._file: FileOpened | None = None
        self._not_printing = 0
        self._jobs_started = 0
        self._link_gap = False  # the link was lost during the job: its end may be unseen
        # From M115; a reset keeps it, since the same firmware boots again until it re-answers.
        self._firmware = ""
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            Temperatures: self._on_temperatures,
            SdStatus: self._on_sd_status,
            SdNotPrinting: self._on_not_printing,
            SdDone: self._on_done,
            FileOpened: self._on_file_opened,
            FileSelected: self._on_file_selected,
            PrusaProgress: self._on_prusa_progress,
            PrintTime: self._on_print_time,
            Action: self._on_action,
            Busy: self._on_busy,
            Error: self._on_error,
            Reset: self._on_reset,
            Firmware: self._on_firmware,
        }

    @property
    def job_running(self) -> bool:
        return self._job is not None

    def feed(self, message: Message) -> None:
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(message)

    def link_lost(self) -> None:
        """The port went away: a job may go on without us, or end unseen."""
        if self._job is not None:
            self._link_gap = True
        self._partial_error = None

    def view(self) -> ControllerView:
        job = self._job
        alarm = self._alarm
        if alarm is not None:
            state = MachineState.ALARM
        elif job is None:
            state = MachineState.IDLE
        else:
            state = MachineState.PAUSED if job.paused else MachineState.RUNNING
        metrics = {f"{name}_target_c": value for name, value in self._targets.items()}
        if job is not None:
            metrics.update(job.metrics)
        return ControllerView(
            state=state,
            busy=job is not None and not job.paused and alarm is None,
            job=Job(job.job_id, job.name, job.progress) if job is not None else None,
            outcome=self._outcome if job is None else None,
            alarm=alarm.alarm if alarm is not None else None,
            alarm_message=alarm.message if alarm is not None else "",
            temperatures=dict(self._temperatures),
            metrics=metrics,
            firmware=self._firmware,
        )

    # -- jobs -------------------------------------------------------------------------

    def _start(self, size: int, position: int) -> None:
        self._jobs_started += 1
        name = self._file.name if self._file is not None else ""
        self._job = _Job(f"{name or 'sd'}#{self._jobs_started}", name, size, position)
        self._outcome = None
        self._alarm = None
        self._link_gap = False
        self._not_printing = 0

    def _end(self, outcome: JobOutcome) -> None:
        if self._job is None:
            return
        self._job = None
        self._outcome = outcome
        self._file = None
        self._sd_from = None  # a fresh starting point is needed before the next job
        self._not_printing = 0
        self._link_gap = False

    # -- SD card ----------------------------------------------------------------------

    def _on_sd_status(self, status: SdStatus) -> None:
        if status.position == 0 and status.size == 0:  # some Marlins' way to say idle
            self._on_not_printing(SdNotPrinting())
            return
        self._not_printing = 0
        job = self._job
        if job is not None and status.size != job.size:
            self._end(JobOutcome.INTERRUPTED)  # another file: the last one ended unseen
            self._sd_from = 0
            job = None
        if job is None:
            self._maybe_start(status)
        else:
            self._follow(job, status)

    def _maybe_start(self, status: SdStatus) -> None:
        rising = self._sd_from is not None and status.position > self._sd_from
        self._sd_from = status.position
        if rising and status.position < status.size:
            self._start(status.size, status.position)

    def _follow(self, job: _Job, status: SdStatus) -> None:
        rising = status.position > job.position
        job.position = status.position
        if rising:
            self._link_gap = False
        if not job.paused:
            return
        # Reading again means printing again; a position from before the pause does not
        # count, hence the reference taken from the first report after it.
        if job.resume_from is not None and status.position > job.resume_from:
            job.paused = False
        job.resume_from = status.position

    def _on_not_printing(self, _message: SdNotPrinting) -> None:
        self._sd_from = 0
        job = self._job
        if job is None:
            return
        self._not_printing += 1
        if self._not_printing < NOT_PRINTING_TO_END:
            return
        if self._link_gap:
            self._end(JobOutcome.INTERRUPTED)
        elif (job.progress or 0.0) >= NEARLY_DONE:
            self._end(JobOutcome.COMPLETED)
        else:
            self._end(JobOutcome.CANCELLED)

    def _on_done(self, _message: SdDone) -> None:
        self._end(JobOutcome.COMPLETED)

    def _on_file_opened(self, opened: FileOpened) -> None:
        if self._job is None:
            self._file = opened
            self._sd_from = 0

    def _on_file_selected(self, _message: FileSelected) -> None:
        if self._job is None:
            self._sd_from = 0

    def _on_prusa_progress(self, progress: PrusaProgress) -> None:
        if progress.silent or self._job is None or progress.percent < 0:
            return
        self._job.percent = progress.percent
        if progress.remaining_min is not None and progress.remaining_min >= 0:
            self._job.metrics["remaining_s"] = progress.remaining_min * 60.0

    def _on_print_time(self, elapsed: PrintTime) -> None:
        if self._job is not None:
            self._job.metrics["print_time_s"] = float(elapsed.seconds)

    # -- pause, resume, cancel --------------------------------------------------------

    def _on_action(self, action: Action) -> None:
        job = self._job
        if job is None:
            return
        if action.name in ("pause", "paused"):
            self._pause(job, by_action=True)
        elif action.name in ("resume", "resumed"):
            job.paused = False
        elif action.name == "cancel":
            self._end(JobOutcome.CANCELLED)

    def _on_busy(self, busy: Busy) -> None:
        job = self._job
        if job is None:
            return
        if busy.paused:
            self._pause(job, by_action=False)
        elif job.paused and not job.paused_by_action:
            job.paused = False  # the user answered: the printer works on

    @staticmethod
    def _pause(job: _Job, *, by_action: bool) -> None:
        if not job.paused:
            job.resume_from = None
            job.paused_by_action = by_action
        job.paused = True

    # -- errors, resets, temperatures -------------------------------------------------

    def _on_error(self, error: Error) -> None:
        if error.partial:
            self._partial_error = error
            return
        if error.continuation and self._partial_error is not None:
            error = join_errors(self._partial_error, error)
        self._partial_error = None
        if error.alarm is None:
            return
        if self._alarm is None:
            self._alarm = error
            self._end(JobOutcome.ERROR)
        elif len(self._alarm.message) < MAX_ALARM_MESSAGE:
            self._alarm = join_errors(self._alarm, error)

    def _on_reset(self, _message: Reset) -> None:
        self._end(JobOutcome.INTERRUPTED)
        self._alarm = None
        self._partial_error = None
        self._file = None
        self._sd_from = None
        self._targets.clear()

    def _on_firmware(self, report: Firmware) -> None:
        name = report.name
        if report.get("FIRMWARE_NAME") is None and report.get("VER"):
            name = f"{name} {report.get('VER')}"  # Malyan's M115: `NAME: Malyan VER: 2.9 ...`
        self._firmware = firmware_name(name) or self._firmware

    def _on_temperatures(self, report: Temperatures) -> None:
        for sensor, reading in canonical_temperatures(report).items():
            name = sensor_name(sensor)
            if name is not None:
                self._latch(name, reading)

    def _latch(self, name: str, reading: Reading) -> None:
        if reading.actual < 0:  # a disconnected thermistor reads far below zero
            self._temperatures.pop(name, None)
            self._targets.pop(name, None)
            return
        self._temperatures[name] = reading.actual
        if reading.target is not None:
            self._targets[name] = reading.target
