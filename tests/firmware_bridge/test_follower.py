"""The bridge as configured: sources built from the [bridge] table, simulators included."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TypeVar

import pytest

from firmware_bridge.config import BridgeConfig
from firmware_bridge.errors import ConfigError, PortRefused
from firmware_bridge.follower import Follower, WallClock
from firmware_bridge.grbl.sim import VERSION as GRBL_VERSION
from firmware_bridge.marlin.sim import FIRMWARE as MARLIN_FIRMWARE
from firmware_bridge.model import JobOutcome
from firmware_bridge.moonraker.sim import KLIPPER_VERSION
from firmware_bridge.octoprint.sim import SERVER_VERSION as OCTOPRINT_VERSION
from firmware_bridge.prusalink.sim import FIRMWARE as PRUSA_FIRMWARE
from firmware_bridge.pzem.sim import PzemSimulator
from firmware_bridge.simport import PtyServer
from firmware_bridge.sources import build_follower
from firmware_bridge.tracker import (
    FirmwareIdentified,
    Interlock,
    InterlockChanged,
    JobBegan,
    JobFinished,
    Output,
)
from machinerie.ackhub import wait_until

Out = TypeVar("Out", JobBegan, JobFinished, InterlockChanged, FirmwareIdentified)


class Outputs:
    def __init__(self) -> None:
        self.items: list[Output] = []
        self.lock = threading.Lock()

    def __call__(self, outputs: list[Output]) -> None:
        with self.lock:
            self.items += outputs

    def of(self, kind: type[Out]) -> list[Out]:
        with self.lock:
            return [o for o in self.items if isinstance(o, kind)]


@pytest.fixture
def outputs() -> Outputs:
    return Outputs()


def follow(table: Mapping[str, object], outputs: Outputs) -> Follower:
    return build_follower(BridgeConfig.model_validate(table), WallClock(), outputs).start()


@pytest.fixture
def meter() -> Iterator[PtyServer]:
    simulator = PzemSimulator()
    simulator.set_load(40.0)
    with PtyServer(simulator) as server:
        yield server


def test_a_simulated_mill_named_in_the_config_runs_jobs_the_bridge_follows(
    outputs: Outputs,
) -> None:
    table = {"controller": {"kind": "grbl", "simulated": {"every_s": 0.5, "job_s": 2}}}
    follower = follow(table, outputs)
    try:
        assert wait_until(lambda: len(outputs.of(JobFinished)) >= 1, 15)
    finally:
        follower.stop()
    [finished, *_] = outputs.of(JobFinished)
    assert isinstance(finished, JobFinished)
    assert finished.outcome is JobOutcome.COMPLETED
    assert abs(finished.busy_s - 2.0) < 1.0
    assert outputs.of(JobBegan)[0].job == finished.job


def test_a_meter_alone_makes_jobs_of_working_power(meter: PtyServer, outputs: Outputs) -> None:
    table = {
        "meter": {"kind": "pzem", "port": meter.path, "poll_s": 0.1},
        "busy_power_w": 300,
        "cooldown_s": 0.5,
    }
    follower = follow(table, outputs)
    device = meter.device
    assert isinstance(device, PzemSimulator)
    try:
        assert wait_until(lambda: follower.snapshot().interlock is Interlock.CLEAR, 10)
        with meter.lock:
            device.set_load(1500.0)
        assert wait_until(lambda: bool(outputs.of(JobBegan)), 5)
        assert follower.snapshot().interlock is Interlock.HOLD
        threading.Event().wait(2.0)
        with meter.lock:
            device.set_load(40.0)
        assert wait_until(lambda: bool(outputs.of(JobFinished)), 5)
        assert wait_until(lambda: follower.snapshot().interlock is Interlock.CLEAR, 5)
        snapshot = follower.snapshot()
    finally:
        follower.stop()
    [finished] = outputs.of(JobFinished)
    assert isinstance(finished, JobFinished)
    assert abs(finished.busy_s - 2.0) < 0.5
    assert finished.energy_wh is not None and finished.energy_wh >= 0
    assert snapshot.metrics["power_w"] == pytest.approx(40.0, abs=1)
    assert snapshot.firmware == "" and not outputs.of(FirmwareIdentified)  # a meter has none
    changes = [o.interlock for o in outputs.of(InterlockChanged)]
    assert changes[-2:] == [Interlock.HOLD, Interlock.CLEAR]


def test_a_port_another_program_owns_is_never_opened() -> None:
    table = {"controller": {"kind": "grbl", "port": "/dev/ttyUSB0", "owner": "other"}}
    with pytest.raises(PortRefused):
        build_follower(BridgeConfig.model_validate(table), WallClock(), lambda _o: None)


def test_a_network_controller_without_an_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="url"):
        build_follower(
            BridgeConfig.model_validate({"controller": {"kind": "moonraker"}}),
            WallClock(),
            lambda _o: None,
        )


def test_a_printer_octoprint_owns_is_followed_through_its_api(outputs: Outputs) -> None:
    table = {
        "controller": {
            "kind": "octoprint",
            "poll_s": 0.1,
            "simulated": {"every_s": 3, "job_s": 1.5},
        }
    }
    follower = follow(table, outputs)
    try:
        assert wait_until(lambda: len(outputs.of(JobFinished)) >= 1, 15)
    finally:
        follower.stop()
    [finished, *_] = outputs.of(JobFinished)
    assert finished.outcome is JobOutcome.COMPLETED
    assert abs(finished.busy_s - 1.5) < 1.0


@pytest.mark.parametrize(
    ("kind", "firmware"),
    [
        ("marlin", MARLIN_FIRMWARE),  # M115's FIRMWARE_NAME
        ("grbl", "Grbl " + GRBL_VERSION.split(":")[1]),  # `$I`'s build
        ("moonraker", f"Klipper {KLIPPER_VERSION}"),  # printer.info's software_version
        ("prusalink", f"Prusa firmware {PRUSA_FIRMWARE}"),  # /api/version's firmware
        ("octoprint", f"OctoPrint {OCTOPRINT_VERSION}"),  # OctoPrint keeps M115 to itself
    ],
)
def test_each_simulated_controller_names_its_firmware_in_the_snapshot(
    kind: str, firmware: str, outputs: Outputs
) -> None:
    table = {"controller": {"kind": kind, "simulated": {"every_s": 600, "job_s": 1}}}
    follower = follow(table, outputs)
    try:
        assert wait_until(lambda: follower.snapshot().firmware == firmware, 10), (
            follower.snapshot().firmware
        )
    finally:
        follower.stop()
    assert [o.firmware for o in outputs.of(FirmwareIdentified)] == [firmware]  # said once
