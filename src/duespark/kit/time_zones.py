"""IANA time zone names, validated against the tz database (never defaulted to UTC).

The names come from the pinned ``tzdata`` package, not from the host's zoneinfo folder: the
folder holds extras such as ``localtime`` (a link to whatever zone the host is set to) and
varies between machines, so a name valid on a laptop could be refused in production.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def known_time_zones() -> frozenset[str]:
    zones = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(zones.split())


def is_time_zone(name: str) -> bool:
    return name in known_time_zones()
