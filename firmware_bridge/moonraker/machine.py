"""Moonraker messages folded into whole `ControllerView`s.

Klipper's objects arrive once whole (the subscribe result) and then as deltas, so the machine
keeps an overlay of the subscribed objects and derives every view from it:

- `print_stats.state` standby, printing, paused, complete, error or cancelled. Its values
  persist after a job until the next one, so a job ends on a *transition* into complete,
  error or cancelled, never on the state itself (a bridge started after a print sees
  `complete` and reports no job). Vendor forks add states (`heating`, `extracting`...): they
  are RUNNING but not printing.
- `idle_timeout.state == "Printing"` while print_stats says standby is a macro, homing or a
  calibration: RUNNING (the machine must not lose power) but not a print, hence not busy.
- Klippy `shutdown` (emergency stop, thermal runaway, MCU error) is an ALARM and ends a running
  job with ERROR; `disconnected`/`startup` mean the controller is not there: OFFLINE, and a
  running job ends INTERRUPTED (a firmware restart kills the print).
- A job takes Moonraker's history id (`notify_history_changed` "added", or the in-progress
  entry of `server.history.list` on connect) when it is known when the job starts, else the
  file name and a counter. The id never changes during a job, because the tracker reads a new
  id as a new job.
"""

from __future__ import annotations

from collections.abc import Mapping

from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, firmware_name
from firmware_bridge.moonraker.parse import (
    HistoryChanged,
    HistoryEntry,
    HistoryList,
    KlippyEvent,
    Message,
    PrinterInfo,
    ServerInfo,
    Status,
    StatusSnapshot,
    StatusUpdate,
    number,
)

# The objects a view is made of; `MoonrakerLink` subscribes to exactly these.
OBJECTS = ("print_stats", "idle_timeout", "virtual_sdcard", "extruder", "heater_bed", "webhooks")

JOB_STATES = frozenset({"printing", "paused"})
ENDINGS = {
    "complete": JobOutcome.COMPLETED,
    "cancelled": JobOutcome.CANCELLED,
    "error": JobOutcome.ERROR,
}
IDLE_STATES = frozenset({"standby", *ENDINGS})
HISTORY_OUTCOMES = {
    "completed": JobOutcome.COMPLETED,
    "cancelled": JobOutcome.CANCELLED,
    "error": JobOutcome.ERROR,
    "klippy_shutdown": JobOutcome.ERROR,
}
ALARM_STATES = frozenset({"shutdown", "error"})
ABSENT_STATES = frozenset({"disconnected", "startup"})


class MoonrakerMachine:
    """Pure: messages in, views out. One per followed printer, kept across reconnections."""

    def __init__(self) -> None:
        self._status: dict[str, dict[str, object]] = {}
        self._klippy = ""  # unknown until server.info, a notification or webhooks says
        self._job: Job | None = None
        self._job_history_id: str | None = None
        self._outcome: JobOutcome | None = None
        self._pending_history: HistoryEntry | None = None  # an in-progress entry not yet used
        self._last_job_id: str | None = None
        # History said the job ended before print_stats left `printing`: wait for it to.
        self._ended_early = False
        self._counter = 0
        self._firmware = ""  # from printer.info; kept while Klipper restarts

    def feed(self, message: Message) -> ControllerView:
        """Apply one message and return the view after it."""
        self._apply(message)
        self._follow_job()
        return self.view()

    # -- applying messages -------------------------------------------------------------

    def _apply(self, message: Message) -> None:
        if isinstance(message, StatusSnapshot):
            self._status = {name: dict(fields) for name, fields in message.status.items()}
            self._overlaid(message.status)
        elif isinstance(message, StatusUpdate):
            for name, fields in message.changes.items():
                self._status.setdefault(name, {}).update(fields)
            self._overlaid(message.changes)
        elif isinstance(message, KlippyEvent | ServerInfo):
            self._set_klippy(
                message.state if isinstance(message, KlippyEvent) else message.klippy_state
            )
        elif isinstance(message, HistoryChanged):
            self._history(message)
        elif isinstance(message, HistoryList):
            self._history_list(message)
        elif isinstance(message, PrinterInfo):
            self._firmware = firmware_name(f"Klipper {message.software_version}") or self._firmware

    def _overlaid(self, frame: Status) -> None:
        # A field set to null is gone: the overlay keeps only fields with a value.
        for fields in self._status.values():
            for key in [key for key, value in fields.items() if value is None]:
                del fields[key]
        # Only a frame that carries webhooks.state says Klippy's state: an older one left in
        # the overlay must not undo a notify_klippy_shutdown received since.
        state = frame.get("webhooks", {}).get("state")
        if isinstance(state, str):
            self._klippy = state

    def _set_klippy(self, state: str) -> None:
        self._klippy = state
        if state == "disconnected":
            # Klipper's objects died with it; a fresh subscription will bring the new ones.
            self._status = {}

    def _history(self, message: HistoryChanged) -> None:
        entry = message.job
        if message.action == "added":
            self._pending_history = entry
            self._ended_early = False
        elif message.action == "finished" and entry.job_id == self._job_history_id:
            # Covers a transition the status frames did not show, or have not shown yet.
            self._end(HISTORY_OUTCOMES.get(entry.status, JobOutcome.INTERRUPTED))
            self._ended_early = True

    def _history_list(self, message: HistoryList) -> None:
        running = [entry for entry in message.jobs if entry.status == "in_progress"]
        if not running:
            return
        entry = running[0]
        if self._job is not None and self._job_history_id not in (None, entry.job_id):
            # The job followed before a disconnection ended and another started meanwhile.
            self._end(JobOutcome.INTERRUPTED)
        if self._job is None:
            self._pending_history = entry

    # -- job identity ------------------------------------------------------------------

    def _follow_job(self) -> None:
        if self._klippy in ALARM_STATES:
            self._end(JobOutcome.ERROR)
            return
        if self._klippy in ABSENT_STATES:
            self._end(JobOutcome.INTERRUPTED)
            return
        state = self._print_state()
        filename = self._filename()
        if state not in JOB_STATES:
            self._ended_early = False
        elif self._ended_early:
            return  # the `printing` still shown belongs to the job history already ended
        if state in JOB_STATES:
            if self._job is not None and filename and filename != self._job.name:
                self._end(JobOutcome.INTERRUPTED)  # another file: the old job is over
            if self._job is None:
                self._start(filename)
            else:
                self._job = Job(self._job.job_id, self._job.name, self._progress())
        elif state in ENDINGS:
            self._end(ENDINGS[state])
        elif state == "standby":
            self._end(JobOutcome.INTERRUPTED)  # reset without an ending seen
        # any other (vendor) state keeps the job as it is

    def _start(self, filename: str) -> None:
        pending = self._pending_history
        self._pending_history = None
        if (
            pending is not None
            and pending.filename in ("", filename)
            and pending.job_id != self._last_job_id  # an entry already followed to its end
        ):
            job_id = pending.job_id
            self._job_history_id = job_id
        else:
            self._counter += 1
            job_id = f"{filename or 'job'}#{self._counter}"
            self._job_history_id = None
        self._job = Job(job_id, filename, self._progress())
        self._last_job_id = job_id
        self._outcome = None

    def _end(self, outcome: JobOutcome) -> None:
        if self._job is None:
            return
        self._job = None
        self._job_history_id = None
        self._outcome = outcome

    # -- the view ----------------------------------------------------------------------

    def view(self) -> ControllerView:
        temperatures, metrics = self._readings()
        state, alarm = self._machine_state()
        return ControllerView(
            state,
            busy=self._job is not None and self._print_state() == "printing",
            job=self._job,
            outcome=self._outcome if self._job is None else None,
            alarm=alarm,
            alarm_message=self._alarm_message() if alarm else "",
            temperatures=temperatures,
            metrics=metrics,
            firmware=self._firmware,
        )

    def _alarm_message(self) -> str:
        # `notify_klippy_shutdown` comes before the status frame that says why.
        if self._text("webhooks", "state") != self._klippy:
            return ""
        return self._text("webhooks", "state_message")

    def _machine_state(self) -> tuple[MachineState, str | None]:
        if self._klippy in ALARM_STATES:
            return MachineState.ALARM, f"klippy_{self._klippy}"
        if self._klippy in ABSENT_STATES or not self._status:
            return MachineState.OFFLINE, None  # nothing known of the printer yet
        state = self._print_state()
        if self._job is not None:
            return (MachineState.PAUSED if state == "paused" else MachineState.RUNNING), None
        if state not in IDLE_STATES or self._text("idle_timeout", "state") == "Printing":
            return MachineState.RUNNING, None
        return MachineState.IDLE, None

    def _readings(self) -> tuple[dict[str, float], dict[str, float]]:
        temperatures: dict[str, float] = {}
        metrics: dict[str, float] = {}
        for name, key in (("extruder", "nozzle"), ("heater_bed", "bed")):
            current = self._number(name, "temperature")
            target = self._number(name, "target")
            if current is not None:
                temperatures[key] = current
            if target is not None:
                metrics[f"{key}_target_c"] = target
        for field, metric in (
            ("print_duration", "print_duration_s"),
            ("total_duration", "total_duration_s"),
            ("filament_used", "filament_used_mm"),
        ):
            value = self._number("print_stats", field)
            if value is not None:
                metrics[metric] = value
        return temperatures, metrics

    def _print_state(self) -> str:
        return self._text("print_stats", "state") or "standby"

    def _filename(self) -> str:
        return self._text("print_stats", "filename")

    def _progress(self) -> float | None:
        progress = self._number("virtual_sdcard", "progress")
        return None if progress is None else min(1.0, max(0.0, progress))

    def _text(self, name: str, field: str) -> str:
        value = self._object(name).get(field)
        return value if isinstance(value, str) else ""

    def _number(self, name: str, field: str) -> float | None:
        return number(self._object(name).get(field))

    def _object(self, name: str) -> Mapping[str, object]:
        return self._status.get(name, {})
