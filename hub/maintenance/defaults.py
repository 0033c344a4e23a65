"""The plans Machinerie ships per machine kind: starting points a workshop tunes to its machines.

Figures are ballpark service intervals for common workshop machines (a CO2 glass tube lasts
roughly 1,000 to 2,000 hours of firing; optics are cleaned every day or two of cutting; router
spindle brushes and bearings are serviced by spindle hours; printer nozzles wear with printing
hours). They count busy time (laser firing, spindle on, printing), not power-on time: hour
meters that count an idle machine left on overnight are a known complaint (grbl #894,
buildbotics bbctrl-firmware #344).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.models import AlertCounter
from hub.maintenance.plans import Thresholds
from hub.registry.models import MachineKind


@dataclass(frozen=True)
class DefaultPlan:
    name: str
    counter: AlertCounter
    thresholds: Thresholds
    lock_at_limit: bool = True


def _plan(name: str, counter: AlertCounter, warning: float, limit: float) -> DefaultPlan:
    return DefaultPlan(name, counter, Thresholds(warning=warning, limit=limit))


BUSY = AlertCounter.BUSY_HOURS
DAYS = AlertCounter.DAYS

DEFAULT_PLANS: dict[MachineKind, tuple[DefaultPlan, ...]] = {
    MachineKind.LASER_CUTTER: (
        _plan("laser tube", BUSY, 1350, 1500),  # CO2 glass tube
        _plan("lens and mirror cleaning", BUSY, 16, 20),
    ),
    MachineKind.CNC_MILL: (
        _plan("spindle", BUSY, 900, 1000),  # brushes and service
        _plan("spindle bearings", BUSY, 4500, 5000),
        _plan("lubrication", DAYS, 25, 30),
    ),
    MachineKind.PRINTER_3D: (
        _plan("nozzle", BUSY, 400, 500),
        _plan("bed and belts check", DAYS, 80, 90),
    ),
    MachineKind.OTHER: (),
}


def defaults_for(kind: MachineKind) -> tuple[DefaultPlan, ...]:
    return DEFAULT_PLANS.get(kind, ())
