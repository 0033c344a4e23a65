"""PZEM-004T v3 Modbus RTU frames: requests, replies, CRC. Pure: bytes in, values out.

A read of the ten input registers answers 25 bytes: address, 0x04, byte count 20, ten
big-endian registers, CRC. Current, power and energy span two registers, low word first
(`lo | hi << 16`; one published Arduino example shifts by 8, which is wrong). A module that
cannot serve a request answers `address, function | 0x80, code, CRC`.

`decode_reply` never raises: anything unusable becomes a `BadFrame` saying why, so the link
can count it and poll again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridge.model import MeterReading

GENERAL_ADDRESS = 0xF8  # answered by whichever single module is on the bus
BROADCAST_ADDRESS = 0x00  # executed by every module, answered by none
MAX_ADDRESS = 0xF7

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
CALIBRATE = 0x41
RESET_ENERGY = 0x42
EXCEPTION_FLAG = 0x80

REGISTER_COUNT = 10
READ_REPLY_LEN = 3 + 2 * REGISTER_COUNT + 2  # 25
RESET_REPLY_LEN = 4
EXCEPTION_LEN = 5

ALARM_ON = 0xFFFF

# Request lengths by function, CRC included: a slave frames by length when it knows the
# function and by the silence after the frame otherwise. Calibration carries a password.
REPLY_LENGTHS = {READ_INPUT: READ_REPLY_LEN, RESET_ENERGY: RESET_REPLY_LEN}
REQUEST_LENGTHS = {
    READ_HOLDING: 8,
    READ_INPUT: 8,
    WRITE_SINGLE: 8,
    CALIBRATE: 6,
    RESET_ENERGY: 4,
}

EXCEPTION_NAMES = {
    0x01: "illegal function",
    0x02: "illegal address",
    0x03: "illegal data",
    0x04: "slave error",
}


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (reflected polynomial 0xA001, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """`body` followed by its CRC, low byte first as Modbus RTU sends it."""
    return body + struct.pack("<H", crc16(body))


def crc_ok(frame: bytes) -> bool:
    # The CRC of a frame including its own (low byte first) CRC is zero.
    return len(frame) >= 3 and crc16(frame) == 0


def read_request(address: int = 1, start: int = 0, count: int = REGISTER_COUNT) -> bytes:
    """Read input registers: `01 04 00 00 00 0A 70 0D` for the whole map of module 1."""
    return with_crc(struct.pack(">BBHH", address, READ_INPUT, start, count))


def reset_energy_request(address: int = 1) -> bytes:
    """Reset the energy counter: `01 42 80 11` for module 1."""
    return with_crc(bytes((address, RESET_ENERGY)))


@dataclass(frozen=True, slots=True)
class Measurement:
    """The ten input registers of one read, in SI units."""

    address: int
    voltage_v: float
    current_a: float
    power_w: float
    energy_wh: int
    frequency_hz: float
    power_factor: float
    alarm: bool

    def reading(self) -> MeterReading:
        return MeterReading(
            power_w=self.power_w,
            energy_wh=float(self.energy_wh),
            voltage_v=self.voltage_v,
            current_a=self.current_a,
        )


@dataclass(frozen=True, slots=True)
class EnergyReset:
    """The module's echo of a reset-energy request."""

    address: int


@dataclass(frozen=True, slots=True)
class ModbusException:
    """`function | 0x80` reply: the module understood the frame but refuses it."""

    address: int
    function: int
    code: int

    @property
    def reason(self) -> str:
        name = EXCEPTION_NAMES.get(self.code, "unknown exception")
        return f"modbus exception {self.code:#04x} ({name}) to function {self.function:#04x}"


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that are no usable reply: wrong length, CRC, address or function."""

    reason: str


Reply = Measurement | EnergyReset | ModbusException | BadFrame


def decode_reply(frame: bytes, *, address: int, function: int = READ_INPUT) -> Reply:
    """The reply in `frame` to a request sent to `address` with `function`.

    A module asked through the general address 0xF8 may answer with its own address, so any
    unicast address is accepted then.
    """
    problem = _frame_problem(frame, address, function)
    if problem is not None:
        return BadFrame(problem)
    if frame[1] & EXCEPTION_FLAG:
        return ModbusException(frame[0], function, frame[2])
    if function == READ_INPUT:
        return decode_measurement(frame)
    if function == RESET_ENERGY:
        return EnergyReset(frame[0])
    return BadFrame(f"no decoder for function {function:#04x}")


def _frame_problem(frame: bytes, address: int, function: int) -> str | None:
    if not frame:
        return "no reply"
    expected = _expected_length(frame, function)
    if len(frame) != expected:
        size = "short" if len(frame) < expected else "long"
        return f"{size} reply: {len(frame)} of {expected} bytes ({_excerpt(frame)})"
    if not crc_ok(frame):
        return f"bad CRC ({_excerpt(frame)})"
    if not _address_matches(frame[0], address):
        return f"reply from address {frame[0]:#04x}, asked {address:#04x}"
    if frame[1] not in (function, function | EXCEPTION_FLAG):
        return f"reply to function {frame[1]:#04x}, asked {function:#04x}"
    return None


def _expected_length(frame: bytes, function: int) -> int:
    if len(frame) >= 2 and frame[1] == function | EXCEPTION_FLAG:
        return EXCEPTION_LEN
    return REPLY_LENGTHS.get(function, len(frame))


def decode_measurement(frame: bytes) -> Measurement | BadFrame:
    """A CRC-checked 25-byte reply to a read of the ten input registers."""
    if len(frame) != READ_REPLY_LEN or frame[2] != 2 * REGISTER_COUNT:
        return BadFrame(f"read reply of {len(frame)} bytes with byte count {frame[2]}")
    regs = struct.unpack(">10H", frame[3:23])
    return Measurement(
        address=frame[0],
        voltage_v=regs[0] / 10,
        current_a=_long(regs, 1) / 1000,
        power_w=_long(regs, 3) / 10,
        energy_wh=_long(regs, 5),
        frequency_hz=regs[7] / 10,
        power_factor=regs[8] / 100,
        alarm=regs[9] == ALARM_ON,
    )


def registers(measurement: Measurement) -> tuple[int, ...]:
    """The ten input registers a module holds for `measurement` (used by the simulator)."""
    return (
        _word(measurement.voltage_v * 10),
        *_split(measurement.current_a * 1000),
        *_split(measurement.power_w * 10),
        *_split(measurement.energy_wh),
        _word(measurement.frequency_hz * 10),
        _word(measurement.power_factor * 100),
        ALARM_ON if measurement.alarm else 0,
    )


def read_reply(address: int, values: tuple[int, ...]) -> bytes:
    """The reply to a read of input registers holding `values`."""
    body = struct.pack(f">BBB{len(values)}H", address, READ_INPUT, 2 * len(values), *values)
    return with_crc(body)


def measurement_reply(measurement: Measurement) -> bytes:
    """The 25-byte frame a module sends for `measurement`."""
    return read_reply(measurement.address, registers(measurement))


@dataclass(frozen=True, slots=True)
class Request:
    """A request as a module sees it (used by the simulator)."""

    address: int
    function: int
    data: bytes  # between the function code and the CRC


def request_length(buffer: bytes) -> int | None:
    """How long the request starting `buffer` is, when its function code tells."""
    if len(buffer) < 2:
        return None
    return REQUEST_LENGTHS.get(buffer[1])


def decode_request(frame: bytes) -> Request | BadFrame:
    if len(frame) < 4:
        return BadFrame(f"short request: {len(frame)} bytes")
    if not crc_ok(frame):
        return BadFrame(f"bad CRC in request ({_excerpt(frame)})")
    return Request(frame[0], frame[1], bytes(frame[2:-2]))


def exception_reply(address: int, function: int, code: int) -> bytes:
    return with_crc(bytes((address, (function | EXCEPTION_FLAG) & 0xFF, code)))


def _address_matches(got: int, asked: int) -> bool:
    if asked == GENERAL_ADDRESS:
        return 1 <= got <= GENERAL_ADDRESS
    return got == asked


def _long(regs: tuple[int, ...], low: int) -> int:
    return regs[low] | regs[low + 1] << 16


def _word(value: float) -> int:
    return min(max(round(value), 0), 0xFFFF)


def _split(value: float) -> tuple[int, int]:
    raw = min(max(round(value), 0), 0xFFFF_FFFF)
    return raw & 0xFFFF, raw >> 16


def _excerpt(frame: bytes, limit: int = 32) -> str:
    shown = frame[:limit].hex(" ")
    return shown + (" ..." if len(frame) > limit else "")
