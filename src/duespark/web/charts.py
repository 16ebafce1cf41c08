"""Bar charts as server-rendered SVG: readable without JavaScript, styled by classes only.

Pure: figures in, markup out. Each chart holds one currency (amounts of different
currencies are never drawn on one scale) and draws one horizontal bar per category, its
label on the left and its amount written at the end of the bar, so the numbers can be
read without judging lengths. A bar's length is its amount over the chart's largest
amount; an amount above zero always shows at least a sliver, and a chart with nothing in
it says so instead of drawing empty space.

Accessible: the ``<svg>`` has ``role="img"`` and is labelled by its own ``<title>`` and
``<desc>``; pages show the same figures as a table beside it (``Bar.text``). Every text
is escaped here, and colours come from CSS classes (``chart-bar-<tone>``), never from a
``style`` attribute, which the pages' Content-Security-Policy would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360
LABEL_WIDTH = 108
VALUE_WIDTH = 118
ROW_HEIGHT = 30
BAR_HEIGHT = 20
TOP = 6
MIN_BAR = 2.0
BAR_AREA = WIDTH - LABEL_WIDTH - VALUE_WIDTH


@dataclass(frozen=True)
class Bar:
    """One category: its label, its amount (minor units, for the length), the amount as
    written, how many invoices make it, and the CSS tone of its bar."""

    label: str
    value: int
    text: str
    count: int
    tone: str = "neutral"


@dataclass(frozen=True)
class BarChart:
    """``key`` makes the element ids unique on a page (``aging-EUR``)."""

    key: str
    title: str
    description: str
    bars: Sequence[Bar]
    empty_message: str = "Nothing to show."

    @property
    def is_empty(self) -> bool:
        return not any(bar.value > 0 for bar in self.bars)

    @property
    def height(self) -> int:
        return TOP * 2 + ROW_HEIGHT * max(len(self.bars), 1)


@dataclass(frozen=True)
class BarGeometry:
    bar: Bar
    y: float
    width: float


def bar_width(value: int, largest: int) -> float:
    """The length of a bar for ``value`` when the largest bar fills the area; never below
    ``MIN_BAR`` for an amount above zero, zero for nothing."""
    if value <= 0 or largest <= 0:
        return 0.0
    return round(max(BAR_AREA * value / largest, MIN_BAR), 1)


def layout(chart: BarChart) -> list[BarGeometry]:
    largest = max((bar.value for bar in chart.bars), default=0)
    return [
        BarGeometry(bar, TOP + index * ROW_HEIGHT, bar_width(bar.value, largest))
        for index, bar in enumerate(chart.bars)
    ]


def render_svg(chart: BarChart) -> Markup:
    """The chart as an inline ``<svg>``; it scales to its container's width."""
    title_id, desc_id = f"chart-{chart.key}-title", f"chart-{chart.key}-desc"
    parts = [
        Markup(
            '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'preserveAspectRatio="xMinYMin meet" aria-labelledby="{t} {d}" '
            'xmlns="http://www.w3.org/2000/svg">'
        ).format(w=WIDTH, h=chart.height, t=title_id, d=desc_id),
        Markup('<title id="{}">{}</title>').format(title_id, chart.title),
        Markup('<desc id="{}">{}</desc>').format(desc_id, describe(chart)),
    ]
    if chart.is_empty:
        parts.append(
            Markup('<text class="chart-empty" x="{}" y="{}">{}</text>').format(
                WIDTH // 2, chart.height // 2 + 5, chart.empty_message
            )
        )
    else:
        for item in layout(chart):
            parts.append(_row(item))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _row(item: BarGeometry) -> Markup:
    middle = item.y + BAR_HEIGHT / 2 + 4
    return Markup(
        '<g class="chart-row">'
        '<text class="chart-label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
        '<rect class="chart-bar chart-bar-{tone}" x="{bx}" y="{by}" width="{bw}" '
        'height="{bh}" rx="2"></rect>'
        '<text class="chart-value" x="{vx}" y="{ty}">{value}</text>'
        "</g>"
    ).format(
        lx=LABEL_WIDTH - 6,
        ty=_number(middle),
        label=item.bar.label,
        tone=_css_word(item.bar.tone),
        bx=LABEL_WIDTH,
        by=_number(item.y),
        bw=_number(item.width),
        bh=BAR_HEIGHT,
        vx=_number(LABEL_WIDTH + item.width + 6),
        value=item.bar.text,
    )


def describe(chart: BarChart) -> str:
    """The chart in words, for ``<desc>``: every category and its amount."""
    if chart.is_empty:
        return f"{chart.description} {chart.empty_message}"
    figures = "; ".join(f"{bar.label}: {bar.text}" for bar in chart.bars)
    return f"{chart.description} {figures}."


def _number(value: float) -> str:
    return f"{value:g}"


def _css_word(tone: str) -> str:
    """A tone is a class name made by the code, never user text; escaped all the same."""
    return str(escape(tone.replace(" ", "-")))
