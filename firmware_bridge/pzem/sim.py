"""A simulated PZEM-004T v3: a Modbus RTU slave behind a pty, metering a load you set.

It answers reads of the input registers and energy resets sent to its address or to the
general address 0xF8, stays silent for other addresses, broadcasts and bad CRCs (as a real
slave does), and answers an exception to any other function. Energy is integrated from the
load on the simulator's clock; the counter wraps after 9,999.99 kWh and can be reset, while
`consumed_wh` keeps the truth. Faults are queued for the next replies: a flipped byte, a
truncated reply, a stray byte ahead of the reply (the "byte out of sync" Tasmota saw),
arbitrary bytes instead of the reply, or silence for a while.
"""

from __future__ import annotations

import math
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.pzem import frames
from firmware_bridge.simport import PtyServer

# Modbus ends a frame after 3.5 characters of silence (4 ms at 9600 baud); the pty pump
# ticks every 10 ms, so any tick without new bytes ends the frame.
FRAME_GAP_S = 0.005
WRAP_WH = 10_000_000  # the counter shows up to 9,999.99 kWh, then starts again from 0
DEFAULT_ALARM_W = 23_000.0  # the 100 A module's full scale


@dataclass(frozen=True, slots=True)
class Load:
    power_w: float = 0.0
    voltage_v: float = 230.0
    power_factor: float = 1.0
    frequency_hz: float = 50.0

    @property
    def current_a(self) -> float:
        apparent = self.voltage_v * self.power_factor
        return self.power_w / apparent if apparent > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Autoplay:
    """Idle for `every_s`, then `power_w` for `duration_s`, over and over."""

    every_s: float
    duration_s: float
    power_w: float
    origin: float | None = None

    def loaded(self, now: float) -> bool:
        origin = now if self.origin is None else self.origin
        cycle = self.every_s + self.duration_s
        return cycle > 0 and (now - origin) % cycle >= self.every_s


Fault = Callable[[bytes], bytes]


class PzemSimulator:
    """A `SerialDevice`: drive it with `set_load`, read the truth from `consumed_wh`."""

    def __init__(self, address: int = 1, *, alarm_threshold_w: float = DEFAULT_ALARM_W) -> None:
        self.address = address
        self.alarm_threshold_w = alarm_threshold_w
        self.load = Load()
        self.counter_wh = 0.0  # the module's counter; the register shows its integer part
        self.consumed_wh = 0.0  # truth: all energy metered, whatever resets and wraps did
        self.loaded_s = 0.0  # truth: time spent with a load above 0 W
        self.resets = 0
        self.wraps = 0
        self.requests = 0  # well-formed requests for this module
        self.replies = 0
        self.ignored = 0  # bad CRCs and frames for other modules
        self.silenced = 0  # requests left unanswered by `silence`
        self._now: float | None = None
        self._rx = bytearray()
        self._rx_new = False
        self._rx_at = 0.0
        self._out = bytearray()
        self._faults: deque[Fault] = deque()
        self._silent_until = -math.inf
        self._autoplay: Autoplay | None = None

    # ------------------------------------------------------------------ driving it

    def set_load(
        self,
        power_w: float,
        voltage: float = 230.0,
        pf: float = 1.0,
        frequency: float = 50.0,
    ) -> None:
        """The load from now on (call under the server's lock)."""
        self._autoplay = None
        self.load = Load(power_w, voltage, pf, frequency)

    def autoplay(self, every_s: float, duration_s: float, power_w: float = 1200.0) -> None:
        """Alternate `every_s` idle and `duration_s` at `power_w`, starting idle now."""
        self._autoplay = Autoplay(every_s, duration_s, power_w, self._now)

    def set_energy(self, wh: float) -> None:
        """Preload the counter (e.g. just below the wrap)."""
        self.counter_wh = wh % WRAP_WH

    def reset_energy(self) -> None:
        """The button on the module, or a 0x42 request."""
        self.counter_wh = 0.0
        self.resets += 1

    def corrupt_next(self) -> None:
        """Flip one data byte of the next reply, so its CRC fails."""
        self._faults.append(_corrupt)

    def truncate_next(self) -> None:
        """Send only the first half of the next reply."""
        self._faults.append(_truncate)

    def shift_next_byte(self) -> None:
        """Put a stray byte ahead of the next reply: the reply arrives a byte out of sync."""
        self._faults.append(_shift)

    def garbage_next(self, data: bytes) -> None:
        """Send `data` instead of the next reply."""
        self._faults.append(lambda _reply: data)

    def silence(self, seconds: float) -> None:
        """Answer nothing for `seconds` of the simulator's clock."""
        self._silent_until = (self._now or 0.0) + seconds

    def measurement(self) -> frames.Measurement:
        load = self.load
        return frames.Measurement(
            address=self.address,
            voltage_v=load.voltage_v,
            current_a=load.current_a,
            power_w=load.power_w,
            energy_wh=int(self.counter_wh),
            frequency_hz=load.frequency_hz,
            power_factor=load.power_factor,
            alarm=load.power_w > self.alarm_threshold_w,
        )

    # ------------------------------------------------------------------ SerialDevice

    def receive(self, data: bytes) -> None:
        self._rx += data
        self._rx_new = True

    def tick(self, now: float) -> None:
        self._advance(now)
        if self._rx_new:
            self._rx_at = now
            self._rx_new = False
        while (frame := self._take_frame(now)) is not None:
            self._serve(frame, now)

    def take_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    # ------------------------------------------------------------------ inside

    def _advance(self, now: float) -> None:
        if self._now is None:
            self._now = now
            return
        elapsed = now - self._now
        if elapsed <= 0:
            return
        self._follow_autoplay(self._now)
        self._now = now
        energy = self.load.power_w * elapsed / 3600
        if self.load.power_w > 0:
            self.loaded_s += elapsed
        self.consumed_wh += energy
        self.counter_wh += energy
        if self.counter_wh >= WRAP_WH:
            self.counter_wh -= WRAP_WH
            self.wraps += 1

    def _follow_autoplay(self, now: float) -> None:
        play = self._autoplay
        if play is None:
            return
        if play.origin is None:
            play = self._autoplay = Autoplay(play.every_s, play.duration_s, play.power_w, now)
        power = play.power_w if play.loaded(now) else 0.0
        if power != self.load.power_w:
            old = self.load
            self.load = Load(power, old.voltage_v, old.power_factor, old.frequency_hz)

    def _take_frame(self, now: float) -> bytes | None:
        if not self._rx:
            return None
        want = frames.request_length(bytes(self._rx[:2]))
        if want is not None and len(self._rx) >= want and frames.crc_ok(bytes(self._rx[:want])):
            frame = bytes(self._rx[:want])
            del self._rx[:want]
            return frame
        if now - self._rx_at >= FRAME_GAP_S:
            frame = bytes(self._rx)
            self._rx.clear()
            return frame
        return None

    def _serve(self, frame: bytes, now: float) -> None:
        request = frames.decode_request(frame)
        if isinstance(request, frames.BadFrame) or request.address not in (
            self.address,
            frames.GENERAL_ADDRESS,
            frames.BROADCAST_ADDRESS,
        ):
            self.ignored += 1
            return
        self.requests += 1
        reply = self._answer(request)
        if request.address == frames.BROADCAST_ADDRESS:
            return
        if now < self._silent_until:
            self.silenced += 1
            return
        if self._faults:
            reply = self._faults.popleft()(reply)
        self._out += reply
        self.replies += 1

    def _answer(self, request: frames.Request) -> bytes:
        if request.function == frames.READ_INPUT:
            return self._read(request.data)
        if request.function == frames.RESET_ENERGY and not request.data:
            self.reset_energy()
            return frames.with_crc(bytes((self.address, frames.RESET_ENERGY)))
        if request.function == frames.RESET_ENERGY:
            return frames.exception_reply(self.address, request.function, 0x03)
        return frames.exception_reply(self.address, request.function, 0x01)

    def _read(self, data: bytes) -> bytes:
        if len(data) != 4:
            return frames.exception_reply(self.address, frames.READ_INPUT, 0x03)
        start, count = struct.unpack(">HH", data)
        if count == 0 or start + count > frames.REGISTER_COUNT:
            return frames.exception_reply(self.address, frames.READ_INPUT, 0x02)
        values = frames.registers(self.measurement())[start : start + count]
        return frames.read_reply(self.address, values)


def _corrupt(reply: bytes) -> bytes:
    if not reply:
        return reply
    at = max(len(reply) - 3, 0)  # the last data byte: the length stays right, the CRC fails
    return reply[:at] + bytes((reply[at] ^ 0x5A,)) + reply[at + 1 :]


def _truncate(reply: bytes) -> bytes:
    return reply[: len(reply) // 2]


def _shift(reply: bytes) -> bytes:
    return b"\x00" + reply


def scaled_clock(rate: float) -> Callable[[], float]:
    """A monotonic clock running `rate` times faster: a day of metering in seconds."""
    origin = time.monotonic()
    return lambda: origin + (time.monotonic() - origin) * rate


def serve(
    address: int = 1,
    *,
    power_w: float = 0.0,
    voltage: float = 230.0,
    autoplay_every_s: float | None = None,
    autoplay_duration_s: float = 60.0,
    rate: float = 1.0,
) -> PtyServer:
    """A started pty serving a simulated module; open its `.path` at 9600 baud, `.stop()` it.

    With `autoplay_every_s`, the load alternates idle and `power_w` by itself.
    """
    device = PzemSimulator(address)
    device.set_load(power_w if autoplay_every_s is None else 0.0, voltage)
    if autoplay_every_s is not None:
        device.autoplay(autoplay_every_s, autoplay_duration_s, power_w)
    return PtyServer(device, clock=scaled_clock(rate)).start()
