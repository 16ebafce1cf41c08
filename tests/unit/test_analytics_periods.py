"""The calendar of the figures, the aging buckets and the rounding, for fixed dates."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from duespark.analytics.aging import BUCKETS
from duespark.analytics.periods import Month, Periods, day_start
from duespark.analytics.ratios import average, rounded, rounded_days, share


def test_months_walk_back_whole_calendar_months_from_as_of() -> None:
    months = Periods(date(2024, 3, 10)).months
    assert len(months) == 12
    assert months[0] == Month(date(2024, 3, 1), date(2024, 3, 10))
    assert months[0].days == 10
    assert months[1] == Month(date(2024, 2, 1), date(2024, 2, 29))  # a leap year's February
    assert months[1].days == 29
    assert months[2] == Month(date(2024, 1, 1), date(2024, 1, 31))
    assert months[3] == Month(date(2023, 12, 1), date(2023, 12, 31))
    assert months[-1] == Month(date(2023, 4, 1), date(2023, 4, 30))
    # Contiguous: each month ends the day before the next one starts.
    for later, earlier in itertools.pairwise(months):
        assert (later.start - earlier.end).days == 1


def test_windows_end_with_as_of_and_include_it() -> None:
    periods = Periods(date(2026, 6, 30))
    assert periods.history_start == date(2025, 7, 1)  # 365 days: 2025-07-01 .. 2026-06-30
    assert periods.paid_since(30) == date(2026, 6, 1)
    assert periods.paid_since(90) == date(2026, 4, 2)
    assert periods.last_effective_send == date(2026, 6, 23)
    assert periods.week_starts == (
        date(2026, 6, 30),
        date(2026, 7, 7),
        date(2026, 7, 14),
        date(2026, 7, 21),
        date(2026, 7, 28),
        date(2026, 8, 4),
        date(2026, 8, 11),
        date(2026, 8, 18),
    )


@pytest.mark.parametrize(
    ("days_past_due", "bucket"),
    [
        (-400, "current"),
        (-1, "current"),
        (0, "current"),  # due today is not yet late
        (1, "days_1_30"),
        (30, "days_1_30"),
        (31, "days_31_60"),
        (60, "days_31_60"),
        (61, "days_61_90"),
        (90, "days_61_90"),
        (91, "days_over_90"),
        (10_000, "days_over_90"),
    ],
)
def test_each_day_falls_in_exactly_one_bucket(days_past_due: int, bucket: str) -> None:
    assert [b.key for b in BUCKETS if b.holds(days_past_due)] == [bucket]


@pytest.mark.parametrize(
    ("key", "as_of", "earliest", "latest"),
    [
        ("current", date(2026, 6, 30), date(2026, 6, 30), None),
        ("days_1_30", date(2026, 6, 30), date(2026, 5, 31), date(2026, 6, 29)),
        ("days_31_60", date(2026, 6, 30), date(2026, 5, 1), date(2026, 5, 30)),
        ("days_61_90", date(2026, 6, 30), date(2026, 4, 1), date(2026, 4, 30)),
        ("days_over_90", date(2026, 6, 30), None, date(2026, 3, 31)),
    ],
)
def test_buckets_as_due_date_ranges(
    key: str, as_of: date, earliest: date | None, latest: date | None
) -> None:
    """The due dates a query selects are exactly those whose days past due the bucket holds."""
    bucket = next(b for b in BUCKETS if b.key == key)
    assert bucket.due_dates(as_of) == (earliest, latest)
    for offset in range(-200, 200):
        due = date.fromordinal(as_of.toordinal() + offset)
        inside = (earliest is None or due >= earliest) and (latest is None or due <= latest)
        assert inside == bucket.holds((as_of - due).days), due


@pytest.mark.parametrize(
    ("day", "zone", "instant"),
    [
        (date(2026, 6, 30), "UTC", "2026-06-30T00:00:00+00:00"),
        (date(2026, 6, 30), "Europe/Berlin", "2026-06-29T22:00:00+00:00"),  # summer: +2
        (date(2026, 1, 15), "Europe/Berlin", "2026-01-14T23:00:00+00:00"),  # winter: +1
        (date(2026, 6, 30), "America/New_York", "2026-06-30T04:00:00+00:00"),
        (date(2026, 6, 30), "Pacific/Chatham", "2026-06-29T11:15:00+00:00"),  # +12:45
        # Chile moves its clocks at midnight: 2024-09-08 begins at 01:00, 04:00 UTC.
        (date(2024, 9, 8), "America/Santiago", "2024-09-08T04:00:00+00:00"),
    ],
)
def test_day_start_is_the_first_instant_of_the_local_day(
    day: date, zone: str, instant: str
) -> None:
    assert day_start(day, zone).isoformat() == instant


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(9, 4), 1, "2.3"),  # 2.25: half away from zero
        (Fraction(-9, 4), 1, "-2.3"),
        (Fraction(25, 3), 1, "8.3"),
        (Fraction(2, 3), 3, "0.667"),
        (Fraction(0), 1, "0.0"),
        (Fraction(5, 2), 0, "3"),
        (Fraction(-5, 2), 0, "-3"),
    ],
)
def test_rounding_is_half_away_from_zero(value: Fraction, places: int, expected: str) -> None:
    assert rounded(value, places) == Decimal(expected)
    assert str(rounded(value, places)) == expected


def test_no_data_is_none_not_zero() -> None:
    assert average(0, 0) is None
    assert share(0, 0) is None
    assert average(0, 3) == Decimal("0.0")
    assert share(2, 3) == Decimal("0.667")
    assert rounded_days(0, 0) == 0
    assert rounded_days(-5, 2) == -3
    assert rounded_days(5, 2) == 3
    assert rounded_days(4, 3) == 1
