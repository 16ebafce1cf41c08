"""Averages and shares from exact integer sums, rounded one way everywhere.

SQL returns sums and counts (integers on both databases); the division happens here, on
fractions, so a figure never depends on how a database rounds a float or a ``NUMERIC``.
Rounding is half away from zero: 2.25 days is 2.3, -2.25 is -2.3.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

AVERAGE_PLACES = 1
SHARE_PLACES = 3
# Amount-weighted sums multiply an amount (below 10^15 minor units) by a number of days,
# which can pass 2^63. Queries sum the two halves of the amount split here, each product
# far inside 64 bits: w x d = (w div 10^6) x d x 10^6 + (w mod 10^6) x d.
WEIGHT_SPLIT = 1_000_000


def rounded(value: Fraction, places: int) -> Decimal:
    """``value`` to ``places`` decimal places, half away from zero."""
    scaled = abs(value) * 10**places
    whole = int(scaled + Fraction(1, 2))  # int() truncates; scaled + 1/2 >= 0
    magnitude = Decimal(whole).scaleb(-places)
    return -magnitude if value < 0 else magnitude


def average(total: int, count: int) -> Decimal | None:
    """``total / count`` to one decimal place, or None when there is nothing to average
    (never 0, which would claim that clients pay exactly on time)."""
    if count == 0:
        return None
    return rounded(Fraction(total, count), AVERAGE_PLACES)


def share(part: int, whole: int) -> Decimal | None:
    """``part / whole`` as a fraction of 1 to three places (0.667), or None without data."""
    if whole == 0:
        return None
    return rounded(Fraction(part, whole), SHARE_PLACES)


def rounded_days(total: int, count: int) -> int:
    """``total / count`` to whole days, half away from zero (a client's usual lateness).

    In integers, as ``rounded`` would give it: floor(|t| / c + 1/2) = (2|t| + c) // 2c. It
    runs once per paying client on every summary, where building Fractions and Decimals
    cost more than the rest of the Python side together."""
    if count == 0:
        return 0
    if count < 0:
        total, count = -total, -count
    whole = (2 * abs(total) + count) // (2 * count)
    return -whole if total < 0 else whole
