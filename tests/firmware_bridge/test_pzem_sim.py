"""The simulated PZEM as a Modbus slave, driven on its own clock (no port needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.pzem import frames
from firmware_bridge.pzem.sim import WRAP_WH, PzemSimulator


def ask(sim: PzemSimulator, request: bytes, now: float) -> bytes:
    """Send `request` at `now` and collect what the module answers within 20 ms."""
    sim.receive(request)
    sim.tick(now)
    if out := sim.take_output():
        return out
    sim.tick(now + 0.02)  # a frame without a known length ends with the silence after it
    return sim.take_output()


def read(sim: PzemSimulator, now: float, address: int = 1) -> frames.Measurement:
    decoded = frames.decode_reply(ask(sim, frames.read_request(address), now), address=address)
    assert isinstance(decoded, frames.Measurement), decoded
    return decoded


def test_energy_integrates_the_load() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    sim.set_load(1800.0, voltage=225.0, pf=0.8)
    sim.tick(3600.0)  # one hour at 1.8 kW
    reading = read(sim, 3600.0)
    assert reading.energy_wh == 1800
    assert reading.power_w == 1800.0
    assert reading.voltage_v == 225.0
    assert reading.current_a == pytest.approx(1800 / (225 * 0.8), abs=0.001)
    assert reading.power_factor == 0.8
    assert sim.consumed_wh == pytest.approx(1800.0)
    assert sim.loaded_s == pytest.approx(3600.0)


def test_counter_wraps_after_9999_99_kwh_while_the_truth_goes_on() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    sim.set_energy(WRAP_WH - 10)
    sim.set_load(3600.0)
    sim.tick(30.0)  # 30 Wh
    assert read(sim, 30.0).energy_wh == 20
    assert sim.wraps == 1
    assert sim.consumed_wh == pytest.approx(30.0)


def test_reset_energy_request_is_echoed_and_zeroes_the_counter() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    sim.set_load(3600.0)
    sim.tick(100.0)
    assert ask(sim, frames.reset_energy_request(1), 100.0) == bytes.fromhex("01 42 80 11")
    assert read(sim, 100.0).energy_wh == 0
    assert sim.resets == 1
    assert sim.consumed_wh == pytest.approx(100.0)


def test_answers_its_address_and_the_general_one_only() -> None:
    sim = PzemSimulator(address=7)
    sim.tick(0.0)
    assert read(sim, 1.0, address=7).address == 7
    reply = ask(sim, frames.read_request(frames.GENERAL_ADDRESS), 2.0)
    assert frames.decode_reply(reply, address=frames.GENERAL_ADDRESS) == read(sim, 2.0, 7)
    assert ask(sim, frames.read_request(8), 3.0) == b""
    assert ask(sim, frames.reset_energy_request(frames.BROADCAST_ADDRESS), 4.0) == b""
    assert sim.resets == 1  # a broadcast is executed, never answered
    assert sim.ignored == 1


def test_unsupported_function_gets_an_exception() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    write_address = frames.with_crc(bytes.fromhex("01 06 00 02 00 05"))
    reply = ask(sim, write_address, 1.0)
    assert frames.decode_reply(reply, address=1, function=6) == frames.ModbusException(1, 6, 1)
    unknown = frames.with_crc(bytes.fromhex("01 2B 0E 01 00"))  # no length known: framed by gap
    assert frames.decode_reply(ask(sim, unknown, 2.0), address=1, function=0x2B) == (
        frames.ModbusException(1, 0x2B, 1)
    )


def test_read_beyond_the_map_is_an_illegal_address() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    reply = ask(sim, frames.read_request(1, start=8, count=4), 1.0)
    assert frames.decode_reply(reply, address=1) == frames.ModbusException(1, 4, 2)
    part = ask(sim, frames.read_request(1, start=0, count=1), 2.0)
    assert part == frames.read_reply(1, (2300,))


def test_bad_crc_requests_are_ignored() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    assert ask(sim, bytes.fromhex("01 04 00 00 00 0A 70 0E"), 1.0) == b""
    assert sim.ignored == 1
    assert read(sim, 2.0).address == 1  # and the next good one is served


def test_request_split_across_reads_is_served_once() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    request = frames.read_request(1)
    sim.receive(request[:3])
    sim.tick(1.0)
    sim.receive(request[3:])
    sim.tick(1.001)
    assert len(sim.take_output()) == frames.READ_REPLY_LEN
    assert sim.requests == 1


def test_faults_apply_to_the_next_replies_in_order() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    good = ask(sim, frames.read_request(1), 0.5)
    sim.corrupt_next()
    sim.truncate_next()
    sim.shift_next_byte()
    sim.garbage_next(b"\xff\xff")
    corrupt = ask(sim, frames.read_request(1), 1.0)
    assert len(corrupt) == len(good) and corrupt != good and not frames.crc_ok(corrupt)
    assert ask(sim, frames.read_request(1), 2.0) == good[:12]
    assert ask(sim, frames.read_request(1), 3.0) == b"\x00" + good
    assert ask(sim, frames.read_request(1), 4.0) == b"\xff\xff"
    assert ask(sim, frames.read_request(1), 5.0) == good


def test_silence_lasts_its_time_on_the_simulators_clock() -> None:
    sim = PzemSimulator()
    sim.tick(10.0)
    sim.silence(2.0)
    assert ask(sim, frames.read_request(1), 11.0) == b""
    assert ask(sim, frames.read_request(1), 12.5) != b""
    assert sim.silenced == 1


def test_autoplay_alternates_idle_and_load() -> None:
    sim = PzemSimulator()
    sim.tick(0.0)
    sim.autoplay(every_s=10.0, duration_s=5.0, power_w=2000.0)
    powers = []
    for second in range(1, 31):
        sim.tick(float(second))
        powers.append(sim.load.power_w)
    assert powers[:9] == [0.0] * 9  # idle first
    assert powers[10:14] == [2000.0] * 4
    assert powers[16:24] == [0.0] * 8
    assert sim.loaded_s == pytest.approx(10.0, abs=1.0)  # two 5 s periods
    assert sim.consumed_wh == pytest.approx(2000 * sim.loaded_s / 3600)


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_any_bytes_on_the_wire_never_break_the_slave(chunks: list[bytes]) -> None:
    sim = PzemSimulator()
    now = 0.0
    for chunk in chunks:
        sim.receive(chunk)
        now += 0.003
        sim.tick(now)
    sim.tick(now + 0.1)
    sim.take_output()
    assert read(sim, now + 1.0).address == 1
