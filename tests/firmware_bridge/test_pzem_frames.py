"""PZEM-004T v3 frames: literal wire bytes, then properties over any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.model import MeterReading
from firmware_bridge.pzem import frames


def wire(text: str) -> bytes:
    return bytes.fromhex(text)


# Requests whose CRCs were verified against the widely published frames (firmware research
# §6.1, "Frames [CRC verified]"); the first is also the poll of the PZEM-016 driver in
# CaptainTactful/PZEM-016forRTI, PZEM016.js ("copied from cas modbus scanner").
READ_MODULE_1 = "01 04 00 00 00 0A 70 0D"
READ_GENERAL = "F8 04 00 00 00 0A 64 64"
RESET_MODULE_1 = "01 42 80 11"

# A real reply logged in CaptainTactful/PZEM-016forRTI, PZEM016.js (the PZEM-016 is the
# RS-485 sibling with the same register map): 239.3 V, 0.516 A, 90.1 W, 4649 Wh, 49.9 Hz.
REAL_REPLY = "01 04 14 09 59 02 04 00 00 03 85 00 00 12 29 00 00 01 F3 00 49 00 00 D3 EA"


def test_request_builders_give_the_verified_frames() -> None:
    assert frames.read_request(1) == wire(READ_MODULE_1)
    assert frames.read_request(frames.GENERAL_ADDRESS) == wire(READ_GENERAL)
    assert frames.reset_energy_request(1) == wire(RESET_MODULE_1)


@pytest.mark.parametrize("frame", [READ_MODULE_1, READ_GENERAL, RESET_MODULE_1, REAL_REPLY])
def test_crc_of_real_frames_checks(frame: str) -> None:
    assert frames.crc_ok(wire(frame))
    assert frames.with_crc(wire(frame)[:-2]) == wire(frame)


def test_real_reply_decodes_to_its_logged_values() -> None:
    decoded = frames.decode_reply(wire(REAL_REPLY), address=1)
    assert decoded == frames.Measurement(
        address=1,
        voltage_v=239.3,
        current_a=0.516,
        power_w=90.1,
        energy_wh=4649,
        frequency_hz=49.9,
        power_factor=0.73,
        alarm=False,
    )
    assert isinstance(decoded, frames.Measurement)
    assert decoded.reading() == MeterReading(
        power_w=90.1, energy_wh=4649.0, voltage_v=239.3, current_a=0.516
    )


def test_a_reply_to_the_general_address_may_carry_the_modules_own() -> None:
    assert isinstance(
        frames.decode_reply(wire(REAL_REPLY), address=frames.GENERAL_ADDRESS),
        frames.Measurement,
    )


def test_32_bit_values_are_low_word_first() -> None:
    # Energy 0x0001_0002 Wh: low word 0x0002 in register 5, high word 0x0001 in register 6.
    values = (2300, 0, 0, 0, 0, 0x0002, 0x0001, 500, 100, 0)
    decoded = frames.decode_reply(frames.read_reply(1, values), address=1)
    assert isinstance(decoded, frames.Measurement)
    assert decoded.energy_wh == 0x0001_0002  # 65538, not the 0x0201 a `<< 8` would give


def test_alarm_register() -> None:
    values = (2300, 0, 0, 0, 0, 0, 0, 500, 100, frames.ALARM_ON)
    decoded = frames.decode_reply(frames.read_reply(1, values), address=1)
    assert isinstance(decoded, frames.Measurement)
    assert decoded.alarm


# Exception and reset replies, built to the format of the PZEM-004T v3.0 manual (address,
# function | 0x80, abnormal code, CRC; a reset is echoed), with CRCs computed here.
@pytest.mark.parametrize(
    ("frame", "function", "expected"),
    [
        ("01 84 01 82 C0", frames.READ_INPUT, frames.ModbusException(1, 0x04, 0x01)),
        ("01 C2 03 31 61", frames.RESET_ENERGY, frames.ModbusException(1, 0x42, 0x03)),
        (RESET_MODULE_1, frames.RESET_ENERGY, frames.EnergyReset(1)),
    ],
)
def test_exception_and_reset_replies(
    frame: str, function: int, expected: frames.ModbusException | frames.EnergyReset
) -> None:
    assert frames.decode_reply(wire(frame), address=1, function=function) == expected


def test_exception_reason_names_the_code() -> None:
    assert "illegal function" in frames.ModbusException(1, 4, 1).reason


@pytest.mark.parametrize(
    ("frame", "address", "why"),
    [
        ("", 1, "no reply"),
        ("01 04 14 09 59 02 04 00 00 03 85 00", 1, "short reply: 12 of 25"),
        (REAL_REPLY + " 00", 1, "long reply: 26 of 25"),
        ("01 04 14 09 59 02 04 00 00 03 85 00 00 12 29 00 00 01 F3 00 49 00 00 D3 EB", 1, "CRC"),
        ("00 " + REAL_REPLY[:-3], 1, "CRC"),  # a byte out of sync: the tail is cut off
        (REAL_REPLY, 2, "from address 0x01, asked 0x02"),
    ],
)
def test_bad_frames_say_why(frame: str, address: int, why: str) -> None:
    decoded = frames.decode_reply(wire(frame), address=address)
    assert isinstance(decoded, frames.BadFrame)
    assert why in decoded.reason


def test_wrong_function_is_a_bad_frame() -> None:
    reply = frames.with_crc(wire(REAL_REPLY)[:1] + b"\x03" + wire(REAL_REPLY)[2:-2])
    decoded = frames.decode_reply(reply, address=1)
    assert isinstance(decoded, frames.BadFrame)
    assert "function 0x03" in decoded.reason


def test_requests_decode_for_the_simulator() -> None:
    assert frames.decode_request(wire(READ_MODULE_1)) == frames.Request(
        1, frames.READ_INPUT, wire("00 00 00 0A")
    )
    assert frames.request_length(wire(RESET_MODULE_1)) == 4
    assert frames.request_length(b"\x01") is None
    assert isinstance(frames.decode_request(wire("01 04 00 00 00 0A 70 0E")), frames.BadFrame)


# ---------------------------------------------------------------------- properties

word = st.integers(0, 0xFFFF)
measurements = st.builds(
    frames.Measurement,
    address=st.integers(1, frames.MAX_ADDRESS),
    voltage_v=word.map(lambda raw: raw / 10),
    current_a=st.integers(0, 0xFFFF_FFFF).map(lambda raw: raw / 1000),
    power_w=st.integers(0, 0xFFFF_FFFF).map(lambda raw: raw / 10),
    energy_wh=st.integers(0, 0xFFFF_FFFF),
    frequency_hz=word.map(lambda raw: raw / 10),
    power_factor=word.map(lambda raw: raw / 100),
    alarm=st.booleans(),
)


@given(st.binary(max_size=64), st.integers(0, 255), st.sampled_from([3, 4, 6, 0x41, 0x42, 7]))
def test_any_bytes_decode_without_raising(data: bytes, address: int, function: int) -> None:
    decoded = frames.decode_reply(data, address=address, function=function)
    assert isinstance(
        decoded,
        frames.Measurement | frames.EnergyReset | frames.ModbusException | frames.BadFrame,
    )
    assert isinstance(frames.decode_request(data), frames.Request | frames.BadFrame)


@given(st.binary(min_size=1, max_size=40), st.integers(0, 255))
def test_frames_with_a_good_crc_but_random_body_never_raise(body: bytes, address: int) -> None:
    frame = frames.with_crc(body)
    assert frames.crc_ok(frame)
    frames.decode_reply(frame, address=address)


@given(measurements)
def test_replies_round_trip(measurement: frames.Measurement) -> None:
    reply = frames.measurement_reply(measurement)
    assert len(reply) == frames.READ_REPLY_LEN
    assert frames.decode_reply(reply, address=measurement.address) == measurement


@given(measurements, st.data())
def test_any_single_bit_flip_is_caught(
    measurement: frames.Measurement, data: st.DataObject
) -> None:
    reply = bytearray(frames.measurement_reply(measurement))
    bit = data.draw(st.integers(0, len(reply) * 8 - 1))
    reply[bit // 8] ^= 1 << (bit % 8)
    assert isinstance(
        frames.decode_reply(bytes(reply), address=frames.GENERAL_ADDRESS), frames.BadFrame
    )


@given(measurements, st.data())
def test_any_truncation_is_caught(measurement: frames.Measurement, data: st.DataObject) -> None:
    reply = frames.measurement_reply(measurement)
    cut = data.draw(st.integers(0, len(reply) - 1))
    assert isinstance(
        frames.decode_reply(reply[:cut], address=measurement.address), frames.BadFrame
    )
