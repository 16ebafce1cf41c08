"""Days sales outstanding by the countback method.

Start from the receivables open at as_of. Walk back month by month, latest first: while
what is left is at least that month's credit sales, take the month's sales off and add the
month's days; in the first month whose sales exceed what is left, add the share of its days
that the remainder covers, and stop. The month of as_of counts only its days up to as_of.

    AR 212 000; sales 100 000 (latest), 80 000, 70 000; 30-day months:
    212 000 - 100 000 = 112 000 -> 30 days; 112 000 - 80 000 = 32 000 -> 60 days;
    32 000 < 70 000 -> 60 + 32 000 / 70 000 x 30 = 73.714... -> 73.7 days.

Unlike ``AR / sales x days`` this follows the months the receivables come from, so a busy
December does not flatter January. It is undefined (None, with a reason) when there were no
credit sales in the twelve months, and when the receivables exceed all twelve months of
sales (the answer would be "more than a year", which no number states honestly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from duespark.analytics.ratios import AVERAGE_PLACES, rounded

NO_SALES = "no_sales"
EXCEEDS_SALES = "receivables_exceed_12_months_of_sales"


@dataclass(frozen=True)
class MonthSales:
    sales: int
    days: int


@dataclass(frozen=True)
class Dso:
    days: Decimal | None
    reason: str | None = None


def countback(receivables: int, months: Sequence[MonthSales]) -> Dso:
    """DSO for ``receivables`` over ``months``, latest month first."""
    if not any(month.sales for month in months):
        return Dso(None, NO_SALES)
    remaining = receivables
    days = Fraction(0)
    for month in months:
        if remaining <= 0:
            break
        if remaining >= month.sales:
            remaining -= month.sales
            days += month.days
        else:
            days += Fraction(remaining, month.sales) * month.days
            remaining = 0
    if remaining > 0:
        return Dso(None, EXCEEDS_SALES)
    return Dso(rounded(days, AVERAGE_PLACES))
