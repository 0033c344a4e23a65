"""Busy time, energy, job start and end, and the power interlock, from what adapters report.

Pure: every input carries its `Instant` (wall time for the records, monotonic time for the
arithmetic), every call returns what changed. The follower feeds it from the adapters' threads
under one lock; the edge turns its outputs into events, telemetry and the session machine's
`JobChanged`.

The interlock follows the edge session rules: power may go only when no job runs, the machine
is not working, it has stayed quiet (below its idle power, with a meter) for the cool-down, and
the telemetry saying so is fresh. Anything unknown holds the power.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from firmware_bridge.model import ControllerView, Job, JobOutcome, MachineState, MeterReading

STALE_ALARM = "bridge_telemetry_stale"
_METRIC_UNSAFE = re.compile(r"[^a-z0-9_]+")


class Interlock(StrEnum):
    CLEAR = "clear"  # power may go
    HOLD = "hold"  # a job runs, the machine works, or it cools down
    UNKNOWN = "unknown"  # no fresh telemetry: hold, and say so


@dataclass(frozen=True, slots=True)
class Instant:
    at: datetime
    mono: float


@dataclass(frozen=True, slots=True)
class Limits:
    """Per machine. `cooldown_s`: quiet time after a job before power may go (a laser's
    exhaust, a spindle's run-down). `idle_power_w`: with a meter, power above it restarts the
    cool-down. `busy_power_w`: a machine with a meter and no controller works above it."""

    stale_after_s: float = 15.0
    cooldown_s: float = 0.0
    idle_power_w: float | None = None
    busy_power_w: float | None = None


@dataclass(frozen=True, slots=True)
class JobBegan:
    job: Job
    at: Instant


@dataclass(frozen=True, slots=True)
class JobFinished:
    job: Job
    outcome: JobOutcome
    started: Instant
    ended: Instant
    busy_s: float
    energy_wh: float | None


@dataclass(frozen=True, slots=True)
class InterlockChanged:
    interlock: Interlock


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    code: str
    severity: str  # "info", "warning", "critical"
    message: str
    active: bool


@dataclass(frozen=True, slots=True)
class FirmwareIdentified:
    """The controller named its firmware for the first time, or a new one (an update)."""

    firmware: str


Output = JobBegan | JobFinished | InterlockChanged | AlarmChanged | FirmwareIdentified


@dataclass(slots=True)
class _Running:
    job: Job
    started: Instant
    busy_at_start: float
    energy_at_start: float


@dataclass(slots=True)
class Totals:
    busy_s: float = 0.0
    energy_wh: float = 0.0


@dataclass
class Tracker:
    limits: Limits
    has_controller: bool = True
    has_meter: bool = False
    totals: Totals = field(default_factory=Totals)
    view: ControllerView | None = None
    meter: MeterReading | None = None
    interlock: Interlock = Interlock.UNKNOWN
    firmware: str = ""  # the latest the controller named: kept while it reboots unnamed
    _view_mono: float | None = None
    _meter_mono: float | None = None
    _last_mono: float | None = None
    _busy: bool = False
    _running: _Running | None = None
    _quiet_since: float = -math.inf
    _powered_since: float | None = None
    _alarms: dict[str, bool] = field(default_factory=dict)
    _jobs_seen: int = 0

    def __post_init__(self) -> None:
        if not self.has_controller:
            self.has_meter = True  # a meter alone is the whole story

    # ------------------------------------------------------------ inputs

    def on_view(self, view: ControllerView, now: Instant) -> list[Output]:
        self._advance(now.mono)
        out = self._jobs(self.view, view, now)
        out += self._controller_alarm(view)
        out += self._firmware(view)
        self.view, self._view_mono = view, now.mono
        if self.has_controller:
            self._busy = view.busy
        self._note_work(now.mono)
        return out + self._settle(now)

    def on_meter(self, reading: MeterReading, now: Instant) -> list[Output]:
        self._advance(now.mono)
        self._count_energy(reading, now.mono)
        self.meter, self._meter_mono = reading, now.mono
        out: list[Output] = []
        if not self.has_controller:
            out = self._meter_only_work(reading, now)
        self._note_work(now.mono)
        idle_w = self.limits.idle_power_w
        if idle_w is not None and reading.power_w >= idle_w and self._quiet_since != math.inf:
            self._quiet_since = now.mono  # still drawing power: the cool-down starts again
        return out + self._settle(now)

    def _meter_only_work(self, reading: MeterReading, now: Instant) -> list[Output]:
        # Without a controller, a job is a stretch of time above the machine's working power.
        threshold = self.limits.busy_power_w
        self._busy = threshold is not None and reading.power_w >= threshold
        job = self.job
        if self._busy and job is None:
            self._jobs_seen += 1
            job = Job(job_id=f"power-{now.at:%Y%m%dT%H%M%S}-{self._jobs_seen}")
        view = ControllerView(
            state=MachineState.RUNNING if self._busy else MachineState.IDLE,
            busy=self._busy,
            job=job if self._busy else None,
            outcome=None if self._busy else JobOutcome.COMPLETED,
        )
        return self._jobs(None, view, now)

    def _note_work(self, mono: float) -> None:
        if self._working():
            self._quiet_since = math.inf
        elif self._quiet_since == math.inf:
            self._quiet_since = mono  # the work just stopped: the cool-down starts

    def on_offline(self, now: Instant, *, meter: bool = False) -> list[Output]:
        """A link is gone: what it said goes stale at once; a job stays open, since the
        controller may still be running it (an SD print does not need the host)."""
        self._advance(now.mono)
        if meter:
            self._meter_mono = None
        else:
            self._view_mono = None
        return self._settle(now)

    def on_power(self, on: bool, now: Instant) -> list[Output]:
        """The relay closed or opened: a controller powered by it needs time to boot."""
        self._advance(now.mono)
        self._powered_since = now.mono if on else None
        return self._settle(now)

    def tick(self, now: Instant) -> list[Output]:
        self._advance(now.mono)
        return self._settle(now)

    # ------------------------------------------------------------ reading

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def job(self) -> Job | None:
        return None if self._running is None else self._running.job

    def fresh(self, mono: float) -> bool:
        stamp = self._view_mono if self.has_controller else self._meter_mono
        return stamp is not None and mono - stamp <= self.limits.stale_after_s

    def state(self, mono: float) -> MachineState:
        if not self.fresh(mono):
            return MachineState.OFFLINE
        if self.has_controller and self.view is not None:
            return self.view.state
        return MachineState.RUNNING if self._busy else MachineState.IDLE

    def metrics(self) -> dict[str, float]:
        """Telemetry numbers, with the unit in each name as the contract asks."""
        found: dict[str, float] = {
            "busy_s_total": round(self.totals.busy_s, 3),
            "energy_wh_total": round(self.totals.energy_wh, 3),
        }
        if self.meter is not None:
            found |= _meter_metrics(self.meter)
        if self.view is not None:
            found |= _view_metrics(self.view)
        return {name: value for name, value in found.items() if math.isfinite(value)}

    # ------------------------------------------------------------ internals

    def _advance(self, mono: float) -> None:
        """Count busy time up to `mono`, but never past what fresh telemetry vouches for."""
        last, self._last_mono = self._last_mono, mono
        if last is None or mono <= last or not self._busy:
            return
        stamp = self._view_mono if self.has_controller else self._meter_mono
        if stamp is None:
            return
        vouched_until = stamp + self.limits.stale_after_s
        self.totals.busy_s += max(0.0, min(mono, vouched_until) - last)

    def _count_energy(self, reading: MeterReading, mono: float) -> None:
        previous, since = self.meter, self._meter_mono
        if (
            reading.energy_wh is not None
            and previous is not None
            and previous.energy_wh is not None
        ):
            # Meters reset on reboot and wrap: only rises count, a fall is a new baseline.
            self.totals.energy_wh += max(0.0, reading.energy_wh - previous.energy_wh)
        elif reading.energy_wh is None and previous is not None and since is not None:
            hours = min(mono - since, self.limits.stale_after_s) / 3600
            self.totals.energy_wh += max(0.0, previous.power_w) * hours

    def _jobs(self, _old: ControllerView | None, new: ControllerView, now: Instant) -> list[Output]:
        out: list[Output] = []
        running = self._running
        if running is not None and (new.job is None or new.job.job_id != running.job.job_id):
            out.append(self._finish(running, new, now))
            self._running = None
        if new.job is not None and self._running is None:
            self._running = _Running(new.job, now, self.totals.busy_s, self.totals.energy_wh)
            out.append(JobBegan(new.job, now))
        elif new.job is not None and self._running is not None:
            self._running.job = new.job  # progress and name move on; the id stays
        return out

    def _finish(self, running: _Running, new: ControllerView, now: Instant) -> JobFinished:
        outcome = new.outcome
        if outcome is None:
            outcome = JobOutcome.ERROR if new.state is MachineState.ALARM else JobOutcome.COMPLETED
            if new.job is not None:
                outcome = JobOutcome.INTERRUPTED  # another job replaced it unannounced
        energy = self.totals.energy_wh - running.energy_at_start if self.has_meter else None
        return JobFinished(
            job=running.job,
            outcome=outcome,
            started=running.started,
            ended=now,
            busy_s=round(self.totals.busy_s - running.busy_at_start, 3),
            energy_wh=None if energy is None else round(energy, 3),
        )

    def _controller_alarm(self, view: ControllerView) -> list[Output]:
        code = view.alarm
        previous = self.view.alarm if self.view is not None else None
        out: list[Output] = []
        if previous is not None and previous != code:
            cleared = "the controller cleared the alarm"
            out += self._alarm(_metric_name(previous), "info", cleared, False)
        if code is not None and code != previous:
            message = view.alarm_message or f"controller alarm {code}"
            out += self._alarm(_metric_name(code), "critical", message, True)
        return out

    def _alarm(self, code: str, severity: str, message: str, active: bool) -> list[Output]:
        if self._alarms.get(code, False) == active:
            return []
        self._alarms[code] = active
        return [AlarmChanged(code, severity, message[:500], active)]

    def _firmware(self, view: ControllerView) -> list[Output]:
        if not view.firmware or view.firmware == self.firmware:
            return []
        self.firmware = view.firmware
        return [FirmwareIdentified(view.firmware)]

    def _working(self) -> bool:
        view = self.view
        running = view is not None and (
            view.job is not None or view.state in (MachineState.RUNNING, MachineState.PAUSED)
        )
        return self._busy or (self.has_controller and running)

    def _settle(self, now: Instant) -> list[Output]:
        out = self._stale_alarm(now.mono)
        interlock = self._decide(now.mono)
        if interlock is not self.interlock:
            self.interlock = interlock
            out.append(InterlockChanged(interlock))
        return out

    def _decide(self, mono: float) -> Interlock:
        if not self.fresh(mono):
            return Interlock.UNKNOWN
        if self._working():
            return Interlock.HOLD
        if self.has_meter and self.meter is not None and not self._meter_fresh(mono):
            return Interlock.UNKNOWN  # the cool-down needs the meter to vouch for quiet
        quiet_for = mono - self._quiet_since
        return Interlock.CLEAR if quiet_for >= self.limits.cooldown_s else Interlock.HOLD

    def _meter_fresh(self, mono: float) -> bool:
        stamp = self._meter_mono
        return stamp is not None and mono - stamp <= self.limits.stale_after_s

    def _stale_alarm(self, mono: float) -> list[Output]:
        # Only a powered machine owes telemetry; a controller fed by the relay is silent
        # when the relay is open, and needs its boot time when it closes.
        since = self._powered_since
        owed = since is not None and mono - since > self.limits.stale_after_s
        stale = owed and not self.fresh(mono)
        if stale == self._alarms.get(STALE_ALARM, False):
            return []
        message = (
            "no fresh telemetry from the machine's controller: power stays on"
            if stale
            else "telemetry from the machine's controller is back"
        )
        return self._alarm(STALE_ALARM, "warning" if stale else "info", message, stale)


def _meter_metrics(meter: MeterReading) -> dict[str, float]:
    found = {"power_w": meter.power_w}
    if meter.voltage_v is not None:
        found["voltage_v"] = meter.voltage_v
    if meter.current_a is not None:
        found["current_a"] = meter.current_a
    return found


def _view_metrics(view: ControllerView) -> dict[str, float]:
    found = {_metric_name(name): value for name, value in view.metrics.items()}
    for sensor, celsius in view.temperatures.items():
        found[_metric_name(f"temp_{sensor}_c")] = celsius
    if view.job is not None and view.job.progress is not None:
        found["progress_pct"] = round(view.job.progress * 100, 2)
    return found


def _metric_name(raw: str) -> str:
    name = _METRIC_UNSAFE.sub("_", raw.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = "m_" + name
    return name[:64]
