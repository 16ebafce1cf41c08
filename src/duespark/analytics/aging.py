"""Aging buckets: open balances by how many days past due they are at as_of.

Days past due is ``as_of - due_date``; an invoice due today, or not yet due, is current.
Each bucket is a closed range of days past due (``None`` leaves a side open), which is the
same as a closed range of due dates: that is how queries select a bucket, with plain date
comparisons that an index can serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Bucket:
    key: str
    first: int | None
    last: int | None

    def holds(self, days_past_due: int) -> bool:
        return (self.first is None or days_past_due >= self.first) and (
            self.last is None or days_past_due <= self.last
        )

    def due_dates(self, as_of: date) -> tuple[date | None, date | None]:
        """The earliest and latest due date in this bucket at ``as_of`` (None: unbounded)."""
        earliest = None if self.last is None else as_of - timedelta(days=self.last)
        latest = None if self.first is None else as_of - timedelta(days=self.first)
        return earliest, latest


BUCKETS = (
    Bucket("current", None, 0),
    Bucket("days_1_30", 1, 30),
    Bucket("days_31_60", 31, 60),
    Bucket("days_61_90", 61, 90),
    Bucket("days_over_90", 91, None),
)
