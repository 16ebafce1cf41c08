"""IANA time zone names, validated against the tz database (never defaulted to UTC)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    return name in known_time_zones()
