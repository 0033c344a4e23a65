"""Amounts and figures as a reader of the page's language writes them.

French: `1 234,56 €` (narrow no-break space between thousands, no-break space before the euro);
English: `€1,234.56`. Templates get `money(amount)` and `number(value, places)` bound to the
visitor's language from `hub.console.web.render`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NNBSP = "\u202f"  # French thousands separator
NBSP = "\u00a0"  # keeps a figure and its unit on one line
CENT = Decimal("0.01")


def money(amount: Decimal, lang: str) -> str:
    """`Decimal("-1234.5")` → `-1 234,50 €` in French, `-€1,234.50` in English."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    figure = _grouped(f"{abs(rounded):,.2f}", lang)
    return f"{sign}{figure}{NBSP}€" if lang == "fr" else f"{sign}€{figure}"


def number(value: float | Decimal | int | None, lang: str, places: int = 1) -> str:
    """A figure with at most `places` decimals, no trailing zeros: `1234.5` → `1 234,5` in
    French, `1,234.5` in English; `20.0` → `20`; None → ``."""
    if value is None:
        return ""
    text = f"{Decimal(str(value)):,.{places}f}"
    if "." in text:
        text = text.rstrip("0").removesuffix(".")
    return _grouped("0" if text == "-0" else text, lang)


def fixed(value: Decimal | int, lang: str, places: int = 2) -> str:
    """A figure with exactly `places` decimals, rounded half up, for columns of figures that
    line up: `Decimal("1234.5")` → `1 234,50` in French, `1,234.50` in English."""
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return _grouped(f"{rounded:,.{places}f}", lang)


def _grouped(text: str, lang: str) -> str:
    """From Python's `1,234.56` to the language's separators."""
    if lang != "fr":
        return text
    return text.replace(",", NNBSP).replace(".", ",")
