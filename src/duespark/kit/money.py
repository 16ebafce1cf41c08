"""Money as integer minor units, and the decimal strings the API speaks.

``"1250.00"`` EUR is stored as 125000; ``"1250"`` JPY as 1250. Parsing refuses more decimal
places than the currency has, rather than rounding someone's invoice.
"""

from __future__ import annotations

import re
from decimal import Decimal

from duespark.kit.currencies import minor_digits

# [0-9], not \d (which matches any Unicode digit), and fullmatch, not ``$`` (which also
# matches before a trailing newline).
AMOUNT_PATTERN = re.compile(r"[0-9]{1,15}(\.[0-9]{1,4})?")
AMOUNT_SHAPE = 'must be a decimal string with a dot and no sign or separators, like "1250.00"'
MAX_MINOR_UNITS = 10**15


class AmountError(ValueError):
    """An amount that is not a plain positive decimal with the currency's precision."""


def parse_amount(text: str, currency: str) -> int:
    """Turn ``"1250.00"`` into minor units of ``currency``."""
    if not AMOUNT_PATTERN.fullmatch(text):
        raise AmountError(AMOUNT_SHAPE)
    digits = minor_digits(currency)
    whole, _, fraction = text.partition(".")
    if len(fraction) > digits:
        raise AmountError(
            f"{currency} has {digits} decimal place{'s' if digits != 1 else ''}; "
            f'"{text}" has {len(fraction)}'
        )
    minor = int(whole) * 10**digits + int((fraction or "0").ljust(digits, "0") or "0")
    if minor >= MAX_MINOR_UNITS:
        raise AmountError("is too large")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Minor units back to the API's decimal string, with the currency's precision."""
    digits = minor_digits(currency)
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))
