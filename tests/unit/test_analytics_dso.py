"""Countback DSO, as a table of receivables and monthly sales (latest month first)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from duespark.analytics.dso import EXCEEDS_SALES, NO_SALES, Dso, MonthSales, countback


def months(*sales: int, days: int = 30) -> list[MonthSales]:
    return [MonthSales(sales=amount, days=days) for amount in sales]


@pytest.mark.parametrize(
    ("receivables", "monthly", "expected"),
    [
        # The textbook example: 30 + 30 + 32/70 x 30 = 73.714...
        (212_000, months(100_000, 80_000, 70_000), Dso(Decimal("73.7"))),
        # Receivables within the latest month's sales: a share of that month only.
        (50_000, months(100_000, 80_000), Dso(Decimal("15.0"))),
        # Exactly one month's sales: that month's days, not a share of the next.
        (100_000, months(100_000, 80_000), Dso(Decimal("30.0"))),
        # Nothing owed: no days at all (a figure, not "no data").
        (0, months(100_000), Dso(Decimal("0.0"))),
        # A month without sales is skipped whole: its days count, the remainder stays.
        (150_000, months(100_000, 0, 100_000), Dso(Decimal("75.0"))),
        # The month of as_of counts only its days so far (here 10 of them).
        (
            60_000,
            [MonthSales(20_000, 10), MonthSales(80_000, 31)],
            Dso(Decimal("25.5")),
        ),
        # Half a tenth rounds away from zero: 1/40 x 30 = 0.75 -> 0.8.
        (1, months(40), Dso(Decimal("0.8"))),
        # Receivables beyond every month's sales: undefined, with the reason.
        (300_000, months(100_000, 80_000, 70_000), Dso(None, EXCEEDS_SALES)),
        # No sales at all: undefined whether or not anything is owed.
        (10_000, months(0, 0, 0), Dso(None, NO_SALES)),
        (0, months(0, 0), Dso(None, NO_SALES)),
        (0, [], Dso(None, NO_SALES)),
    ],
)
def test_countback(receivables: int, monthly: list[MonthSales], expected: Dso) -> None:
    assert countback(receivables, monthly) == expected


def test_twelve_whole_months_of_receivables_is_the_sum_of_their_days() -> None:
    year = [MonthSales(1_000, days) for days in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)]
    assert countback(12_000, year) == Dso(Decimal("365.0"))
    assert countback(12_001, year) == Dso(None, EXCEEDS_SALES)
