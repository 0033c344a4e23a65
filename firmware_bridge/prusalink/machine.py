"""PrusaLink status (and job) documents folded into whole `ControllerView`s.

`printer.state` says what the printer does; the job's identity is `job.id`. The legacy API
reports a finished print exactly like an idle printer (prusa3d/Prusa-Firmware-Buddy#3135),
so the v1 states are used for the ending: FINISHED → COMPLETED, STOPPED → CANCELLED,
ERROR → ERROR (and an alarm). A job that disappears without one of them (the ending fell
between two polls, or the printer was reset) ends INTERRUPTED, as does a job replaced by
another id. ATTENTION (a dialog waits for someone: runout, crash, warning) and BUSY are
RUNNING, so power is never cut, but not billable printing; an unknown state is treated the
same way, failing safe.
"""

from __future__ import annotations

from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, firmware_name
from firmware_bridge.prusalink.parse import JobInfo, NoJob, Status, Version

ENDINGS = {
    "FINISHED": JobOutcome.COMPLETED,
    "STOPPED": JobOutcome.CANCELLED,
    "ERROR": JobOutcome.ERROR,
}
IDLE_STATES = frozenset({"IDLE", "READY"})
PRINT_STATES = frozenset({"PRINTING", "PAUSED"})
HALTED_STATES = frozenset({"ATTENTION", "BUSY"})  # a listed job is still on, just not printing
# States a job may be polled in (`/api/v1/job` answers with it).
JOB_STATES = PRINT_STATES | HALTED_STATES | frozenset(ENDINGS)


class PrusaLinkMachine:
    """Pure: one poll's documents in, one view out."""

    def __init__(self) -> None:
        self._job: Job | None = None
        self._job_number: int | None = None  # the printer's id of the job followed
        self._last_ended: int | None = None
        self._outcome: JobOutcome | None = None
        self._counter = 0
        self._firmware = ""

    def identified(self, version: Version) -> None:
        """The printer named its firmware (`/api/version`, recent Buddy firmware only)."""
        if version.firmware:
            self._firmware = firmware_name(f"Prusa firmware {version.firmware}")

    def feed(self, status: Status, job: JobInfo | NoJob | None = None) -> ControllerView:
        state = status.printer.state
        info = job if isinstance(job, JobInfo) else None
        number = status.job.job_id if status.job is not None else None
        if number is None and info is not None:
            number = info.job_id
        if self._job is not None and number not in (None, self._job_number):
            self._end(JobOutcome.INTERRUPTED)  # another job now: the ending was missed
        self._follow(state, number, info, status)
        return self._view(status)

    def _follow(self, state: str, number: int | None, info: JobInfo | None, status: Status) -> None:
        if state in ENDINGS:
            self._end(ENDINGS[state])
        elif state in PRINT_STATES or (state in HALTED_STATES and number is not None):
            if self._job is None and (number is None or number != self._last_ended):
                self._start(number)
            if self._job is not None:
                self._job = Job(
                    self._job.job_id,
                    info.name if info is not None and info.name else self._job.name,
                    _progress(status, info),
                )
        elif state in IDLE_STATES:
            self._end(JobOutcome.INTERRUPTED)  # gone without FINISHED or STOPPED seen

    def _start(self, number: int | None) -> None:
        if number is None:
            # Every field but the state is optional: make an id that lasts the job.
            self._counter += 1
            job_id = f"prusalink#{self._counter}"
        else:
            job_id = str(number)
        self._job = Job(job_id)
        self._job_number = number
        self._outcome = None

    def _end(self, outcome: JobOutcome) -> None:
        if self._job is None:
            return
        self._last_ended = self._job_number
        self._job = None
        self._job_number = None
        self._outcome = outcome

    def _view(self, status: Status) -> ControllerView:
        printer = status.printer
        state = printer.state
        alarm = "prusalink_error" if state == "ERROR" else None
        return ControllerView(
            _machine_state(state, self._job is not None),
            busy=self._job is not None and state == "PRINTING",
            job=self._job,
            outcome=self._outcome if self._job is None else None,
            alarm=alarm,
            alarm_message=printer.message if alarm and not printer.ok else "",
            temperatures={
                key: value
                for key, value in (("nozzle", printer.temp_nozzle), ("bed", printer.temp_bed))
                if value is not None
            },
            metrics=_metrics(status),
            firmware=self._firmware,
        )


def _machine_state(state: str, has_job: bool) -> MachineState:
    if state == "ERROR":
        return MachineState.ALARM
    if state == "PAUSED" and has_job:
        return MachineState.PAUSED
    if state in IDLE_STATES or state in ENDINGS:
        return MachineState.IDLE
    return MachineState.RUNNING  # PRINTING, ATTENTION, BUSY and anything unknown


def _progress(status: Status, info: JobInfo | None) -> float | None:
    percent = status.job.progress if status.job is not None else None
    if percent is None and info is not None:
        percent = info.progress
    return None if percent is None else min(1.0, max(0.0, percent / 100.0))


def _metrics(status: Status) -> dict[str, float]:
    printer = status.printer
    job = status.job
    pairs = (
        ("nozzle_target_c", printer.target_nozzle),
        ("bed_target_c", printer.target_bed),
        ("speed_pct", printer.speed),
        ("flow_pct", printer.flow),
        ("time_printing_s", job.time_printing if job is not None else None),
        ("time_remaining_s", job.time_remaining if job is not None else None),
    )
    return {key: value for key, value in pairs if value is not None}
