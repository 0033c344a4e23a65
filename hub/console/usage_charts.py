"""The usage page's charts laid out in SVG user units: horizontal bars and columns.

Pure geometry; `templates/usage_macros.html` draws it. The SVG scales to its box (`viewBox`,
width 100%), so the units are those of a 400-wide drawing whatever the screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 400
# Horizontal bars: the longest takes BAR_SPAN units, its value is written after it.
BAR_SPAN = 300
BAR_HEIGHT = 15
BAR_GAP = 3
LABEL_HEIGHT = 20
ROW_GAP = 10
VALUE_GAP = 4
# Text wider than the drawing would be cut off at its edge: names are shortened first.
MAX_LABEL = 48
# Columns: room on the left for the axis' figures, below for the dates.
COLUMN_HEIGHT = 220
PLOT_LEFT = 48
PLOT_RIGHT = WIDTH - 16  # room for half the last date written under its column
PLOT_TOP = 12
BASELINE = COLUMN_HEIGHT - 30
DATE_LABELS = 7
COLUMN_MARGIN = 0.1  # of a column's slot, on each side


@dataclass(frozen=True)
class Bar:
    """One bar of a series; `value` None (not measured) draws nothing but its mark."""

    series: str
    value: Decimal | None
    x: float
    y: float
    width: float
    height: float
    text_x: float
    text_y: float


@dataclass(frozen=True)
class BarRow:
    label: str
    label_y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    rows: tuple[BarRow, ...]


def nice_ceiling(value: Decimal) -> Decimal:
    """The axis' end: 1, 2 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** value.adjusted()
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def bar_chart(rows: Sequence[tuple[str, Sequence[tuple[str, Decimal | None]]]]) -> BarChart:
    """One row per label, one bar per (series, value) of it, all on one scale."""
    values = [v for _, bars in rows for _, v in bars if v is not None]
    scale = BAR_SPAN / nice_ceiling(max(values, default=Decimal(0)))
    laid: list[BarRow] = []
    top = 0.0
    for label, bars in rows:
        shapes = tuple(
            _bar(series, value, scale, top + LABEL_HEIGHT + i * (BAR_HEIGHT + BAR_GAP))
            for i, (series, value) in enumerate(bars)
        )
        laid.append(BarRow(_short(label), top + LABEL_HEIGHT - 5, shapes))
        top += LABEL_HEIGHT + len(bars) * (BAR_HEIGHT + BAR_GAP) + ROW_GAP
    return BarChart(WIDTH, max(math.ceil(top), 1), tuple(laid))


def _bar(series: str, value: Decimal | None, scale: Decimal, y: float) -> Bar:
    width = float((value or 0) * scale)
    return Bar(
        series=series,
        value=value,
        x=0,
        y=y,
        width=width,
        height=BAR_HEIGHT,
        text_x=width + VALUE_GAP,
        text_y=y + BAR_HEIGHT - 3,
    )


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True)
class Column:
    """One day's (or week's) column; `label` is written under it when `labelled`."""

    label: str
    value: Decimal
    x: float
    y: float
    width: float
    height: float
    labelled: bool

    @property
    def middle(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Tick:
    value: Decimal
    y: float


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: float
    right: float
    baseline: float
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...]

    @property
    def label_y(self) -> float:
        return self.baseline + 16


def column_chart(values: Sequence[tuple[str, Decimal]]) -> ColumnChart:
    """Columns side by side over the plot's width; a date under every few of them."""
    top = nice_ceiling(max((v for _, v in values), default=Decimal(0)))
    span = BASELINE - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(values), 1)
    every = max(1, math.ceil(len(values) / DATE_LABELS))
    columns = tuple(
        Column(
            label=label,
            value=value,
            x=PLOT_LEFT + i * slot + slot * COLUMN_MARGIN,
            y=BASELINE - float(value / top) * span,
            width=slot * (1 - 2 * COLUMN_MARGIN),
            height=float(value / top) * span,
            labelled=i % every == 0,
        )
        for i, (label, value) in enumerate(values)
    )
    ticks = tuple(Tick(top * k / 2, BASELINE - span * k / 2) for k in range(3))
    return ColumnChart(WIDTH, COLUMN_HEIGHT, PLOT_LEFT, PLOT_RIGHT, BASELINE, columns, ticks)
