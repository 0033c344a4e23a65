"""Pricing: each closed session, its tariff and the buyer's hour packs -> what it costs. Pure.

Per session, time is billed as the tariff says: on badge time, or on the machine's measured busy
time (a session the bridge did not measure falls back to badge time, and is counted so the run
can say so); raised to the minimum, then rounded up to the increment; a session with no time at
all costs no time. Idle time (badge minus busy) has its own price on busy-time tariffs. A session
whose reason the tariff lists as free (training, maintenance) costs nothing but is still shown.

Amounts stay exact here (a `Decimal` fraction of the hourly price): rounding to the cent happens
once, on the invoice line that sums them (`hub.billing.document.line_amount`).

Prepaid hour packs are drawn in session order (start time, then id), from the pack that expires
first, and only on billable time; what a pack covers is billed at zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from hub.billing.tariffs import HOUR_S, ZERO, Basis, Tariff, TariffBook
from hub.errors import Invalid

KWH_WH = Decimal(1000)


@dataclass(frozen=True, slots=True)
class Usage:
    """A closed session, with what billing needs to know about its member and machine."""

    # The session's UUID as 32 hex digits, the form the database stores and compares.
    session_id: str
    buyer: str
    member_ref: str
    member_name: str
    machine_id: str
    machine_name: str
    machine_kind: str
    category: str
    # The local day the session started: it picks the tariff and the billing month.
    day: date
    started_at: datetime
    badge_s: int
    busy_s: int | None = None
    energy_wh: Decimal | None = None
    reason: str | None = None


@dataclass(slots=True)
class Pack:
    """Prepaid hours a buyer holds: `seconds` is what is left before this pricing."""

    id: int
    buyer: str
    seconds: int
    valid_from: date
    valid_until: date
    machine_id: str | None = None
    machine_kind: str | None = None

    def covers(self, usage: Usage) -> bool:
        return (
            self.buyer == usage.buyer
            and self.valid_from <= usage.day < self.valid_until
            and (self.machine_id is None or self.machine_id == usage.machine_id)
            and (self.machine_kind is None or self.machine_kind == usage.machine_kind)
        )


@dataclass(frozen=True, slots=True)
class Priced:
    """One session priced: billable quantities, and exact (unrounded) amounts."""

    usage: Usage
    tariff: Tariff
    free: str | None
    time_s: int
    idle_s: int
    energy_kwh: Decimal
    measured: bool
    # (pack id, seconds) drawn for this session's time, and their sum.
    draws: tuple[tuple[int, int], ...] = ()
    packed_s: int = 0

    @property
    def paid_time_s(self) -> int:
        return 0 if self.free else self.time_s - self.packed_s

    @property
    def time_amount(self) -> Decimal:
        return self.tariff.hourly_price * self.paid_time_s / HOUR_S

    @property
    def idle_amount(self) -> Decimal:
        return ZERO if self.free else self.tariff.idle_hourly_price * self.idle_s / HOUR_S

    @property
    def energy_amount(self) -> Decimal:
        return ZERO if self.free else self.tariff.energy_kwh_price * self.energy_kwh

    @property
    def fee(self) -> Decimal:
        return ZERO if self.free else self.tariff.session_fee

    @property
    def amount(self) -> Decimal:
        """Everything this session costs, exact."""
        return self.time_amount + self.idle_amount + self.energy_amount + self.fee


@dataclass
class Pricing:
    priced: list[Priced]
    # Seconds drawn from each pack by these sessions.
    pack_use: dict[int, int] = field(default_factory=dict)

    @property
    def unmeasured(self) -> int:
        """Busy-time sessions billed on badge time because nothing measured them."""
        return sum(
            1 for p in self.priced if p.tariff.basis is Basis.BUSY and not p.measured and not p.free
        )


def billable_seconds(seconds: int, *, minimum_s: int, increment_s: int) -> int:
    """The minimum first, then up to the increment; no time stays no time."""
    if seconds <= 0:
        return 0
    raised = max(seconds, minimum_s)
    return -(-raised // increment_s) * increment_s


def free_reason(usage: Usage, tariff: Tariff) -> str | None:
    return usage.reason if usage.reason in tariff.free_reasons else None


def price_sessions(
    usages: Iterable[Usage], book: TariffBook, packs: Sequence[Pack] = ()
) -> Pricing:
    """Price every session; raises `Invalid` naming the sessions no tariff covers."""
    ordered = sorted(usages, key=lambda u: (u.started_at, u.session_id))
    missing: set[tuple[str, str, date]] = set()
    pricing = Pricing(priced=[])
    draw = _PackDraw(packs)
    for usage in ordered:
        tariff = book.find(usage.machine_id, usage.machine_kind, usage.category, usage.day)
        if tariff is None:
            missing.add((usage.machine_id, usage.category, usage.day))
            continue
        pricing.priced.append(_price(usage, tariff, draw))
    if missing:
        shown = ", ".join(f"{m} for {c} on {d.isoformat()}" for m, c, d in sorted(missing)[:10])
        raise Invalid(f"no tariff for {len(missing)} machine/category/day: {shown}")
    pricing.pack_use = draw.used
    return pricing


def _price(usage: Usage, tariff: Tariff, draw: _PackDraw) -> Priced:
    measured = usage.busy_s is not None
    on_busy = tariff.basis is Basis.BUSY and usage.busy_s is not None
    worked = usage.busy_s if on_busy and usage.busy_s is not None else usage.badge_s
    time_s = billable_seconds(worked, minimum_s=tariff.minimum_s, increment_s=tariff.increment_s)
    idle_s = 0
    if on_busy and tariff.idle_hourly_price > 0 and usage.busy_s is not None:
        idle = max(usage.badge_s - usage.busy_s, 0)
        idle_s = billable_seconds(idle, minimum_s=0, increment_s=tariff.increment_s)
    energy = ZERO
    if tariff.energy_kwh_price > 0 and usage.energy_wh is not None:
        energy = usage.energy_wh / KWH_WH
    free = free_reason(usage, tariff)
    draws = () if free or not draw.any else draw.take(usage, time_s)
    packed = sum(seconds for _, seconds in draws)
    return Priced(usage, tariff, free, time_s, idle_s, energy, measured, draws, packed)


class _PackDraw:
    def __init__(self, packs: Sequence[Pack]) -> None:
        self._packs = sorted(
            (replace(p) for p in packs),  # copies: pricing never changes the caller's packs
            key=lambda p: (p.valid_until, p.id),
        )
        self.used: dict[int, int] = {}
        self.any = bool(self._packs)

    def take(self, usage: Usage, seconds: int) -> tuple[tuple[int, int], ...]:
        draws = []
        left = seconds
        for pack in self._packs:
            if left == 0:
                break
            if pack.seconds > 0 and pack.covers(usage):
                part = min(pack.seconds, left)
                pack.seconds -= part
                left -= part
                self.used[pack.id] = self.used.get(pack.id, 0) + part
                draws.append((pack.id, part))
        return tuple(draws)
