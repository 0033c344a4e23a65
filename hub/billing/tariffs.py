"""Tariffs: what a machine costs, for whom, from when. Pure; the database rows become `Tariff`s.

A tariff applies to a machine, or a kind of machine, or every machine; to one member category
or all of them; over dates `valid_from` <= day < `valid_until`. A session is priced by the most
specific tariff valid on the local day it started (machine beats kind beats any; a category beats
any). Two equally specific tariffs valid on the same day are a mistake in the price list, never
resolved by guessing: `TariffBook` refuses them when it is built.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from hub.billing.document import VatRate
from hub.errors import Invalid

ZERO = Decimal(0)
HOUR_S = 3600
DEFAULT_FREE_REASONS = frozenset({"training", "maintenance"})


class Basis(StrEnum):
    """What time a session is billed on: the badge's, or the machine's measured busy time."""

    BADGE = "badge"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class TimeUnit:
    """The unit a time quantity is invoiced in (UN/ECE Rec 20), chosen from the increment."""

    code: str
    seconds: int

    @property
    def per_hour(self) -> Decimal:
        return Decimal(HOUR_S // self.seconds)


HOUR = TimeUnit("HUR", 3600)
MINUTE = TimeUnit("MIN", 60)
SECOND = TimeUnit("SEC", 1)


def time_unit(increment_s: int) -> TimeUnit:
    """Whole hours invoice in hours, whole minutes in minutes, anything else in seconds, so
    every billed quantity is an exact integer of its unit."""
    for unit in (HOUR, MINUTE):
        if increment_s % unit.seconds == 0:
            return unit
    return SECOND


@dataclass(frozen=True, slots=True)
class Tariff:
    id: int
    name: str
    valid_from: date
    hourly_price: Decimal
    valid_until: date | None = None
    machine_id: str | None = None
    machine_kind: str | None = None
    category: str | None = None
    basis: Basis = Basis.BADGE
    # Each session's time is raised to `minimum_s`, then rounded up to a multiple of increment_s.
    increment_s: int = 60
    minimum_s: int = 0
    session_fee: Decimal = ZERO
    # Badge time the machine was not busy, on busy-time tariffs only.
    idle_hourly_price: Decimal = ZERO
    energy_kwh_price: Decimal = ZERO
    # Most a member pays for this tariff in one month; the excess is an allowance.
    monthly_cap: Decimal | None = None
    vat: VatRate = field(default_factory=VatRate)
    account: str = "700000"
    free_reasons: frozenset[str] = DEFAULT_FREE_REASONS

    def __post_init__(self) -> None:
        if self.increment_s < 1 or self.minimum_s < 0:
            raise Invalid(f"tariff {self.name!r}: increment must be >= 1 s and minimum >= 0 s")
        prices = (self.hourly_price, self.session_fee, self.idle_hourly_price)
        if any(p < 0 for p in (*prices, self.energy_kwh_price)):
            raise Invalid(f"tariff {self.name!r}: prices cannot be negative")
        if self.monthly_cap is not None and self.monthly_cap < 0:
            raise Invalid(f"tariff {self.name!r}: a monthly cap cannot be negative")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise Invalid(f"tariff {self.name!r}: valid_until must come after valid_from")

    @property
    def unit(self) -> TimeUnit:
        return time_unit(self.increment_s)

    @property
    def specificity(self) -> tuple[int, int]:
        scope = 2 if self.machine_id is not None else 1 if self.machine_kind is not None else 0
        return scope, int(self.category is not None)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def matches(self, machine_id: str, machine_kind: str, category: str) -> bool:
        return (
            (self.machine_id is None or self.machine_id == machine_id)
            and (self.machine_kind is None or self.machine_kind == machine_kind)
            and (self.category is None or self.category == category)
        )


def _overlap(a: Tariff, b: Tariff) -> bool:
    a_end = a.valid_until or date.max
    b_end = b.valid_until or date.max
    return a.valid_from < b_end and b.valid_from < a_end


class TariffBook:
    """The price list at hand: finds each session's tariff, fast and unambiguously."""

    def __init__(self, tariffs: list[Tariff]) -> None:
        self._tariffs = sorted(tariffs, key=lambda t: (t.specificity, t.id), reverse=True)
        _refuse_ambiguity(self._tariffs)
        self._cache: dict[tuple[str, str, str, date], Tariff | None] = {}

    def __len__(self) -> int:
        return len(self._tariffs)

    def find(self, machine_id: str, machine_kind: str, category: str, day: date) -> Tariff | None:
        key = (machine_id, machine_kind, category, day)
        if key not in self._cache:
            self._cache[key] = next(
                (
                    t
                    for t in self._tariffs
                    if t.valid_on(day) and t.matches(machine_id, machine_kind, category)
                ),
                None,
            )
        return self._cache[key]


def _refuse_ambiguity(tariffs: list[Tariff]) -> None:
    scopes: dict[tuple[str | None, str | None, str | None], list[Tariff]] = defaultdict(list)
    for tariff in tariffs:
        scopes[(tariff.machine_id, tariff.machine_kind, tariff.category)].append(tariff)
    for same_scope in scopes.values():
        for i, a in enumerate(same_scope):
            for b in same_scope[i + 1 :]:
                if _overlap(a, b):
                    raise Invalid(
                        f"tariffs {a.name!r} (#{a.id}) and {b.name!r} (#{b.id}) apply to the same "
                        "machines and category on overlapping dates: end one before the other "
                        "starts"
                    )
