"""ISO 4217 currencies in use today, and how many minor digits (ISO's minor units) each has.

The list comes from the Unicode CLDR data shipped with Babel: every currency that is legal
tender in some territory. Historic codes (DEM, HRK) and non-money codes (XXX, XAU) are
refused rather than stored.
"""

from __future__ import annotations

from functools import cache

from babel.core import get_global
from babel.numbers import get_territory_currencies

# ISO 4217 minor units where they are not 2. CLDR's "digits" (what Babel reports) follow
# cash practice instead (HUF and IDR with none, IQD with none), which would refuse amounts
# exactly as banks and accounting exports write them.
_ISO_MINOR_UNITS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


@cache
def active_currencies() -> frozenset[str]:
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, tender=True, non_tender=False))
    return frozenset(codes)


def is_active_currency(code: str) -> bool:
    return code in active_currencies()


def minor_digits(code: str) -> int:
    """ISO 4217 minor units: 2 for EUR and HUF, 0 for JPY, 3 for KWD."""
    return _ISO_MINOR_UNITS.get(code, 2)
