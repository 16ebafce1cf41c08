"""ISO 4217 currencies in use today, and how many minor digits each has.

The list comes from the Unicode CLDR data shipped with Babel: every currency that is legal
tender in some territory. Historic codes (DEM, HRK) and non-money codes (XXX, XAU) are
refused rather than stored.
"""

from __future__ import annotations

from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies


@cache
def active_currencies() -> frozenset[str]:
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, tender=True, non_tender=False))
    return frozenset(codes)


def is_active_currency(code: str) -> bool:
    return code in active_currencies()


def minor_digits(code: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD."""
    return int(get_currency_precision(code))
