"""What the dashboard shows for each currency, from the analytics summary: three cards
(outstanding, overdue, expected this month) and two charts (aging, expected payments).

Pure: the summary in, plain values out. Amounts stay per currency, never added across.

**Expected this month** adds up the forecast's weeks that begin on or before the last day
of the month of ``as_of``. The forecast (``analytics``) puts each open invoice in the
week it is expected to be paid: its due date plus its client's average days late, never
before ``as_of``; week 0 starts on ``as_of`` itself. Weeks are whole, so the last week
counted may run a few days into next month; the page names the exact days counted
(``expected_from`` to ``expected_to``) so the figure is never ambiguous.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from duespark.analytics.figures import CurrencySummary, Summary, Total, Week
from duespark.web.charts import Bar, BarChart
from duespark.web.templating import day, money

RANGE = "\u2013"  # an en dash, as in "1-30" typeset
AGING_BUCKETS: tuple[tuple[str, str, str], ...] = (
    # (bucket key in the analytics summary, label, bar tone)
    ("current", "Not yet due", "current"),
    ("days_1_30", f"1{RANGE}30 days", "late"),
    ("days_31_60", f"31{RANGE}60 days", "later"),
    ("days_61_90", f"61{RANGE}90 days", "latest"),
    ("days_over_90", "Over 90 days", "worst"),
)


@dataclass(frozen=True)
class CurrencyPanel:
    currency: str
    outstanding: Total
    overdue: Total
    expected_month: Total
    expected_from: date
    expected_to: date
    aging: BarChart
    expected: BarChart


def currency_panels(summary: Summary) -> list[CurrencyPanel]:
    """One panel per currency the account uses, in the summary's order."""
    panels = []
    for figures in summary.currencies:
        month, first, last = expected_this_month(figures.expected_weeks, summary.as_of)
        panels.append(
            CurrencyPanel(
                currency=figures.currency,
                outstanding=figures.outstanding,
                overdue=figures.overdue,
                expected_month=month,
                expected_from=first,
                expected_to=last,
                aging=aging_chart(figures),
                expected=expected_chart(figures, summary.as_of),
            )
        )
    return panels


def month_end(as_of: date) -> date:
    return as_of.replace(day=calendar.monthrange(as_of.year, as_of.month)[1])


def expected_this_month(weeks: list[Week], as_of: date) -> tuple[Total, date, date]:
    """The total of the weeks beginning on or before the end of ``as_of``'s month, and
    the first and last day those weeks cover (``as_of`` to ``as_of`` when there are none)."""
    counted = [week for week in weeks if week.start <= month_end(as_of)]
    total = Total(
        sum(week.total.amount for week in counted), sum(week.total.count for week in counted)
    )
    if not counted:
        return total, as_of, as_of
    return total, counted[0].start, counted[-1].end


def aging_chart(figures: CurrencySummary) -> BarChart:
    currency = figures.currency
    return BarChart(
        key=f"aging-{currency}",
        title=f"Open invoices by days past due, {currency}",
        description=f"Outstanding {currency} amounts grouped by how many days past due they are.",
        bars=[
            Bar(
                label=label,
                value=figures.aging[key].amount,
                text=money(figures.aging[key].amount, currency),
                count=figures.aging[key].count,
                tone=tone,
            )
            for key, label, tone in AGING_BUCKETS
        ],
        empty_message="Nothing outstanding.",
    )


def expected_chart(figures: CurrencySummary, as_of: date) -> BarChart:
    currency = figures.currency
    bars = [
        Bar(
            label=week_label(week.start, week.end),
            value=week.total.amount,
            text=money(week.total.amount, currency),
            count=week.total.count,
            tone="this-month" if week.start <= month_end(as_of) else "expected",
        )
        for week in figures.expected_weeks
    ]
    if figures.expected_weeks:
        after = figures.expected_weeks[-1].end
        later = figures.expected_later
        bars.append(
            Bar(
                label=f"After {day_month(after)}",
                value=later.amount,
                text=money(later.amount, currency),
                count=later.count,
                tone="expected",
            )
        )
    return BarChart(
        key=f"expected-{currency}",
        title=f"Expected payments by week, {currency}",
        description=(
            f"Open {currency} amounts by the week they are expected to be paid: the due "
            "date plus the client's average days late."
        ),
        bars=bars,
        empty_message="No payments expected.",
    )


def day_month(value: date) -> str:
    """``17 Jun``: short enough for a chart's label column."""
    return day(value).rsplit(" ", 1)[0]


def week_label(start: date, end: date) -> str:
    """``17-23 Jun``, or ``28 Jun-4 Jul`` across a month's end (with an en dash)."""
    if start.month == end.month:
        return f"{start.day}{RANGE}{day_month(end)}"
    return f"{day_month(start)}{RANGE}{day_month(end)}"
