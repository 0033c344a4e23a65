"""Pricing and invoice assembly: golden cases a price list must get right, then properties.

The properties use exact fractions as the oracle: the invoice lines must add up to exactly what
the sessions cost, each line rounded to the cent once.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.billing.document import CENT, Address, Party, Payment, VatCategory, VatRate
from hub.billing.invoicing import (
    Buyer,
    Draft,
    Period,
    VatRegime,
    assemble,
    credit_note,
)
from hub.billing.pricing import Pack, Priced, Pricing, Usage, billable_seconds, price_sessions
from hub.billing.tariffs import Basis, Tariff, TariffBook
from hub.errors import Invalid

NOV = Period(month="2026-11", first=date(2026, 11, 1), last=date(2026, 11, 30))
SELLER = Party(
    name="Dynamocoop SCRL",
    address=Address(street="Rue Dony 1", postcode="4000", city="Liège"),
    endpoint_scheme="0208",
    endpoint_id="0403170701",
    reference="0403170701",
    enterprise_number="0403170701",
    vat_number="BE0403170701",
)
PAYMENT = Payment(iban="BE68539007547034")


def party(key: str) -> Party:
    return Party(
        name=f"Atelier {key}",
        address=Address(city="Liège"),
        endpoint_scheme="0208",
        endpoint_id="0403170701",
        reference=key,
    )


def usage(
    *,
    minutes: float = 30,
    busy_minutes: float | None = None,
    machine: str = "laser-1",
    kind: str = "laser_cutter",
    buyer: str = "org-1",
    member: str = "m-0001",
    category: str = "resident_artisan",
    day: date = date(2026, 11, 3),
    hour: int = 9,
    energy_wh: str | None = None,
    reason: str | None = None,
) -> Usage:
    started = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return Usage(
        session_id=uuid.uuid4().hex,
        buyer=buyer,
        member_ref=member,
        member_name=f"Artisan {member}",
        machine_id=machine,
        machine_name=machine.capitalize(),
        machine_kind=kind,
        category=category,
        day=day,
        started_at=started,
        badge_s=round(minutes * 60),
        busy_s=None if busy_minutes is None else round(busy_minutes * 60),
        energy_wh=None if energy_wh is None else Decimal(energy_wh),
        reason=reason,
    )


def tariff(**overrides: object) -> Tariff:
    values: dict[str, object] = {
        "id": 1,
        "name": "laser",
        "valid_from": date(2026, 1, 1),
        "hourly_price": Decimal("25.00"),
    }
    values.update(overrides)
    return Tariff(**values)  # type: ignore[arg-type]


def one(u: Usage, t: Tariff, packs: list[Pack] | None = None) -> Priced:
    return price_sessions([u], TariffBook([t]), packs or []).priced[0]


# --- golden cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "minimum", "increment", "billed"),
    [
        (430, 900, 60, 900),  # 7 min 10 s with a 15-minute minimum
        (430, 0, 300, 600),  # per started 5 minutes
        (3600, 900, 900, 3600),
        (3601, 0, 60, 3660),
        (0, 900, 60, 0),  # a badge in and straight out costs no time
        (1, 0, 1, 1),
    ],
)
def test_minimum_then_increment(seconds: int, minimum: int, increment: int, billed: int) -> None:
    assert billable_seconds(seconds, minimum_s=minimum, increment_s=increment) == billed


def test_busy_time_tariff_bills_what_the_machine_measured_and_idle_apart() -> None:
    t = tariff(basis=Basis.BUSY, idle_hourly_price=Decimal("6.00"), increment_s=60)
    p = one(usage(minutes=60, busy_minutes=20.5), t)
    assert (p.time_s, p.idle_s) == (21 * 60, 40 * 60)
    assert p.amount == Decimal("25") * 21 / 60 + Decimal(6) * 40 / 60


def test_unmeasured_session_on_busy_tariff_falls_back_to_badge_time_and_is_counted() -> None:
    t = tariff(basis=Basis.BUSY)
    pricing = price_sessions([usage(minutes=45)], TariffBook([t]))
    assert pricing.priced[0].time_s == 45 * 60
    assert pricing.unmeasured == 1


def test_session_fee_and_energy() -> None:
    t = tariff(session_fee=Decimal("2.00"), energy_kwh_price=Decimal("0.35"))
    p = one(usage(minutes=60, energy_wh="1500.0"), t)
    assert p.amount == Decimal("25.00") + Decimal("2.00") + Decimal("0.35") * Decimal("1.5")


def test_training_and_maintenance_sessions_are_free_but_shown() -> None:
    t = tariff(session_fee=Decimal("2"))
    book = TariffBook([t])
    pricing = price_sessions(
        [
            usage(reason="training"),
            usage(reason="maintenance", hour=10),
            usage(reason="x", hour=11),
        ],
        book,
    )
    assert [p.amount for p in pricing.priced][:2] == [Decimal(0), Decimal(0)]
    [draft] = build(pricing, {"org-1": Buyer("org-1", party("org-1"))})
    names = [line.name for line in draft.document.lines]
    assert "Laser-1 — formation (gratuit)" in names
    assert "Laser-1 — maintenance (gratuit)" in names


def test_the_tariff_valid_when_the_session_started_prices_it() -> None:
    old = tariff(id=1, valid_until=date(2026, 11, 15), hourly_price=Decimal("20"))
    new = tariff(id=2, valid_from=date(2026, 11, 15), hourly_price=Decimal("30"))
    book = TariffBook([old, new])
    before = usage(minutes=60, day=date(2026, 11, 14), hour=23)
    after = usage(minutes=60, day=date(2026, 11, 15), hour=0)
    pricing = price_sessions([before, after], book)
    assert [p.tariff.id for p in pricing.priced] == [1, 2]
    [draft] = build(pricing, {"org-1": Buyer("org-1", party("org-1"))})
    assert [line.price for line in draft.document.lines] == [Decimal(20), Decimal(30)]


def test_most_specific_tariff_wins() -> None:
    anything = tariff(id=1, hourly_price=Decimal(10))
    lasers = tariff(id=2, machine_kind="laser_cutter", hourly_price=Decimal(20))
    laser_for_externals = tariff(
        id=3, machine_kind="laser_cutter", category="external", hourly_price=Decimal(30)
    )
    this_laser = tariff(id=4, machine_id="laser-2", hourly_price=Decimal(40))
    book = TariffBook([anything, lasers, laser_for_externals, this_laser])
    d = date(2026, 11, 3)
    assert book.find("mill-1", "cnc_mill", "external", d) is anything
    assert book.find("laser-1", "laser_cutter", "resident_artisan", d) is lasers
    assert book.find("laser-1", "laser_cutter", "external", d) is laser_for_externals
    assert book.find("laser-2", "laser_cutter", "external", d) is this_laser


def test_overlapping_tariffs_of_the_same_scope_are_refused() -> None:
    with pytest.raises(Invalid, match="overlapping"):
        TariffBook([tariff(id=1), tariff(id=2, valid_from=date(2026, 6, 1))])


def test_a_session_no_tariff_covers_is_named() -> None:
    book = TariffBook([tariff(machine_kind="laser_cutter")])
    with pytest.raises(Invalid, match="mill-1 for resident_artisan on 2026-11-03"):
        price_sessions([usage(machine="mill-1", kind="cnc_mill")], book)


def test_packs_cover_time_first_expiring_first_and_only_their_scope() -> None:
    t = tariff(increment_s=60)
    late = Pack(
        id=1, buyer="org-1", seconds=3600, valid_from=NOV.first, valid_until=date(2027, 1, 1)
    )
    soon = Pack(
        id=2, buyer="org-1", seconds=1800, valid_from=NOV.first, valid_until=date(2026, 12, 1)
    )
    mill_only = Pack(
        id=3,
        buyer="org-1",
        seconds=9999,
        valid_from=NOV.first,
        valid_until=date(2027, 1, 1),
        machine_kind="cnc_mill",
    )
    pricing = price_sessions(
        [usage(minutes=40), usage(minutes=40, hour=10), usage(minutes=40, hour=11)],
        TariffBook([t]),
        [late, soon, mill_only],
    )
    assert [p.packed_s for p in pricing.priced] == [2400, 2400, 600]
    assert pricing.pack_use == {2: 1800, 1: 3600}
    assert late.seconds == 3600  # the caller's packs are left as they were
    [draft] = build(pricing, {"org-1": Buyer("org-1", party("org-1"))})
    assert draft.document.totals().lines == Decimal("12.50")  # 120 - 90 prepaid minutes at 25 €/h
    assert dict(draft.pack_use) == {1: 3600, 2: 1800}


def test_monthly_cap_is_an_allowance_at_the_tariff_rate() -> None:
    t = tariff(monthly_cap=Decimal("100.00"), vat=VatRate(percent=Decimal(21)))
    usages = [usage(minutes=120, day=date(2026, 11, d)) for d in range(2, 8)]  # 12 h = 300 €
    [draft] = build(
        price_sessions(usages, TariffBook([t])), {"org-1": Buyer("org-1", party("org-1"))}
    )
    doc = draft.document
    assert [a.amount for a in doc.allowances] == [Decimal("200.00")]
    totals = doc.totals()
    assert totals.tax_exclusive == Decimal("100.00")
    assert totals.tax == Decimal("21.00")


def test_reverse_charge_buyer_gets_ae_at_zero() -> None:
    pricing = price_sessions([usage()], TariffBook([tariff()]))
    buyers = {"org-1": Buyer("org-1", party("org-1"), VatRegime.REVERSE_CHARGE)}
    [draft] = build(pricing, buyers)
    [subtotal] = draft.document.vat_breakdown()
    assert subtotal.vat.category is VatCategory.REVERSE_CHARGE
    assert subtotal.tax == 0
    assert subtotal.vat.exemption_reason == "Autoliquidation"


def test_prepaid_credit_pays_what_it_can() -> None:
    pricing = price_sessions([usage(minutes=60)], TariffBook([tariff()]))
    buyers = {"org-1": Buyer("org-1", party("org-1"))}
    [draft] = build(pricing, buyers, credits={"org-1": Decimal(100)})
    totals = draft.document.totals()
    assert totals.tax_inclusive == Decimal("30.25")
    assert (totals.prepaid, totals.payable) == (Decimal("30.25"), Decimal(0))
    assert draft.credit_used == Decimal("30.25")


def test_late_sessions_get_their_own_lines() -> None:
    pricing = price_sessions(
        [usage(day=date(2026, 10, 30)), usage(day=date(2026, 11, 2))], TariffBook([tariff()])
    )
    [draft] = build(pricing, {"org-1": Buyer("org-1", party("org-1"))})
    assert [line.note for line in draft.document.lines] == [
        "1 session(s), utilisation de 2026-10",
        "1 session(s)",
    ]


def test_credit_note_credits_whole_invoice_or_chosen_lines() -> None:
    pricing = price_sessions(
        [usage(machine="laser-1"), usage(machine="mill-1", kind="cnc_mill")],
        TariffBook([tariff()]),
    )
    [draft] = build(pricing, {"org-1": Buyer("org-1", party("org-1"))})
    issued = draft.document.model_copy(
        update={"number": "F2026-000007", "issue_date": date(2026, 12, 2)}
    )
    whole = credit_note(issued)
    assert whole.totals().payable == issued.totals().payable
    assert whole.corrects is not None and whole.corrects.number == "F2026-000007"
    part = credit_note(issued, line_ids=["2"])
    assert [line.name for line in part.lines] == ["Mill-1 — temps d'utilisation"]
    with pytest.raises(Invalid, match="no line"):
        credit_note(issued, line_ids=["9"])


def build(
    pricing: Pricing, buyers: dict[str, Buyer], *, credits: dict[str, Decimal] | None = None
) -> list[Draft]:
    return assemble(pricing, buyers, period=NOV, seller=SELLER, payment=PAYMENT, credits=credits)


# --- properties ------------------------------------------------------------------------------

MACHINES = [("laser-1", "laser_cutter"), ("mill-1", "cnc_mill"), ("printer-1", "printer_3d")]
RATES = [Decimal(21), Decimal(6), Decimal(12)]


@st.composite
def price_lists(draw: st.DrawFn) -> list[Tariff]:
    tariffs = []
    for i, (machine, _) in enumerate(MACHINES, start=1):
        change = draw(st.sampled_from([None, date(2026, 11, 10), date(2026, 11, 20)]))
        prices = st.decimals(min_value=0, max_value=200, places=2)
        common = {
            "machine_id": machine,
            "basis": draw(st.sampled_from(list(Basis))),
            "increment_s": draw(st.sampled_from([1, 60, 300, 900, 3600])),
            "minimum_s": draw(st.sampled_from([0, 600, 900])),
            "session_fee": draw(st.sampled_from([Decimal(0), Decimal("1.50")])),
            "idle_hourly_price": draw(st.sampled_from([Decimal(0), Decimal("3.33")])),
            "energy_kwh_price": draw(st.sampled_from([Decimal(0), Decimal("0.3517")])),
            "monthly_cap": draw(st.sampled_from([None, Decimal("50.00")])),
            "vat": VatRate(percent=draw(st.sampled_from(RATES))),
        }
        if change is None:
            tariffs.append(tariff(id=i * 10, name=machine, hourly_price=draw(prices), **common))
        else:
            tariffs.append(
                tariff(
                    id=i * 10, name=machine, hourly_price=draw(prices), valid_until=change, **common
                )
            )
            tariffs.append(
                tariff(
                    id=i * 10 + 1,
                    name=machine + "+",
                    valid_from=change,
                    hourly_price=draw(prices),
                    **common,
                )
            )
    return tariffs


@st.composite
def month_of_sessions(draw: st.DrawFn) -> list[Usage]:
    count = draw(st.integers(min_value=1, max_value=60))
    rng = random.Random(draw(st.integers(0, 2**32)))
    out = []
    for _ in range(count):
        machine, kind = rng.choice(MACHINES)
        badge = rng.choice([0, 1, 59, 61, 599, 3599, 3600, 5432, rng.randrange(0, 30000)])
        busy = rng.choice([None, rng.randrange(0, badge + 1)])
        out.append(
            Usage(
                session_id=f"{rng.getrandbits(128):032x}",
                buyer=rng.choice(["org-1", "org-2", "m-0009"]),
                member_ref=rng.choice(["m-0001", "m-0002", "m-0009"]),
                member_name="A",
                machine_id=machine,
                machine_name=machine,
                machine_kind=kind,
                category="resident_artisan",
                day=date(2026, 11, rng.randrange(1, 31)),
                started_at=datetime(2026, 11, 1, tzinfo=UTC)
                + timedelta(seconds=rng.randrange(10**6)),
                badge_s=badge,
                busy_s=busy,
                energy_wh=rng.choice([None, Decimal(rng.randrange(0, 50000)) / 10]),
                reason=rng.choice([None, None, None, "training", "maintenance"]),
            )
        )
    return out


def exact(p: Priced) -> Fraction:
    if p.free:
        return Fraction(0)
    t = p.tariff
    return (
        Fraction(t.hourly_price) * p.paid_time_s / 3600
        + Fraction(t.idle_hourly_price) * p.idle_s / 3600
        + Fraction(t.session_fee)
        + (Fraction(t.energy_kwh_price) * Fraction(p.energy_kwh) if t.energy_kwh_price else 0)
    )


def cents(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, ROUND_HALF_UP)


BUYERS = {k: Buyer(k, party(k)) for k in ("org-1", "org-2", "m-0009")}


def run(
    usages: list[Usage], tariffs: list[Tariff], packs: list[Pack]
) -> tuple[list[Draft], list[Priced]]:
    pricing = price_sessions(usages, TariffBook(tariffs), packs)
    return build(pricing, BUYERS), pricing.priced


def some_packs() -> list[Pack]:
    return [
        Pack(id=1, buyer="org-1", seconds=7200, valid_from=NOV.first, valid_until=date(2027, 1, 1))
    ]


@settings(max_examples=150, deadline=None)
@given(usages=month_of_sessions(), tariffs=price_lists())
def test_invoice_lines_add_up_exactly_to_the_priced_sessions(
    usages: list[Usage], tariffs: list[Tariff]
) -> None:
    drafts, priced = run(usages, tariffs, some_packs())
    for draft in drafts:
        mine = [p for p in priced if p.usage.buyer == draft.buyer]
        lines = draft.document.lines
        line_exact = [
            Fraction(ln.quantity) * Fraction(ln.price) / Fraction(ln.base_quantity) for ln in lines
        ]
        # Nothing lost or invented between the sessions and the lines, to the last fraction ...
        assert sum(line_exact) == sum(exact(p) for p in mine)
        # ... and each line rounded once, half up, to the cent.
        assert [ln.amount for ln in lines] == [cents(x) for x in line_exact]
        assert sorted(draft.sessions) == sorted(p.usage.session_id for p in mine)
        seconds = sum(
            ln.quantity * {"HUR": 3600, "MIN": 60, "SEC": 1}[ln.unit]
            for ln in lines
            if ln.unit in ("HUR", "MIN", "SEC")
        )
        assert seconds == sum(p.time_s + (0 if p.free else p.idle_s) for p in mine)


@settings(max_examples=150, deadline=None)
@given(usages=month_of_sessions(), tariffs=price_lists())
def test_totals_are_exact_to_the_cent(usages: list[Usage], tariffs: list[Tariff]) -> None:
    drafts, _ = run(usages, tariffs, [])
    for draft in drafts:
        doc = draft.document
        t = doc.totals()
        for amount in (t.lines, t.allowances, t.tax_exclusive, t.tax, t.tax_inclusive, t.payable):
            assert amount == amount.quantize(CENT)
        assert t.lines == sum(ln.amount for ln in doc.lines)
        assert t.tax_exclusive == t.lines - t.allowances
        breakdown = doc.vat_breakdown()
        assert sum(s.taxable for s in breakdown) == t.tax_exclusive
        for s in breakdown:  # VAT once per rate on the rate's base, half up
            assert s.tax == cents(Fraction(s.taxable) * Fraction(s.vat.percent) / 100)
        assert t.tax_inclusive == t.tax_exclusive + t.tax
        assert t.payable == t.tax_inclusive - t.prepaid


@settings(max_examples=60, deadline=None)
@given(usages=month_of_sessions(), tariffs=price_lists(), seed=st.integers(0, 1000))
def test_rerunning_a_month_gives_the_same_drafts(
    usages: list[Usage], tariffs: list[Tariff], seed: int
) -> None:
    first, _ = run(usages, tariffs, some_packs())
    shuffled = usages[:]
    random.Random(seed).shuffle(shuffled)
    again, _ = run(shuffled, list(reversed(tariffs)), some_packs())
    assert [d.fingerprint for d in first] == [d.fingerprint for d in again]
    assert [d.document for d in first] == [d.document for d in again]
