"""From priced sessions to draft documents, one per buyer; and credit notes. Pure.

Lines are aggregated per machine, tariff, month of use and component (time, idle time, session
fees, energy, prepaid hours, free use), so an accountant reads one line per machine and rate, and
the artisan sees which part is free. A quantity is the exact sum of its sessions' quantities; its
amount is rounded to the cent once, there. Time quantities are whole units: hours when every
session's time is whole hours, else minutes, else seconds.

A monthly cap is a document-level allowance per member, tariff and month, in the tariff's VAT
rate, so the VAT base of that rate stays right (BR-S-08). A buyer's prepaid credit pays what it
can of the total (BT-113).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from hub.billing.document import (
    ZERO,
    Allowance,
    Document,
    DocumentKind,
    InvoiceReference,
    Line,
    Party,
    Payment,
    Totals,
    VatCategory,
    VatRate,
    money,
)
from hub.billing.pricing import Priced, Pricing
from hub.billing.tariffs import Basis, Tariff, time_unit
from hub.errors import Invalid

KWH = "KWH"
UNIT = "C62"


class VatRegime(StrEnum):
    """How VAT treats a buyer, whatever the tariff says."""

    STANDARD = "standard"
    REVERSE_CHARGE = "reverse_charge"
    EXEMPT = "exempt"


class Component(StrEnum):
    TIME = "time"
    IDLE = "idle"
    FEE = "fee"
    ENERGY = "energy"
    PREPAID = "prepaid"
    FREE = "free"


ORDER = list(Component)


@dataclass(frozen=True)
class Wording:
    """What the documents say, in their language; the legal mentions come from settings."""

    language: str = "fr"
    reverse_charge_reason: str = "Autoliquidation"
    reverse_charge_code: str = "VATEX-EU-AE"
    exempt_reason: str = "Exemption de la TVA, article 44 du Code de la TVA"
    exempt_code: str | None = None


LABELS = {
    "fr": {
        Component.TIME: "{machine} — temps d'utilisation",
        Component.IDLE: "{machine} — temps à l'arrêt",
        Component.FEE: "{machine} — frais par session",
        Component.ENERGY: "{machine} — énergie",
        Component.PREPAID: "{machine} — heures prépayées",
        Component.FREE: "{machine} — {reason} (gratuit)",
        "busy": "{machine} — temps machine en marche",
        "sessions": "{count} session(s)",
        "late": "utilisation de {month}",
        "cap": "Plafond mensuel {machine} — {member}",
        "training": "formation",
        "maintenance": "maintenance",
    },
    "en": {
        Component.TIME: "{machine} — usage time",
        Component.IDLE: "{machine} — idle time",
        Component.FEE: "{machine} — per-session fee",
        Component.ENERGY: "{machine} — energy",
        Component.PREPAID: "{machine} — prepaid hours",
        Component.FREE: "{machine} — {reason} (free)",
        "busy": "{machine} — machine running time",
        "sessions": "{count} session(s)",
        "late": "usage of {month}",
        "cap": "Monthly cap {machine} — {member}",
        "training": "training",
        "maintenance": "maintenance",
    },
}


@dataclass(frozen=True)
class Buyer:
    key: str
    party: Party
    regime: VatRegime = VatRegime.STANDARD


@dataclass(frozen=True)
class Draft:
    """A document before its number, with what issuing it will record."""

    buyer: str
    document: Document
    sessions: tuple[str, ...]  # session ids, 32 hex digits, sorted
    pack_use: tuple[tuple[int, int], ...]
    credit_used: Decimal

    @cached_property
    def totals(self) -> Totals:
        return self.document.totals()

    @cached_property
    def fingerprint(self) -> str:
        """Identifies what the draft bills: the same month computed twice gives the same one."""
        content = "|".join(
            (self.document.model_dump_json(), ",".join(self.sessions), repr(self.pack_use))
        )
        return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class Period:
    month: str  # `2026-11`
    first: date
    last: date  # inclusive


def assemble(
    pricing: Pricing,
    buyers: Mapping[str, Buyer],
    *,
    period: Period,
    seller: Party,
    payment: Payment,
    credits: Mapping[str, Decimal] | None = None,
    wording: Wording | None = None,
) -> list[Draft]:
    """One draft invoice per buyer with sessions in `pricing`, sorted by buyer key."""
    words = wording or Wording()
    per_buyer: dict[str, list[Priced]] = defaultdict(list)
    for priced in pricing.priced:
        per_buyer[priced.usage.buyer].append(priced)
    drafts = []
    for key in sorted(per_buyer):
        if key not in buyers:
            raise Invalid(f"sessions billed to {key!r}, which is not a known buyer")
        drafts.append(
            _draft(
                buyers[key],
                per_buyer[key],
                period=period,
                seller=seller,
                payment=payment,
                credit=(credits or {}).get(key, ZERO),
                words=words,
            )
        )
    return drafts


def _draft(
    buyer: Buyer,
    priced: list[Priced],
    *,
    period: Period,
    seller: Party,
    payment: Payment,
    credit: Decimal,
    words: Wording,
) -> Draft:
    lines = _lines(priced, buyer.regime, period, words)
    allowances = _caps(priced, buyer.regime, words)
    document = Document(
        kind=DocumentKind.INVOICE,
        period_start=period.first,
        period_end=period.last,
        seller=seller,
        buyer=buyer.party,
        lines=lines,
        allowances=allowances,
        payment=payment,
    )
    due = document.totals().tax_inclusive
    used = min(max(credit, ZERO), max(due, ZERO))
    if used:
        document = document.model_copy(update={"prepaid": used})
    draws: dict[int, int] = defaultdict(int)
    for p in priced:
        for pack_id, seconds in p.draws:
            draws[pack_id] += seconds
    return Draft(
        buyer=buyer.key,
        document=document,
        sessions=tuple(sorted(p.usage.session_id for p in priced)),
        pack_use=tuple(sorted(draws.items())),
        credit_used=used,
    )


def effective_vat(tariff: Tariff, regime: VatRegime, words: Wording) -> VatRate:
    if regime is VatRegime.REVERSE_CHARGE:
        return VatRate(
            category=VatCategory.REVERSE_CHARGE,
            percent=Decimal(0),
            exemption_code=words.reverse_charge_code,
            exemption_reason=words.reverse_charge_reason,
        )
    if regime is VatRegime.EXEMPT:
        return VatRate(
            category=VatCategory.EXEMPT,
            percent=Decimal(0),
            exemption_code=words.exempt_code,
            exemption_reason=words.exempt_reason,
        )
    return tariff.vat


@dataclass
class _Sum:
    """What one line adds up: seconds, session count or kWh, and the sessions behind it."""

    seconds: int = 0
    count: int = 0
    kwh: Decimal = ZERO
    sessions: int = 0


LineKey = tuple[str, str, int, int, int, str]  # machine name, id, tariff, yyyymm, order, reason


def _lines(
    priced: Iterable[Priced], regime: VatRegime, period: Period, words: Wording
) -> tuple[Line, ...]:
    sums: dict[LineKey, _Sum] = defaultdict(_Sum)
    tariffs: dict[int, Tariff] = {}
    for p in priced:
        u = p.usage
        tariffs[p.tariff.id] = p.tariff
        base = (u.machine_name, u.machine_id, p.tariff.id, u.day.year * 100 + u.day.month)
        for component, amount in _components(p):
            reason = p.free or "" if component is Component.FREE else ""
            s = sums[(*base, ORDER.index(component), reason)]
            s.sessions += 1
            if component is Component.FEE:
                s.count += amount  # type: ignore[assignment]
            elif component is Component.ENERGY:
                s.kwh += amount
            else:
                s.seconds += int(amount)
    lines: list[Line] = []
    for key in sorted(sums):
        line = _line(key, sums[key], tariffs[key[2]], regime=regime, period=period, words=words)
        lines.append(line.model_copy(update={"line_id": str(len(lines) + 1)}))
    return tuple(lines)


def _components(p: Priced) -> list[tuple[Component, Decimal | int]]:
    """The quantities a session adds to each line of its machine (only the non-zero ones)."""
    if p.free:
        return [(Component.FREE, p.time_s)]
    out: list[tuple[Component, Decimal | int]] = []
    if p.paid_time_s or not p.packed_s:
        out.append((Component.TIME, p.paid_time_s))
    if p.packed_s:
        out.append((Component.PREPAID, p.packed_s))
    if p.idle_s:
        out.append((Component.IDLE, p.idle_s))
    if p.tariff.session_fee:
        out.append((Component.FEE, 1))
    if p.energy_kwh and p.tariff.energy_kwh_price:
        out.append((Component.ENERGY, p.energy_kwh))
    return out


def _line(
    key: LineKey, s: _Sum, tariff: Tariff, *, regime: VatRegime, period: Period, words: Wording
) -> Line:
    machine_name, machine_id, _, yyyymm, order, reason = key
    month = f"{yyyymm // 100:04d}-{yyyymm % 100:02d}"
    component = ORDER[order]
    labels = LABELS[words.language]
    template = labels["busy"] if _busy_time(component, tariff) else labels[component]
    name = template.format(machine=machine_name, reason=labels.get(reason, reason))
    note = labels["sessions"].format(count=s.sessions)
    if month != period.month:
        note += ", " + labels["late"].format(month=month)
    quantity, unit, price, base = _quantity(component, s, tariff)
    return Line(
        line_id="0",
        name=name,
        note=note,
        quantity=quantity,
        unit=unit,
        price=price,
        base_quantity=base,
        vat=effective_vat(tariff, regime, words),
        machine_id=machine_id,
        account=tariff.account,
    )


def _busy_time(component: Component, tariff: Tariff) -> bool:
    return component is Component.TIME and tariff.basis is Basis.BUSY


def _quantity(
    component: Component, s: _Sum, tariff: Tariff
) -> tuple[Decimal, str, Decimal, Decimal]:
    if component is Component.FEE:
        return Decimal(s.count), UNIT, tariff.session_fee, Decimal(1)
    if component is Component.ENERGY:
        return s.kwh, KWH, tariff.energy_kwh_price, Decimal(1)
    unit = time_unit(math.gcd(tariff.increment_s, s.seconds))
    price = {
        Component.TIME: tariff.hourly_price,
        Component.IDLE: tariff.idle_hourly_price,
    }.get(component, ZERO)
    return Decimal(s.seconds // unit.seconds), unit.code, price, unit.per_hour


def _caps(priced: Iterable[Priced], regime: VatRegime, words: Wording) -> tuple[Allowance, ...]:
    spent: dict[tuple[str, int, str], Decimal] = defaultdict(lambda: ZERO)
    about: dict[tuple[str, int, str], Priced] = {}
    for p in priced:
        if p.tariff.monthly_cap is None or p.free:
            continue
        key = (p.usage.member_ref, p.tariff.id, p.usage.day.strftime("%Y-%m"))
        spent[key] += p.amount
        about.setdefault(key, p)
    allowances = []
    for key in sorted(spent):
        p = about[key]
        cap = p.tariff.monthly_cap
        assert cap is not None  # only capped tariffs were summed
        excess = money(spent[key] - cap)
        if excess > 0:
            reason = LABELS[words.language]["cap"].format(
                machine=p.usage.machine_name, member=p.usage.member_name
            )
            allowances.append(
                Allowance(
                    reason=reason,
                    amount=excess,
                    vat=effective_vat(p.tariff, regime, words),
                    machine_id=p.usage.machine_id,
                    account=p.tariff.account,
                )
            )
    return tuple(allowances)


def credit_note(
    invoice: Document, *, line_ids: Sequence[str] | None = None, note: str | None = None
) -> Document:
    """A credit note for an issued invoice: every line, or the lines named, with their
    allowances when the whole invoice is credited. Positive amounts, as UBL wants."""
    if invoice.kind is not DocumentKind.INVOICE or invoice.number is None:
        raise Invalid("only an issued invoice can be credited")
    if invoice.issue_date is None:
        raise Invalid(f"invoice {invoice.number} has no issue date")
    whole = line_ids is None
    if not whole and invoice.allowances:
        # A cap spreads over the lines it capped: crediting some lines could refund more than
        # was paid for them.
        raise Invalid(f"invoice {invoice.number} has a monthly cap: credit the whole invoice")
    chosen = invoice.lines if whole else _pick(invoice, line_ids or ())
    # Lines keep the invoice's ids: what a credit note credits stays traceable line by line.
    lines = tuple(chosen)
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        seller=invoice.seller,
        buyer=invoice.buyer,
        lines=lines,
        allowances=invoice.allowances if whole else (),
        payment=invoice.payment.model_copy(update={"reference": None}),
        note=note,
        corrects=InvoiceReference(number=invoice.number, issue_date=invoice.issue_date),
    )


def _pick(invoice: Document, line_ids: Sequence[str]) -> tuple[Line, ...]:
    by_id = {line.line_id: line for line in invoice.lines}
    unknown = [i for i in line_ids if i not in by_id]
    if unknown or not line_ids:
        raise Invalid(f"invoice {invoice.number} has no line(s) {', '.join(unknown) or '(none)'}")
    return tuple(by_id[i] for i in dict.fromkeys(line_ids))


def due_date(issue: date, days: int) -> date:
    return issue + timedelta(days=days)
