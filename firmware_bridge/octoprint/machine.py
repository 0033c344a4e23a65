"""OctoPrint's job and printer documents folded into whole `ControllerView`s.

OctoPrint has no job id, and a finished job stays selected (completion 100) until another
file is, so a job is known by its transitions: it starts when the state turns Printing (or
Starting, Paused...) and ends when the state leaves the print states. Back to Operational
after Finishing, or with completion at 100 (Finishing is short and may fall between two
polls), is COMPLETED; otherwise it went through Cancelling, seen or not, as OctoPrint reaches
Operational from a print only by finishing or cancelling: CANCELLED. Error or Offline after
error (`/api/printer` then answers 409, so the job document's state text says it) ends the
job ERROR and raises the alarm `octoprint_error`; a plain Offline (the printer was
disconnected) ends it INTERRUPTED. Pausing, Paused, Resuming, Cancelling, Finishing, Starting
and any state text not known here are never idle, so power is not cut meanwhile; only
Printing is billable.
"""

from __future__ import annotations

from enum import Enum

from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, firmware_name
from firmware_bridge.octoprint.parse import Disconnected, JobStatus, PrinterStatus, Version

ALARM = "octoprint_error"
COMPLETE_PCT = 99.99  # completion is a float computed from file positions


class Phase(Enum):
    IDLE = "idle"
    PRINTING = "printing"
    STARTING = "starting"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELLING = "cancelling"
    FINISHING = "finishing"
    TRANSFER = "transfer"  # a file is streamed to the SD card: busy port, no print
    ERROR = "error"
    OFFLINE = "offline"
    OTHER = "other"  # a state this adapter does not know: failing safe, never idle


PHASES = {
    "operational": Phase.IDLE,
    "printing": Phase.PRINTING,
    "printing from sd": Phase.PRINTING,
    "starting": Phase.STARTING,
    "starting print from sd": Phase.STARTING,
    "pausing": Phase.PAUSED,
    "paused": Phase.PAUSED,
    "resuming": Phase.RESUMING,
    "cancelling": Phase.CANCELLING,
    "finishing": Phase.FINISHING,
    "sending file to sd": Phase.TRANSFER,
    "transferring file to sd": Phase.TRANSFER,
    "offline": Phase.OFFLINE,
    "opening serial connection": Phase.OFFLINE,
    "detecting serial connection": Phase.OFFLINE,
    "detecting baudrate": Phase.OFFLINE,
    "connecting": Phase.OFFLINE,
    "closed": Phase.OFFLINE,
}
# Older OctoPrint spells errors "Error: <text>" and "Offline (Error: <text>)".
ERROR_PREFIXES = ("error", "offline after error", "offline (error")
# States a job is on in: seeing one without a job starts it.
STARTS = frozenset({Phase.PRINTING, Phase.STARTING, Phase.PAUSED, Phase.RESUMING})
TEMPERATURE_NAMES = {"tool0": "nozzle", "bed": "bed", "chamber": "chamber"}


def phase_of(text: str) -> Phase:
    lowered = text.strip().lower()
    if lowered.startswith(ERROR_PREFIXES):
        return Phase.ERROR
    return PHASES.get(lowered, Phase.OTHER)


class OctoPrintMachine:
    """Pure: one poll's documents in (either may be None when unusable), one view out."""

    def __init__(self) -> None:
        self._job: Job | None = None
        self._key: tuple[str, float | None] = ("", None)  # file name and date of the job
        self._completion: float | None = None
        self._cancelling = False
        self._finishing = False
        self._outcome: JobOutcome | None = None
        self._counter = 0
        self._firmware = ""

    def identified(self, version: Version) -> None:
        """OctoPrint named itself (`/api/version`); kept until it names something else."""
        self._firmware = firmware_name(version.text) or self._firmware

    def feed(
        self, printer: PrinterStatus | Disconnected | None, job: JobStatus | None
    ) -> ControllerView:
        phase = _phase(printer, job)
        if self._job is not None and self._replaced(phase, job):
            self._end(self._completed_or(JobOutcome.INTERRUPTED))
        self._note(phase, job)
        self._follow(phase, job)
        return self._view(phase, printer, job)

    def _replaced(self, phase: Phase, job: JobStatus | None) -> bool:
        """Another file, or the same one restarted, between two polls."""
        if job is None or phase not in STARTS:
            return False
        name, date = self._key
        if name and job.name and (job.name, job.file_date) != (name, date):
            return True
        before, now = self._completion, job.completion
        return before is not None and now is not None and now + 1.0 < before

    def _note(self, phase: Phase, job: JobStatus | None) -> None:
        if self._job is None:
            return
        self._cancelling |= phase is Phase.CANCELLING
        self._finishing |= phase is Phase.FINISHING
        if job is not None and job.completion is not None:
            self._completion = job.completion

    def _follow(self, phase: Phase, job: JobStatus | None) -> None:
        if phase is Phase.ERROR:
            self._end(JobOutcome.ERROR)
        elif phase is Phase.OFFLINE:
            self._end(JobOutcome.INTERRUPTED)  # the printer was disconnected mid-print
        elif phase is Phase.IDLE:
            self._end(JobOutcome.CANCELLED if self._cancelling else self._completed_or())
        elif phase in STARTS and self._job is None:
            self._start(job)
        if self._job is not None and job is not None:
            self._update(job)

    def _completed_or(self, otherwise: JobOutcome = JobOutcome.CANCELLED) -> JobOutcome:
        done = self._completion is not None and self._completion >= COMPLETE_PCT
        return JobOutcome.COMPLETED if self._finishing or done else otherwise

    def _start(self, job: JobStatus | None) -> None:
        self._counter += 1
        self._key = (job.name, job.file_date) if job is not None else ("", None)
        self._job = Job(_job_id(self._counter, *self._key))
        self._completion = job.completion if job is not None else None
        self._cancelling = self._finishing = False
        self._outcome = None

    def _update(self, job: JobStatus) -> None:
        current = self._job
        if current is None:
            return
        if not self._key[0] and job.name:
            # Started while the job document was unusable: the first name seen names it.
            self._key = (job.name, job.file_date)
        progress = None if job.completion is None else min(1.0, max(0.0, job.completion / 100))
        self._job = Job(current.job_id, self._key[0], progress)

    def _end(self, outcome: JobOutcome) -> None:
        if self._job is None:
            return
        self._job = None
        self._outcome = outcome

    def _view(
        self, phase: Phase, printer: PrinterStatus | Disconnected | None, job: JobStatus | None
    ) -> ControllerView:
        status = printer if isinstance(printer, PrinterStatus) else None
        alarm = ALARM if phase is Phase.ERROR else None
        return ControllerView(
            _machine_state(phase),
            busy=self._job is not None and _printing(phase, status),
            job=self._job,
            outcome=self._outcome if self._job is None else None,
            alarm=alarm,
            alarm_message=_message(status, job) if alarm else "",
            temperatures=_named(status.temperatures) if status is not None else {},
            metrics=_metrics(status, job),
            firmware=self._firmware,
        )


def _phase(printer: PrinterStatus | Disconnected | None, job: JobStatus | None) -> Phase:
    job_phase = phase_of(job.state) if job is not None else None
    if isinstance(printer, Disconnected):
        # 409: not operational. Only the job document tells an error from a disconnection.
        return Phase.ERROR if job_phase is Phase.ERROR else Phase.OFFLINE
    if isinstance(printer, PrinterStatus):
        return Phase.ERROR if printer.flags.error else phase_of(printer.text)
    return job_phase if job_phase is not None else Phase.OTHER


def _printing(phase: Phase, printer: PrinterStatus | None) -> bool:
    if phase is not Phase.PRINTING:
        return False
    if printer is None:
        return True
    flags = printer.flags
    return flags.printing and not (flags.paused or flags.pausing)


def _machine_state(phase: Phase) -> MachineState:
    if phase is Phase.ERROR:
        return MachineState.ALARM
    if phase is Phase.OFFLINE:
        return MachineState.OFFLINE  # OctoPrint cannot reach the printer: state unknown
    if phase is Phase.IDLE:
        return MachineState.IDLE
    if phase is Phase.PAUSED:
        return MachineState.PAUSED
    return MachineState.RUNNING


def _job_id(counter: int, name: str, date: float | None) -> str:
    stamp = "" if date is None else f"@{int(date)}"
    return f"octoprint-{counter}:{name}{stamp}"


def _message(printer: PrinterStatus | None, job: JobStatus | None) -> str:
    if job is not None and job.error:
        return job.error
    if job is not None and phase_of(job.state) is Phase.ERROR:
        return job.state
    return printer.text if printer is not None else "error"


def _named(readings: tuple[tuple[str, float], ...]) -> dict[str, float]:
    named: dict[str, float] = {}
    for name, value in readings:
        if name in TEMPERATURE_NAMES:
            named[TEMPERATURE_NAMES[name]] = value
        elif name.startswith("tool") and name[4:].isdigit():
            named[f"nozzle{int(name[4:])}"] = value  # the first extruder is plain "nozzle"
    return named


def _metrics(printer: PrinterStatus | None, job: JobStatus | None) -> dict[str, float]:
    targets = dict(printer.targets) if printer is not None else {}
    pairs = (
        ("nozzle_target_c", targets.get("tool0")),
        ("bed_target_c", targets.get("bed")),
        ("print_time_s", job.print_time if job is not None else None),
        ("time_remaining_s", job.print_time_left if job is not None else None),
    )
    return {key: value for key, value in pairs if value is not None}
