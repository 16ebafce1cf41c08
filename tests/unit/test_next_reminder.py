"""The dashboard's "next to send", per invoice: which step planning sends next, and when,
by the timeline's rules (the send window in the client's zone, catch-up, pauses)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from duespark.reminders.policy import DEFAULT_POLICY
from duespark.reminders.schedule import InvoiceFacts
from duespark.reminders.upcoming import next_step

BERLIN = "Europe/Berlin"
DUE = date(2026, 3, 18)  # a Wednesday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def facts(**overrides: object) -> InvoiceFacts:
    values: dict = {"status": "open", "due_date": DUE, "time_zone": BERLIN, **overrides}
    return InvoiceFacts(**values)


CASES = [
    # (name, facts, done, now, expected (offset, instant) or None)
    # -3 is Sunday 15 March: the window's next day is Monday, 09:00 Berlin (08:00 UTC).
    ("weeks ahead: the first step", facts(), set(), utc(2026, 3, 1, 12), (-3, utc(2026, 3, 16, 8))),
    ("due now, window open", facts(), {-3}, utc(2026, 3, 18, 10), (0, utc(2026, 3, 18, 10))),
    (
        "due, but the window has closed: its next opening",
        facts(),
        {-3},
        utc(2026, 3, 18, 18),
        (0, utc(2026, 3, 19, 8)),
    ),
    (
        "a later step due at that opening is sent instead (catch-up)",
        facts(due_date=date(2026, 3, 20)),
        {-3},
        utc(2026, 3, 20, 18),
        (3, utc(2026, 3, 23, 8)),
    ),
    (
        "catch-up: only the latest missed step, at once",
        facts(),
        set(),
        utc(2026, 4, 2, 10),
        (14, utc(2026, 4, 2, 10)),
    ),
    (
        "the step after the last sent",
        facts(),
        {-3, 0},
        utc(2026, 3, 19, 10),
        (3, utc(2026, 3, 23, 8)),
    ),
    ("everything sent", facts(), {-3, 0, 3, 7, 14, 30}, utc(2026, 6, 1, 10), None),
    ("a later step already recorded", facts(), {30}, utc(2026, 5, 1, 10), None),
    ("paused until resumed", facts(paused_indefinitely=True), set(), utc(2026, 3, 18, 10), None),
    (
        "paused until a date",
        facts(paused_until=date(2026, 3, 25)),
        set(),
        utc(2026, 3, 18, 10),
        None,
    ),
    ("paid", facts(status="paid"), set(), utc(2026, 3, 18, 10), None),
    ("draft", facts(status="draft"), set(), utc(2026, 3, 18, 10), None),
]


@pytest.mark.parametrize(
    ("facts_", "done", "now", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_next_step(
    facts_: InvoiceFacts,
    done: set[int],
    now: datetime,
    expected: tuple[int, datetime] | None,
) -> None:
    planned = next_step(facts_, DEFAULT_POLICY, done=frozenset(done), now=now)
    if expected is None:
        assert planned is None
    else:
        assert planned is not None
        assert (planned.step.offset_days, planned.send_at) == expected
