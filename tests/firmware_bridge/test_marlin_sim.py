"""The virtual Marlin on its wire: line checks, reports, faults and the truth it keeps."""

from __future__ import annotations

import os

import pytest

from firmware_bridge.marlin.parse import (
    Capability,
    Firmware,
    Message,
    Ok,
    Resend,
    Reset,
    SdStatus,
    Temperatures,
    Unknown,
    frame,
    parse,
)
from firmware_bridge.marlin.sim import MarlinSimulator, serve
from firmware_bridge.model import JobOutcome
from firmware_bridge.serialport import open_serial


class Wire:
    """The simulator driven on its own clock, as the pty server drives it."""

    def __init__(self, sim: MarlinSimulator, start: float = 100.0) -> None:
        self.sim = sim
        self.now = start
        sim.tick(self.now)
        self.banner = self.lines()
        self.n = 0

    def lines(self) -> list[str]:
        raw = self.sim.take_output()
        return [line.decode("utf-8", errors="replace") for line in raw.split(b"\n")[:-1]]

    def messages(self) -> list[Message]:
        return [message for line in self.lines() for message in parse(line)]

    def raw(self, data: bytes) -> list[str]:
        self.sim.receive(data)
        return self.lines()

    def send(self, command: str) -> list[Message]:
        self.n += 1
        self.sim.receive(frame(self.n, command))
        return self.messages()

    def advance(self, seconds: float, step: float = 0.05) -> list[Message]:
        out: list[Message] = []
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            self.sim.tick(self.now)
            out += self.messages()
        return out


def test_boot_banner_with_its_garbage_byte() -> None:
    wire = Wire(MarlinSimulator())
    assert wire.banner[0] == "start"
    assert "\ufffd" in wire.banner  # the `\x80` OctoPrint's virtual printer also sends
    assert [m for line in wire.banner for m in parse(line) if isinstance(m, Reset)]


def test_numbered_lines_and_the_hello() -> None:
    wire = Wire(MarlinSimulator())
    wire.sim.receive(frame(0, "M110 N0"))
    assert wire.messages() == [Ok()]
    assert wire.send("M105")[0] == Ok()
    assert wire.sim.received == ["M110 N0", "M105"]


def test_a_wrong_checksum_is_refused_with_a_resend() -> None:
    wire = Wire(MarlinSimulator())
    assert wire.raw(b"N1 M105*99\n") == ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"]
    assert wire.sim.received == []


def test_a_skipped_line_number_is_refused() -> None:
    wire = Wire(MarlinSimulator())
    assert wire.raw(frame(5, "M105")) == [
        "Error:Line Number is not Last Line Number+1, Last Line: 0",
        "Resend: 1",
        "ok",
    ]


def test_numbers_without_checksums_and_checksums_without_numbers() -> None:
    wire = Wire(MarlinSimulator())
    assert wire.raw(b"N1 M105\n")[0] == "Error:No Checksum with line number, Last Line: 0"
    assert wire.raw(b"M105*12\n")[0] == "Error:No Line Number with checksum, Last Line: 0"
    (reply,) = wire.raw(b"M105\n")  # an unnumbered line is fine
    assert reply.startswith("ok T:")


def test_m115_capabilities_parse_back() -> None:
    wire = Wire(MarlinSimulator(capabilities={"AUTOREPORT_TEMP": True, "BUSY_PROTOCOL": False}))
    messages = wire.send("M115")
    assert isinstance(messages[0], Firmware) and messages[0].name.startswith("Marlin")
    assert messages[1:] == [
        Capability("AUTOREPORT_TEMP", True),
        Capability("BUSY_PROTOCOL", False),
        Ok(),
    ]


def test_unknown_commands_are_echoed_and_acknowledged() -> None:
    wire = Wire(MarlinSimulator())
    assert wire.send("M4242")[-1] == Ok()
    # Without AUTOREPORT_TEMP there is no M155.
    wire = Wire(MarlinSimulator(capabilities={"AUTOREPORT_TEMP": False}))
    assert wire.raw(frame(1, "M155 S2")) == ['echo:Unknown command: "M155 S2"', "ok"]


def test_autoreports_follow_the_sim_clock() -> None:
    wire = Wire(MarlinSimulator())
    wire.send("M155 S1")
    wire.send("M27 S1")
    out = wire.advance(3.5)
    assert sum(isinstance(m, Temperatures) for m in out) == 3
    assert sum(not isinstance(m, Temperatures) for m in out) == 3  # `Not SD printing`


def test_heaters_warm_up_towards_their_targets() -> None:
    wire = Wire(MarlinSimulator())
    wire.send("M104 S200")
    wire.send("M140 S60")
    wire.advance(20.0, step=0.5)
    report = wire.send("M105")[1]
    assert isinstance(report, Temperatures)
    nozzle, bed = report.get("T"), report.get("B")
    assert nozzle is not None and nozzle.actual > 195 and nozzle.target == 200
    assert bed is not None and 50 < bed.actual < 60


def test_truth_of_a_job_with_a_pause() -> None:
    sim = MarlinSimulator(keepalive_s=1.0)
    wire = Wire(sim)
    wire.send("M27 S1")
    job = sim.start_sd_print("cube.gco", 4.0)
    out = wire.advance(1.0)
    sim.pause()
    paused = wire.advance(3.5)
    busy = [line for line in paused if getattr(line, "reason", "") == "paused for user"]
    assert len(busy) == 4  # one at the pause, then one per keepalive
    sim.resume()
    out += wire.advance(4.0)
    assert job.outcome is JobOutcome.COMPLETED
    assert job.end is not None
    assert job.printing_s == 4.0
    assert job.end - job.start == pytest.approx(7.5, abs=0.06)
    positions = [m.position for m in out if isinstance(m, SdStatus)]
    assert positions == sorted(positions) and positions[-1] < job.size


def test_cancel_thermal_runaway_and_reset_outcomes() -> None:
    sim = MarlinSimulator()
    wire = Wire(sim)
    cancelled = sim.start_sd_print("a.gco", 10.0)
    wire.advance(1.0)
    wire.lines()
    sim.cancel()
    assert wire.lines() == ["//action:cancel"]
    assert cancelled.outcome is JobOutcome.CANCELLED

    interrupted = sim.start_sd_print("b.gco", 10.0)
    wire.advance(1.0)
    wire.lines()
    sim.reset()
    assert wire.lines()[0] == "start"
    assert interrupted.outcome is JobOutcome.INTERRUPTED

    burnt = sim.start_sd_print("c.gco", 10.0)
    wire.advance(0.5)
    wire.lines()
    sim.thermal_runaway()
    assert wire.lines()[:2] == [
        "Error:Thermal Runaway, system stopped! Heater_ID: E0",
        "Error:Printer halted. kill() called!",
    ]
    assert burnt.outcome is JobOutcome.ERROR
    wire.send("M105")
    assert wire.advance(2.0) == []  # halted: not a byte until the next reset


def test_glued_and_advanced_oks() -> None:
    wire = Wire(MarlinSimulator(advanced_ok=True))
    wire.sim.glue_next_ok()
    (line,) = wire.raw(frame(1, "M27"))[1:]  # after `Not SD printing`
    assert line.startswith("T:") and line.endswith("ok N1 P15 B3")
    assert parse(line)[-1] == Ok(1, 15, 3)


def test_resend_ratio_refuses_about_that_share() -> None:
    sim = MarlinSimulator(resend_ratio=0.3, seed=7)
    wire = Wire(sim)
    refused = 0
    for _ in range(200):
        messages = wire.send("M31")
        if any(isinstance(m, Resend) for m in messages):
            refused += 1
            wire.n -= 1  # send the same number again
    assert 40 < refused < 90


def test_autoplay_prints_by_itself() -> None:
    sim = MarlinSimulator()
    sim.autoplay(every_s=1.0, duration_s=2.0)
    wire = Wire(sim)
    wire.advance(8.5, step=0.1)
    # Idle 1 s, print 2 s, twice; the third print is under way.
    assert [job.outcome for job in sim.jobs] == [JobOutcome.COMPLETED] * 2 + [None]
    assert sim.current_job is sim.jobs[-1]


def test_injected_bytes_go_out_as_they_are() -> None:
    wire = Wire(MarlinSimulator())
    wire.sim.inject(b"\x00\xffgarbage\nrs N9\n")
    assert wire.messages() == [Unknown("\x00\ufffdgarbage"), Resend(9)]


def test_serve_answers_on_a_pty() -> None:
    server = serve(every_s=0)
    try:
        assert os.path.exists(server.path)
        port = open_serial(server.path, 115200, timeout=0.2)
        try:
            port.write(frame(0, "M110 N0"))
            seen = b""
            for _ in range(50):
                seen += port.read(256)
                if b"ok\n" in seen:
                    break
            assert b"start\n" in seen and b"ok\n" in seen
        finally:
            port.close()
    finally:
        server.stop()
