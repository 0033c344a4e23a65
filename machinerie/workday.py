"""A compressed working day at the pôle numérique: who taps which badge where, and when.

Pure planning from a seed: the same seed gives the same day, which the demo then plays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from machinerie.cooperative import EXPIRED_ON_LASER, NOT_QUALIFIED_ON_LASER, Artisan

DAY_S = 10 * 3600  # 08:00 to 18:00
STRANGER_UID = "DEADBEEF"


@dataclass(frozen=True, order=True)
class Tap:
    at_s: float  # simulated seconds after 08:00
    machine_id: str
    uid: str
    who: str


def plan_day(rng: random.Random, artisans: list[Artisan]) -> list[Tap]:
    """Visits of one to three sessions each; one in five artisans walks away without badging
    out (the idle timeout ends it); plus a stranger's badge and two refusals on the laser."""
    taps: list[Tap] = []
    for artisan in artisans:
        for _ in range(rng.randint(1, 3)):
            taps += _visit(rng, artisan)
    taps += _refusals(rng, artisans)
    return sorted(taps)


def _visit(rng: random.Random, artisan: Artisan) -> list[Tap]:
    machine = rng.choice(artisan.machines)
    start = rng.uniform(0, DAY_S - 3 * 3600)
    arrive = Tap(start, machine, artisan.badge_uid, artisan.name)
    if rng.random() < 0.2:
        return [arrive]
    leave = Tap(start + rng.uniform(15 * 60, 150 * 60), machine, artisan.badge_uid, artisan.name)
    return [arrive, leave]


def _refusals(rng: random.Random, artisans: list[Artisan]) -> list[Tap]:
    by_name = {a.name: a for a in artisans}
    taps = [Tap(rng.uniform(0, DAY_S / 2), "cnc-1", STRANGER_UID, "an unknown badge")]
    for name in (NOT_QUALIFIED_ON_LASER, EXPIRED_ON_LASER):
        if name in by_name:
            taps.append(Tap(rng.uniform(0, DAY_S / 2), "laser-1", by_name[name].badge_uid, name))
    return taps
