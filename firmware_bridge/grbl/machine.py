"""GRBL messages folded into whole `ControllerView`s: spindle-on or laser-firing time, jobs, alarms.

GRBL has no notion of a job: a sender streams lines and the controller runs them. A job here
starts when the controller enters `Run` and ends with `[MSG:Pgm End]` (M2/M30), an alarm, a
reset (the banner), or a long enough `Idle`: senders that wait for each `ok` let the planner
run dry between lines, so a short `Idle` is part of the job. Time comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from firmware_bridge.grbl import parse
from firmware_bridge.grbl.codes import RESET_ALARMS, alarm_text
from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, firmware_name

IDLE_END_S = 5.0
MM_PER_INCH = 25.4

_STATES: Mapping[str, MachineState] = {
    "Idle": MachineState.IDLE,
    "Check": MachineState.IDLE,
    "Sleep": MachineState.IDLE,
    "Run": MachineState.RUNNING,
    "Jog": MachineState.RUNNING,
    "Home": MachineState.RUNNING,
    "Hold": MachineState.PAUSED,
    "Door": MachineState.PAUSED,
    "Tool": MachineState.PAUSED,
    "Alarm": MachineState.ALARM,
}
_PAUSES = frozenset({"Hold", "Door", "Tool"})
_LOCKED = "'$H'|'$X' to unlock"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the controller says it is: banner, `$I` build and options."""

    banner: parse.Welcome | None = None
    version: parse.Version | None = None
    options: parse.Options | None = None

    @property
    def firmware(self) -> str:
        """The firmware as it names itself: `$I`'s build ("Grbl 1.1h.20190830") when known,
        else the banner's ("Grbl 1.1h"); FluidNC speaks its own name only in the note."""
        banner, version = self.banner, self.version
        if version is not None and "FluidNC" in version.version:
            return firmware_name(version.version[version.version.index("FluidNC") :])
        if banner is not None and banner.fluidnc:
            return firmware_name(banner.note[banner.note.index("FluidNC") :].split("'")[0])
        name = banner.name if banner is not None else "Grbl"
        build = version.version if version is not None else banner.version if banner else ""
        return firmware_name(f"{name} {build}") if build or banner else ""


class GrblMachine:
    """One controller's state, fed one parsed message at a time."""

    def __init__(self, laser: bool, idle_end_s: float = IDLE_END_S, prefix: str = "grbl") -> None:
        self.laser = laser
        self.idle_end_s = idle_end_s
        self.prefix = prefix
        self.fingerprint = Fingerprint()
        self._firmware = ""  # kept across resets: the banner alone must not undo `$I`'s detail
        self._grbl_state = ""  # GRBL's own state word, "" before the first report
        self._accessories = ""  # latched `A:` letters
        self._speed = 0.0
        self._feed: float | None = None
        self._overrides: tuple[int, int, int] | None = None
        self.wco: tuple[float, ...] | None = None  # latched: sent only every 10 or 30 reports
        self._job: Job | None = None
        self._jobs_started = 0
        self._outcome: JobOutcome | None = None
        self._idle_since: float | None = None
        self._alarm: str | None = None
        self._alarm_message = ""
        self._settings: dict[str, str] = {}

    def feed(self, parsed: parse.Parsed, now: float) -> ControllerView | None:
        """The view after `parsed` if it told something about the machine, else None."""
        return self.view if self._take(parsed, now) else None

    def _take(self, parsed: parse.Parsed, now: float) -> bool:
        match parsed:
            case parse.Status():
                return self._on_status(parsed, now)
            case parse.Alarm():
                return self._on_alarm(parsed)
            case parse.Welcome():
                return self._on_welcome(parsed)
            case parse.Message():
                return self._on_message(parsed)
            case parse.Setting():
                self._settings[parsed.key] = parsed.value
            case parse.Version():
                self.fingerprint = replace(self.fingerprint, version=parsed)
                return self._identified()
            case parse.Options():
                self.fingerprint = replace(self.fingerprint, options=parsed)
        return False

    @property
    def view(self) -> ControllerView:
        return ControllerView(
            state=self._machine_state(),
            busy=self._busy(),
            job=self._job,
            outcome=self._outcome if self._job is None else None,
            alarm=self._alarm,
            alarm_message=self._alarm_message,
            metrics=self._metrics(),
            firmware=self._firmware,
        )

    def _identified(self) -> bool:
        """Take the fingerprint's name unless it only repeats, less precisely, the one known:
        after a reset the banner says "Grbl 1.1h" where `$I` said "Grbl 1.1h.20190830"."""
        found = self.fingerprint.firmware
        if not found or self._firmware.startswith(found):
            return False
        self._firmware = found
        return True

    # -- messages

    def _on_status(self, parsed: parse.Status, now: float) -> bool:
        self._grbl_state = parsed.state
        self._latch(parsed)
        if parsed.state == "Alarm":
            self._alarm = self._alarm or "grbl_alarm"
            self._alarm_message = self._alarm_message or "Alarm"
            self._end(JobOutcome.ERROR)
        else:
            self._alarm, self._alarm_message = None, ""
            self._follow_job(parsed, now)
        return True

    def _on_alarm(self, parsed: parse.Alarm) -> bool:
        self._grbl_state = "Alarm"
        self._alarm = f"grbl_alarm_{parsed.code}"
        self._alarm_message = alarm_text(parsed.code)
        self._all_off()  # GRBL stops spindle and coolant before it raises any alarm
        reset = parsed.code in RESET_ALARMS
        self._end(JobOutcome.INTERRUPTED if reset else JobOutcome.ERROR)
        return True

    def _on_welcome(self, parsed: parse.Welcome) -> bool:
        self.fingerprint = Fingerprint(banner=parsed)
        self._identified()
        self._all_off()
        self.wco = self._overrides = None
        self._end(JobOutcome.INTERRUPTED)
        if self._grbl_state != "Alarm":  # after ALARM:3 the controller restarts locked
            self._grbl_state = "Idle"
        return True

    def _on_message(self, parsed: parse.Message) -> bool:
        if parsed.text == "Pgm End":
            # M2/M30 wait for the planner to empty before they report: the machine is idle.
            self._grbl_state = "Idle"
            self._all_off()
            return self._end(JobOutcome.COMPLETED)
        if parsed.text == _LOCKED:
            # Printed after a reset that left the machine locked: any job was cut short.
            self._end(JobOutcome.INTERRUPTED)
            self._grbl_state = "Alarm"
            self._alarm = self._alarm or "grbl_alarm_lock"
            self._alarm_message = self._alarm_message or "Locked: home ($H) or unlock ($X)"
            return True
        return False

    # -- latched fields

    def _latch(self, status: parse.Status) -> None:
        if status.accessories is not None:
            self._accessories = status.accessories
        elif status.overrides is not None:
            # `A:` rides with `Ov:` and is left out when everything is off (gnea/grbl#1242).
            self._accessories = ""
        if status.overrides is not None:
            self._overrides = status.overrides
        if status.wco is not None:
            self.wco = status.wco
        if status.feed is not None:
            self._feed = status.feed
        if status.speed is not None:
            self._speed = status.speed

    def _all_off(self) -> None:
        self._accessories = ""
        self._speed = 0.0
        self._feed = 0.0 if self._feed is not None else None

    # -- jobs

    def _follow_job(self, status: parse.Status, now: float) -> None:
        if self._job is None and status.state == "Run":
            self._start(now)
        if self._job is None:
            return
        if status.state != "Idle":
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self.idle_end_s:
            self._end(JobOutcome.COMPLETED)
            return
        if status.sd is not None and status.sd.percent is not None:
            name = status.sd.name or self._job.name
            self._job = Job(self._job.job_id, name, status.sd.percent / 100.0)

    def _start(self, now: float) -> None:
        self._jobs_started += 1
        self._job = Job(f"{self.prefix}-{self._jobs_started}-{now:.3f}")
        self._outcome = None
        self._idle_since = None

    def _end(self, outcome: JobOutcome) -> bool:
        if self._job is None:
            return False
        self._job = None
        self._outcome = outcome
        self._idle_since = None
        return True

    # -- view

    def _machine_state(self) -> MachineState:
        state = _STATES.get(self._grbl_state, MachineState.OFFLINE)
        if state is MachineState.PAUSED and self._job is None:
            return MachineState.IDLE  # a door opened or a hold between jobs pauses nothing
        return state

    def _busy(self) -> bool:
        if self.laser:
            # In laser mode the output is off during G0, scaled in M4 and zeroed when stopped,
            # and M3 fires even at rest (focusing), so the real-time speed is what fires.
            return self._speed > 0
        # FluidNC reports the modal S after M5 (bdring/FluidNC#1483): only `A:` tells there.
        spinning = self._speed > 0 and not self._fluidnc
        return spinning or "S" in self._accessories or "C" in self._accessories

    @property
    def _fluidnc(self) -> bool:
        banner = self.fingerprint.banner
        return banner is not None and banner.fluidnc

    def _metrics(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        inches = self._settings.get("13", "0") == "1"
        if self._feed is not None:
            metrics["feed_mm_min"] = self._feed * (MM_PER_INCH if inches else 1.0)
        if self.laser:
            metrics["laser_power"] = self._speed
            metrics.update(self._laser_percent())
        else:
            metrics["spindle_rpm"] = self._speed
        if self._overrides is not None:
            feed, rapid, spindle = self._overrides
            metrics["feed_override_pct"] = float(feed)
            metrics["rapid_override_pct"] = float(rapid)
            metrics["spindle_override_pct"] = float(spindle)
        return metrics

    def _laser_percent(self) -> dict[str, float]:
        # S is relative to $30, the maximum; known only if someone printed the settings.
        try:
            maximum = float(self._settings.get("30", ""))
        except ValueError:
            return {}
        if not 0 < maximum < float("inf"):
            return {}
        return {"laser_power_pct": 100.0 * self._speed / maximum}
