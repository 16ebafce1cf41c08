"""The calendar behind every figure: which days each one looks at, for a given ``as_of``.

All windows end with ``as_of`` itself and include it. They are computed here, in Python, and
reach SQL as bound dates, so that no query depends on a dialect's calendar functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Payment behaviour (days to pay, days late, on-time rate, a client's lateness) is judged
# over the payments dated in the 365 days ending with as_of: recent enough to describe how
# clients pay now, long enough to hold a year's seasons.
HISTORY_DAYS = 365
DSO_MONTHS = 12
FORECAST_WEEKS = 8
EFFECTIVENESS_DAYS = 7
EARLIEST_AS_OF = date(1970, 1, 1)


@dataclass(frozen=True)
class Month:
    """One calendar month of the DSO countback; the latest one stops at ``as_of``."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Periods:
    as_of: date

    @property
    def history_start(self) -> date:
        return self.as_of - timedelta(days=HISTORY_DAYS - 1)

    def paid_since(self, days: int) -> date:
        """The first day of the ``days`` days ending with as_of."""
        return self.as_of - timedelta(days=days - 1)

    @property
    def months(self) -> tuple[Month, ...]:
        """The DSO months, latest first: the month of as_of (up to as_of), then the
        eleven whole calendar months before it."""
        months = [Month(self.as_of.replace(day=1), self.as_of)]
        while len(months) < DSO_MONTHS:
            end = months[-1].start - timedelta(days=1)
            months.append(Month(end.replace(day=1), end))
        return tuple(months)

    @property
    def week_starts(self) -> tuple[date, ...]:
        """Week k of the forecast is [as_of + 7k, as_of + 7k + 6]."""
        return tuple(self.as_of + timedelta(days=7 * week) for week in range(FORECAST_WEEKS))

    @property
    def last_effective_send(self) -> date:
        """The latest send date whose following week lies wholly on or before as_of."""
        return self.as_of - timedelta(days=EFFECTIVENESS_DAYS)


def day_start(day: date, time_zone: str) -> datetime:
    """The first instant of ``day`` in ``time_zone``, in UTC (where midnight is skipped by a
    clock change, the instant the day begins)."""
    return datetime.combine(day, time(), ZoneInfo(time_zone)).astimezone(UTC)
