"""A GRBL 1.1h controller on a pseudo-terminal, for tests and `machinerie bridge simulate grbl`.

It answers the wire as the firmware documents it (gnea/grbl `doc/markdown/interface.md`):
`?` is a single real-time byte and two of them before a report give one report; `WCO:`
comes on the first report after reset and every 10 (idle) or 30 (busy) reports, `Ov:` every
10 or 20 reports, one report after `WCO:` and right after a spindle change, and `A:` only
with `Ov:` and only when something is on; nothing answers `?` during homing or after a limit
alarm. A job is a program of G0 travels and G1 cuts; `jobs` keeps the truth about each one.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

from firmware_bridge.errors import BridgeError
from firmware_bridge.grbl.codes import RESET_ALARMS
from firmware_bridge.model import JobOutcome
from firmware_bridge.simport import PtyServer

BANNER = "Grbl 1.1h ['$' for help]"
VERSION = "[VER:1.1h.20190830:]"
OPTIONS = "[OPT:V,15,128]"
HOLD_DECELERATION_S = 0.1
HOME_S = 2.0
CYCLE_S = 1.0  # one G0 travel and one G1 cut
TRAVEL_SHARE = 0.3
RAMP_SHARE = 0.1  # of a cut, at each end, where M4 scales the laser power down with speed
MILL_RPM = 12000.0
LASER_S = 1000.0
RAPID_MM_MIN = 3000.0
CUT_MM_MIN = 800.0
MAX_LINE = 80
_CRITICAL_ALARMS = frozenset({1, 2})  # limit alarms: "Reset to continue", no reports


@dataclass
class JobTruth:
    """What really happened during one job, on the simulator's clock."""

    name: str
    start: float
    end: float | None = None
    outcome: JobOutcome | None = None
    busy_s: float = 0.0  # spindle on (mill) or laser firing (laser)


@dataclass(frozen=True, slots=True)
class Segment:
    cut: bool  # G1 (True) or G0 (False)
    duration_s: float


def program(duration_s: float) -> list[Segment]:
    """G0 travels and G1 cuts filling `duration_s`: a laser fires less than it runs."""
    segments: list[Segment] = []
    left = duration_s
    while left > 1e-9:
        for cut, share in ((False, TRAVEL_SHARE), (True, 1.0 - TRAVEL_SHARE)):
            length = min(left, CYCLE_S * share)
            if length > 1e-9:
                segments.append(Segment(cut, length))
            left -= length
    return segments


@dataclass
class _Cadence:
    """When `WCO:` and `Ov:` ride along, as GRBL's refresh counters decide."""

    wco_left: int = 0
    ov_left: int = 0

    def next(self, busy: bool) -> tuple[bool, bool]:
        show_wco = self.wco_left == 0
        self.wco_left = (30 if busy else 10) - 1 if show_wco else self.wco_left - 1
        if self.ov_left > 0:
            self.ov_left -= 1
            return show_wco, False
        if show_wco:  # delayed by one report
            return True, False
        self.ov_left = (20 if busy else 10) - 1
        return False, True


@dataclass
class _Run:
    segments: list[Segment]
    index: int = 0
    elapsed: float = 0.0

    @property
    def segment(self) -> Segment | None:
        return self.segments[self.index] if self.index < len(self.segments) else None


class GrblSimulator:
    """A `SerialDevice` behaving as GRBL 1.1h on a mill (M3) or a laser in laser mode (M4)."""

    def __init__(self, laser: bool = False) -> None:
        self.laser = laser
        self.jobs: list[JobTruth] = []
        self.host_bytes: Counter[int] = Counter()  # every byte the host wrote
        self.host_lines: deque[str] = deque(maxlen=100)
        self.state = "Idle"
        self.hold_sub = 0
        self.now = 0.0
        self._last: float | None = None
        self._out = bytearray()
        self._rx = bytearray()
        self._run: _Run | None = None
        self._spindle_on = False
        self._spindle_stopped = False  # the spindle stop override, allowed only in a hold
        self._hold_done_at = 0.0
        self._stop_when_held = False
        self._homing_until: float | None = None
        self._homing_ok = False
        self._queued: list[str] = []
        self._report_wanted = False
        self._critical = False
        self._cadence = _Cadence()
        self._x = 0.0
        self._autoplay: tuple[float, float] | None = None
        self._autoplay_at: float | None = None

    # -- SerialDevice

    def receive(self, data: bytes) -> None:
        self.host_bytes.update(data)
        for byte in data:
            self._byte(byte)

    def tick(self, now: float) -> None:
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = self.now = now
        self._advance(dt)
        if self._report_wanted and self._homing_until is None and not self._critical:
            self._report_wanted = False
            self._send(self.report())

    def take_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- driving API (hold the server's lock while calling these from another thread)

    def start_job(self, name: str, duration_s: float) -> JobTruth:
        """Run a program of `duration_s` seconds of motion, as if a sender streamed it."""
        if self.state != "Idle":
            raise BridgeError(f"cannot start a job in state {self.state}")
        self._run = _Run(program(duration_s))
        self._set_spindle(on=True)
        self.state = "Run"
        truth = JobTruth(name, self.now)
        self.jobs.append(truth)
        return truth

    def hold(self, stop_spindle: bool = True) -> None:
        """Feed hold (`!`); `stop_spindle` also presses spindle stop once the hold completes,
        as an operator does before reaching into a mill."""
        if self.state != "Run":
            return
        self.state, self.hold_sub = "Hold", 1
        self._hold_done_at = self.now + HOLD_DECELERATION_S
        self._stop_when_held = stop_spindle and not self.laser

    def resume(self) -> None:
        """Cycle start (`~`)."""
        if self.state != "Hold":
            return
        if self._spindle_stopped:
            self._send("[MSG:Restoring spindle]")
        self._spindle_stopped = False
        self._cadence.ov_left = 0
        self.state, self.hold_sub = "Run", 0

    def alarm(self, code: int) -> None:
        """Raise `ALARM:code`; a limit alarm (1, 2) also locks reports until a reset."""
        self._send(f"ALARM:{code}")
        if code in _CRITICAL_ALARMS:
            self._send("[MSG:Reset to continue]")
            self._critical = True
        self._abort(JobOutcome.INTERRUPTED if code in RESET_ALARMS else JobOutcome.ERROR)
        self.state = "Alarm"

    def unlock(self) -> None:
        """`$X` typed by the operator after an alarm."""
        for reply in self._unlock():
            self._send(reply)

    def home(self, duration_s: float = HOME_S) -> None:
        """A homing cycle: the controller answers nothing until it ends."""
        if self.state not in {"Idle", "Alarm"}:
            raise BridgeError(f"cannot home in state {self.state}")
        self.state = "Home"
        self._homing_until = self.now + duration_s

    def reset(self) -> None:
        """Soft reset (`0x18`): `ALARM:3` if moving, then the banner."""
        moving = self.state in {"Run", "Jog", "Home"} or (self.state == "Hold" and self.hold_sub)
        if moving:
            self._send("ALARM:6" if self.state == "Home" else "ALARM:3")
        locked = moving or self.state == "Alarm"
        self._abort(JobOutcome.INTERRUPTED)
        self._homing_until, self._queued, self._critical = None, [], False
        self._report_wanted = False
        self._cadence = _Cadence()
        self._send(BANNER)
        self.state = "Alarm" if locked else "Idle"
        if locked:
            self._send("[MSG:'$H'|'$X' to unlock]")

    def autoplay(self, every_s: float, duration_s: float) -> None:
        """Start a job of `duration_s` whenever the machine has been idle for `every_s`."""
        self._autoplay = (every_s, duration_s)
        self._autoplay_at = None

    # -- wire

    def report(self) -> str:
        busy = self.state in {"Run", "Hold", "Jog", "Home", "Door"}
        show_wco, show_ov = self._cadence.next(busy)
        state = f"Hold:{self.hold_sub}" if self.state == "Hold" else self.state
        fields = [
            state,
            f"MPos:{self._x:.3f},0.000,0.000",
            f"FS:{self._feed():.0f},{self._speed():.0f}",
        ]
        if show_wco:
            fields.append("WCO:0.000,0.000,0.000")
        if show_ov:
            fields.append("Ov:100,100,100")
            if self._accessories():
                fields.append(f"A:{self._accessories()}")
        return "<" + "|".join(fields) + ">"

    def _byte(self, byte: int) -> None:
        realtime = {ord("?"): self._want_report, ord("!"): self.hold, ord("~"): self.resume}
        if byte in realtime:
            realtime[byte]()
        elif byte == 0x18:
            self.reset()
        elif byte == 0x9E:
            self._toggle_spindle_stop()
        elif byte in b"\r\n":
            self._line(self._rx.decode("ascii", "replace"))
            self._rx.clear()
        elif byte < 0x80 and len(self._rx) <= MAX_LINE:
            self._rx.append(byte)

    def _want_report(self) -> None:
        self._report_wanted = True

    def _line(self, line: str) -> None:
        self.host_lines.append(line)
        if self._homing_until is not None:
            self._queued.append(line)  # GRBL reads no line until homing ends
            return
        for reply in self._answer(line.strip()):
            self._send(reply)

    def _answer(self, line: str) -> list[str]:
        if len(line) > MAX_LINE:
            return ["error:11"]
        commands = {"$I": [VERSION, OPTIONS], "$$": self._settings(), "$G": [self._modal()]}
        if line in commands:
            return [*commands[line], "ok"]
        actions = {"$X": self._unlock, "$H": self._home_command}
        if line in actions:
            return actions[line]()
        if line.startswith("$"):
            return ["error:3"]
        return ["error:9"] if line and self.state == "Alarm" else ["ok"]

    def _home_command(self) -> list[str]:
        if self.state not in {"Idle", "Alarm"}:
            return ["error:8"]
        self.home()
        self._homing_ok = True  # `ok` comes once homing is over
        return []

    def _unlock(self) -> list[str]:
        if self.state != "Alarm" or self._critical:
            return ["ok"] if self.state != "Alarm" else ["error:9"]
        self.state = "Idle"
        return ["[MSG:Caution: Unlocked]", "ok"]

    def _settings(self) -> list[str]:
        laser_max = LASER_S if self.laser else MILL_RPM
        return [
            "$10=1",
            "$13=0",
            "$22=0",
            f"$30={laser_max:.0f}",
            "$31=0",
            f"$32={int(self.laser)}",
        ]

    def _modal(self) -> str:
        spindle = ("M4" if self.laser else "M3") if self._spindle_on else "M5"
        motion = "G1" if self._cutting() else "G0"
        return (
            f"[GC:{motion} G54 G17 G21 G90 G94 {spindle} M9 T0 F{CUT_MM_MIN:.0f} S{self._s():.0f}]"
        )

    def _send(self, line: str) -> None:
        self._out += line.encode("ascii") + b"\r\n"

    # -- time

    def _advance(self, dt: float) -> None:
        self._finish_homing()
        if self.state == "Hold" and self.hold_sub and self.now >= self._hold_done_at:
            self.hold_sub = 0
            if self._stop_when_held:
                self._toggle_spindle_stop()
        if self._run is not None:
            self._follow_program(dt)
        self._maybe_autoplay()

    def _follow_program(self, dt: float) -> None:
        truth = self.jobs[-1]
        while dt > 0 and self._run is not None and self._run.segment is not None:
            segment = self._run.segment
            step = dt if self.state != "Run" else min(dt, segment.duration_s - self._run.elapsed)
            if self._busy():
                truth.busy_s += step
            dt -= step
            if self.state == "Run":
                self._move(segment, step)
        if self._run is not None and self._run.segment is None:
            self._complete(truth, self.now - dt)

    def _move(self, segment: Segment, step: float) -> None:
        assert self._run is not None
        self._x = (self._x + self._feed() / 60.0 * step) % 300.0
        self._run.elapsed += step
        if self._run.elapsed >= segment.duration_s - 1e-9:
            self._run.index, self._run.elapsed = self._run.index + 1, 0.0

    def _complete(self, truth: JobTruth, at: float) -> None:
        # M30 reports only once the planner has emptied, and turns the spindle off.
        self._send("[MSG:Pgm End]")
        truth.end, truth.outcome = at, JobOutcome.COMPLETED
        self._run = None
        self._set_spindle(on=False)
        self.state = "Idle"

    def _abort(self, outcome: JobOutcome) -> None:
        if self._run is not None and self.jobs and self.jobs[-1].end is None:
            self.jobs[-1].end, self.jobs[-1].outcome = self.now, outcome
        self._run = None
        self._set_spindle(on=False)
        self.hold_sub = 0

    def _finish_homing(self) -> None:
        if self._homing_until is None or self.now < self._homing_until:
            return
        self._homing_until, self._x = None, 0.0
        if self._report_wanted:  # the `?` that waited gets one late report (gnea/grbl#1061)
            self._report_wanted = False
            self._send(self.report())
        self.state = "Idle"
        if self._homing_ok:
            self._homing_ok = False
            self._send("ok")
        queued, self._queued = self._queued, []
        for line in queued:
            self._line(line)

    def _maybe_autoplay(self) -> None:
        if self._autoplay is None:
            return
        every_s, duration_s = self._autoplay
        if self.state != "Idle" or self._run is not None:
            self._autoplay_at = None
        elif self._autoplay_at is None:
            self._autoplay_at = self.now + every_s
        elif self.now >= self._autoplay_at:
            self._autoplay_at = None
            self.start_job(f"autoplay-{len(self.jobs) + 1}.nc", duration_s)

    # -- spindle and laser

    def _set_spindle(self, on: bool) -> None:
        self._spindle_on, self._spindle_stopped = on, False
        self._cadence.ov_left = 0  # a spindle change is reported on the next report

    def _toggle_spindle_stop(self) -> None:
        if self.state == "Hold" and not self.hold_sub and self._spindle_on and not self.laser:
            if self._spindle_stopped:
                self._send("[MSG:Restoring spindle]")
            self._spindle_stopped = not self._spindle_stopped
            self._cadence.ov_left = 0

    def _cutting(self) -> bool:
        segment = self._run.segment if self._run is not None else None
        return segment is not None and segment.cut

    def _busy(self) -> bool:
        if self.laser:
            return self.state == "Run" and self._spindle_on and self._cutting()
        return self._spindle_on and not self._spindle_stopped

    def _s(self) -> float:
        return LASER_S if self.laser else MILL_RPM

    def _speed(self) -> float:
        if not self._busy():
            return 0.0
        segment = self._run.segment if self._run is not None else None
        if not self.laser or self._run is None or segment is None:
            return self._s()
        ramp = RAMP_SHARE * segment.duration_s
        elapsed = self._run.elapsed
        ramping = elapsed < ramp or segment.duration_s - elapsed < ramp
        return self._s() * (0.5 if ramping else 1.0)  # M4 scales power with speed

    def _feed(self) -> float:
        if self.state != "Run" or self._run is None:
            return 0.0
        return CUT_MM_MIN if self._cutting() else RAPID_MM_MIN

    def _accessories(self) -> str:
        if not self._spindle_on or self._spindle_stopped:
            return ""
        if self.laser:  # the PWM output is enabled only while the laser may fire
            return "C" if self._busy() else ""
        return "S"


def serve(laser: bool = False, every_s: float = 20.0, duration_s: float = 60.0) -> PtyServer:
    """A started simulator on a pty that runs a job every `every_s` idle seconds; `.path`."""
    simulator = GrblSimulator(laser=laser)
    if every_s > 0 and math.isfinite(every_s):
        simulator.autoplay(every_s, duration_s)
    return PtyServer(simulator).start()
