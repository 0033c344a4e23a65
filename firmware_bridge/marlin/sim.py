"""A virtual Marlin printer behind a pseudo-terminal, for tests and demonstrations.

`MarlinSimulator` answers on its wire as Marlin 2.x does: it checks line numbers and
checksums (`Error:checksum mismatch, Last Line: n` + `Resend: n+1` + `ok`), identifies itself
with `M115` and its `Cap:` lines, autoreports temperatures (`M155 S`) and SD status
(`M27 S`), keeps the host alive with `busy:` lines while paused for the user, and prints the
boot banner (garbage byte included) when it restarts. Its heaters follow a first-order lag.

It keeps the truth in `jobs` (start and end on its own clock, outcome, seconds spent
printing) so a test can compare what the bridge reported with what happened. Tests drive
it while holding `PtyServer.lock`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from firmware_bridge.marlin.parse import checksum
from firmware_bridge.model import JobOutcome
from firmware_bridge.simport import PtyServer

FIRMWARE = "Marlin 2.1.2.1 (simulated)"
DEFAULT_CAPABILITIES: Mapping[str, bool] = {
    "SERIAL_XON_XOFF": False,
    "EEPROM": True,
    "AUTOREPORT_POS": False,
    "AUTOREPORT_TEMP": True,
    "AUTOREPORT_SD_STATUS": True,
    "BUSY_PROTOCOL": True,
    "EMERGENCY_PARSER": True,
    "HOST_ACTION_COMMANDS": True,
    "PROMPT_SUPPORT": False,
    "SDCARD": True,
    "PRINT_JOB": True,
}
NOZZLE_C, BED_C = 210.0, 60.0  # targets a simulated print heats to
BYTES_PER_S = 2000  # file size of a simulated print per second of printing
MAX_RX = 4096  # a host that never ends its line cannot grow the buffer without bound
_N_LINE = re.compile(r"^N(\d{1,9})\s*(.*)$")
_PARAM = re.compile(r"([A-Z])\s*(-?\d*\.?\d+)")


@dataclass
class SimJob:
    """One print as it really happened, on the simulator's clock."""

    name: str
    start: float
    duration_s: float
    size: int
    end: float | None = None
    outcome: JobOutcome | None = None
    printing_s: float = 0.0  # paused time excluded: what the bridge should report as busy


@dataclass
class _Heater:
    temperature: float
    target: float = 0.0
    tau_s: float = 2.0

    def step(self, dt: float, ambient: float) -> None:
        goal = self.target if self.target > 0 else ambient
        self.temperature += (goal - self.temperature) * (1 - math.exp(-dt / self.tau_s))

    @property
    def pwm(self) -> int:
        return 127 if self.target > self.temperature else 0


class MarlinSimulator:
    """A `SerialDevice` that behaves like a Marlin printer printing from its SD card."""

    def __init__(
        self,
        *,
        capabilities: Mapping[str, bool] | None = None,
        advanced_ok: bool = False,
        resend_ratio: float = 0.0,
        garbage_at_reset: bool = True,
        boot_banner: bool = True,
        keepalive_s: float = 2.0,
        ambient_c: float = 21.0,
        seed: int = 0,
    ) -> None:
        self.jobs: list[SimJob] = []
        self.capabilities = dict(DEFAULT_CAPABILITIES if capabilities is None else capabilities)
        self.advanced_ok = advanced_ok
        self.resend_ratio = resend_ratio  # share of numbered lines refused with a resend
        self.garbage_at_reset = garbage_at_reset
        self.keepalive_s = keepalive_s
        self.ambient_c = ambient_c
        self.received: list[str] = []  # every command executed, for tests
        self._rng = random.Random(seed)
        self._out = bytearray()
        self._rx = bytearray()
        self._now: float | None = None
        self._boot_pending = boot_banner
        self._nozzle = _Heater(ambient_c, tau_s=2.0)
        self._bed = _Heater(ambient_c, tau_s=5.0)
        self._job: SimJob | None = None
        self._paused = False
        self._glue_next_ok = False
        self._autoplay: tuple[float, float] | None = None
        self._next_autoplay: float | None = None
        self._autoplayed = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._last_n = 0
        self._killed = False
        self._temp_every = 0.0
        self._sd_every = 0.0
        self._next_temp = math.inf
        self._next_sd = math.inf
        self._next_keepalive = math.inf
        self._nozzle.target = self._bed.target = 0.0
        self._paused = False

    # -- SerialDevice -----------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        self._rx += data.replace(b"\r", b"\n")
        *lines, rest = bytes(self._rx).split(b"\n")
        self._rx = bytearray(rest[-MAX_RX:])
        for raw in lines:
            self._line(raw.decode("ascii", errors="replace").strip())

    def tick(self, now: float) -> None:
        previous = self._now
        self._now = now
        if previous is None:
            self._first_tick(now)
            return
        dt = max(0.0, now - previous)
        self._nozzle.step(dt, self.ambient_c)
        self._bed.step(dt, self.ambient_c)
        if self._killed:
            return
        self._advance_job(dt, now)
        self._autoreports(now)
        self._maybe_autoplay(now)

    def take_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- driving API (hold the server's lock) ------------------------------------------

    @property
    def now(self) -> float:
        return self._now if self._now is not None else 0.0

    @property
    def current_job(self) -> SimJob | None:
        return self._job

    @property
    def paused(self) -> bool:
        return self._paused

    def start_sd_print(self, name: str, duration_s: float, size: int | None = None) -> SimJob:
        """Select `name` on the SD card and print it for `duration_s` seconds of printing.

        As when a print is started from the LCD: `File opened` and `File selected` go to the
        host, then the file is read. A print already running is returned unchanged.
        """
        if self._job is not None:
            return self._job
        size = size if size is not None else max(1, int(duration_s * BYTES_PER_S))
        self._emit(f"File opened: {name} Size: {size}", "File selected")
        job = SimJob(name, self.now, duration_s, size)
        self.jobs.append(job)
        self._job = job
        self._paused = False
        self._nozzle.target, self._bed.target = NOZZLE_C, BED_C
        return job

    def pause(self) -> None:
        """Pause the print and wait for the user, as `M600` or an LCD pause does."""
        if self._job is None or self._paused:
            return
        self._paused = True
        self._emit("//action:paused", "echo:busy: paused for user")
        self._next_keepalive = self.now + self.keepalive_s

    def resume(self) -> None:
        if self._job is None or not self._paused:
            return
        self._paused = False
        self._next_keepalive = math.inf
        self._emit("//action:resumed")

    def cancel(self) -> None:
        """Abort the print from the LCD."""
        if self._job is None:
            return
        self._emit("//action:cancel")
        self._finish(JobOutcome.CANCELLED)

    def thermal_runaway(self) -> None:
        """The hotend's thermal protection trips: Marlin reports it, then halts for good."""
        self._emit(
            "Error:Thermal Runaway, system stopped! Heater_ID: E0",
            "Error:Printer halted. kill() called!",
        )
        self._finish(JobOutcome.ERROR)
        self._kill()

    def reset(self) -> None:
        """The board restarts (reset button, watchdog, DTR): the job is lost."""
        self._finish(JobOutcome.INTERRUPTED)
        self._reset_state()
        self._banner()

    def glue_next_ok(self) -> None:
        """Send the next bare `ok` stuck to the end of a temperature report (Marlin#9111)."""
        self._glue_next_ok = True

    def inject(self, raw: bytes) -> None:
        """Put arbitrary bytes on the wire: garbage, truncated or out-of-order replies."""
        self._out += raw

    def autoplay(self, every_s: float, duration_s: float) -> None:
        """Start a `duration_s` print whenever the printer has been idle for `every_s`."""
        self._autoplay = (every_s, duration_s)
        self._next_autoplay = self.now + every_s if self._now is not None else None

    # -- clock --------------------------------------------------------------------------

    def _first_tick(self, now: float) -> None:
        if self._autoplay is not None and self._next_autoplay is None:
            self._next_autoplay = now + self._autoplay[0]
        if self._boot_pending:
            self._boot_pending = False
            self._banner()

    def _advance_job(self, dt: float, now: float) -> None:
        job = self._job
        if job is None:
            return
        if self._paused:
            if now >= self._next_keepalive:
                self._next_keepalive = now + self.keepalive_s
                self._emit("echo:busy: paused for user")
            return
        job.printing_s += dt
        if job.printing_s >= job.duration_s:
            job.printing_s = job.duration_s
            self._emit("Done printing file")
            self._finish(JobOutcome.COMPLETED)

    def _autoreports(self, now: float) -> None:
        if now >= self._next_temp:
            self._next_temp = now + self._temp_every
            self._emit(self._temperature_line())
        if now >= self._next_sd:
            self._next_sd = now + self._sd_every
            self._emit(self._sd_line())

    def _maybe_autoplay(self, now: float) -> None:
        if self._autoplay is None or self._next_autoplay is None or self._job is not None:
            return
        if now >= self._next_autoplay:
            self._autoplayed += 1
            self.start_sd_print(f"autoplay-{self._autoplayed}.gcode", self._autoplay[1])

    def _finish(self, outcome: JobOutcome) -> None:
        job = self._job
        if job is None:
            return
        job.end = self.now
        job.outcome = outcome
        self._job = None
        self._paused = False
        self._next_keepalive = math.inf
        self._nozzle.target = self._bed.target = 0.0
        if self._autoplay is not None:
            self._next_autoplay = self.now + self._autoplay[0]

    def _kill(self) -> None:
        self._killed = True
        self._nozzle.target = self._bed.target = 0.0

    def _banner(self) -> None:
        self._emit("start", f"echo:{FIRMWARE.split(' (', maxsplit=1)[0]}")
        if self.garbage_at_reset:
            self._out += b"\x80\n"  # what a UART prints while the board boots
        self._emit("echo:SD card ok")

    # -- wire ---------------------------------------------------------------------------

    def _emit(self, *lines: str) -> None:
        for line in lines:
            self._out += line.encode("utf-8", errors="replace") + b"\n"

    def _ok(self, payload: str = "") -> None:
        text = "ok"
        if self.advanced_ok and not payload:
            text = f"ok N{self._last_n} P15 B3"
        if payload:
            self._emit(f"{text} {payload}")
        elif self._glue_next_ok:
            self._glue_next_ok = False
            self._emit(self._temperature_line() + text)
        else:
            self._emit(text)

    def _refuse(self, why: str) -> None:
        self._emit(f"Error:{why}, Last Line: {self._last_n}", f"Resend: {self._last_n + 1}")
        self._ok()

    def _line(self, line: str) -> None:
        if self._killed or not line:
            return
        command = self._checked(line)
        if command is not None:
            self.received.append(command)
            self._execute(command)

    def _checked(self, line: str) -> str | None:
        """The command in a host line, or None after refusing it as Marlin does."""
        body, star, given = line.partition("*")
        numbered = _N_LINE.match(body.strip())
        if numbered is None:
            if star:
                self._refuse("No Line Number with checksum")
                return None
            return line
        if not star:
            self._refuse("No Checksum with line number")
            return None
        n, command = int(numbered.group(1)), numbered.group(2).strip()
        is_hello = command.startswith("M110")
        unlucky = not is_hello and self._rng.random() < self.resend_ratio
        if given.strip() != str(checksum(body)) or unlucky:
            self._refuse("checksum mismatch")
            return None
        if not is_hello and n != self._last_n + 1:
            self._refuse("Line Number is not Last Line Number+1")
            return None
        self._last_n = n
        return command

    # -- commands -----------------------------------------------------------------------

    def _execute(self, command: str) -> None:
        words = command.split()
        code = words[0].upper() if words else ""
        params = {key: float(value) for key, value in _PARAM.findall(command[len(code) :])}
        handler = self._commands().get(code)
        if handler is None:
            self._emit(f'echo:Unknown command: "{command}"')
            self._ok()
            return
        handler(params)

    def _commands(self) -> dict[str, Callable[[dict[str, float]], None]]:
        commands: dict[str, Callable[[dict[str, float]], None]] = {
            "M110": self._m110,
            "M105": self._m105,
            "M115": self._m115,
            "M27": self._m27,
            "M114": self._m114,
            "M31": self._m31,
            "M113": self._m113,
            "M104": self._m104,
            "M140": self._m140,
            "M112": self._m112,
        }
        if self.capabilities.get("AUTOREPORT_TEMP"):
            commands["M155"] = self._m155
        return commands

    def _m110(self, params: dict[str, float]) -> None:
        self._last_n = int(params.get("N", 0))
        self._ok()

    def _m105(self, _params: dict[str, float]) -> None:
        self._ok(self._temperature_line())

    def _m115(self, _params: dict[str, float]) -> None:
        self._emit(
            f"FIRMWARE_NAME:{FIRMWARE} SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
            "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Machinerie Virtual Printer EXTRUDER_COUNT:1 "
            "UUID:00000000-0000-0000-0000-000000000000"
        )
        for name, enabled in self.capabilities.items():
            self._emit(f"Cap:{name}:{int(enabled)}")
        self._ok()

    def _m155(self, params: dict[str, float]) -> None:
        self._temp_every = max(0.0, params.get("S", 1.0))
        self._next_temp = self.now + self._temp_every if self._temp_every > 0 else math.inf
        self._ok()

    def _m27(self, params: dict[str, float]) -> None:
        if "S" in params and self.capabilities.get("AUTOREPORT_SD_STATUS"):
            self._sd_every = max(0.0, params["S"])
            self._next_sd = self.now + self._sd_every if self._sd_every > 0 else math.inf
        else:
            self._emit(self._sd_line())
        self._ok()

    def _m114(self, _params: dict[str, float]) -> None:
        done = self._progress()
        x, y, z, e = 10 + 100 * done, 20 + 80 * done, 0.2 + 20 * done, 500 * done
        self._emit(
            f"X:{x:.2f} Y:{y:.2f} Z:{z:.2f} E:{e:.2f} "
            f"Count X:{int(x * 80)} Y:{int(y * 80)} Z:{int(z * 400)}"
        )
        self._ok()

    def _m31(self, _params: dict[str, float]) -> None:
        seconds = int(self._job.printing_s) if self._job is not None else 0
        self._emit(f"echo:Print time: {_duration(seconds)}")
        self._ok()

    def _m113(self, params: dict[str, float]) -> None:
        self.keepalive_s = max(1.0, params.get("S", self.keepalive_s))
        self._ok()

    def _m104(self, params: dict[str, float]) -> None:
        self._nozzle.target = params.get("S", self._nozzle.target)
        self._ok()

    def _m140(self, params: dict[str, float]) -> None:
        self._bed.target = params.get("S", self._bed.target)
        self._ok()

    def _m112(self, _params: dict[str, float]) -> None:
        self._emit("Error:Printer halted. kill() called!")
        self._finish(JobOutcome.ERROR)
        self._kill()

    # -- reports ------------------------------------------------------------------------

    def _progress(self) -> float:
        job = self._job
        if job is None or job.duration_s <= 0:
            return 0.0
        return min(job.printing_s / job.duration_s, 1.0)

    def _temperature_line(self) -> str:
        nozzle, bed = self._nozzle, self._bed
        return (
            f"T:{nozzle.temperature:.2f} /{nozzle.target:.2f} "
            f"B:{bed.temperature:.2f} /{bed.target:.2f} @:{nozzle.pwm} B@:{bed.pwm}"
        )

    def _sd_line(self) -> str:
        job = self._job
        if job is None:
            return "Not SD printing"
        return f"SD printing byte {int(job.size * self._progress())}/{job.size}"


def _duration(seconds: int) -> str:
    """Marlin's `duration_t` text: `1h 02m 03s`, `2m 05s`, `7s`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def serve(
    every_s: float = 20.0,
    duration_s: float = 60.0,
    *,
    resend_ratio: float = 0.0,
    advanced_ok: bool = False,
    capabilities: Mapping[str, bool] | None = None,
    seed: int = 0,
) -> PtyServer:
    """A started virtual Marlin on a pty (`.path`) that starts a `duration_s` print whenever
    it has been idle `every_s` seconds (never if `every_s` is 0 or infinite); `.stop()`."""
    simulator = MarlinSimulator(
        capabilities=capabilities,
        advanced_ok=advanced_ok,
        resend_ratio=resend_ratio,
        seed=seed,
    )
    if every_s > 0 and math.isfinite(every_s):
        simulator.autoplay(every_s, duration_s)
    return PtyServer(simulator).start()
