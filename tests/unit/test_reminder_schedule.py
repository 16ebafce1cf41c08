"""Reminder planning, table-driven: which step is sent when, and which are skipped why."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from duespark.reminders.policy import DEFAULT_POLICY, ReminderPolicy, SendWindow, Step, Tone
from duespark.reminders.schedule import (
    CATCH_UP_REASON,
    SUPERSEDED_REASON,
    InvoiceFacts,
    local_instant,
    next_opening,
    plan,
    step_instant,
)

BERLIN = "Europe/Berlin"
DUE = date(2026, 3, 18)  # a Wednesday; Berlin moves to summer time on Sunday 29 March


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def facts(**overrides: object) -> InvoiceFacts:
    values: dict = {"status": "open", "due_date": DUE, "time_zone": BERLIN, **overrides}
    return InvoiceFacts(**values)


CASES = [
    # (name, facts, done offsets, now, step sent or None, skipped offsets)
    ("long before the first step", facts(), set(), utc(2026, 3, 10, 10), None, []),
    ("-3 falls on Sunday: waits for Monday", facts(), set(), utc(2026, 3, 15, 12), None, []),
    ("a minute before the window opens", facts(), set(), utc(2026, 3, 16, 7, 59), None, []),
    ("as the window opens (09:00 Berlin)", facts(), set(), utc(2026, 3, 16, 8, 0), -3, []),
    ("at the window's end (exclusive)", facts(), set(), utc(2026, 3, 16, 16, 0), None, []),
    ("on the due date, -3 already sent", facts(), {-3}, utc(2026, 3, 18, 10), 0, []),
    ("on the due date, -3 missed", facts(), set(), utc(2026, 3, 18, 10), 0, [-3]),
    ("+3 falls on Saturday: Monday", facts(), {-3, 0}, utc(2026, 3, 21, 10), None, []),
    ("+3 on the Monday after", facts(), {-3, 0}, utc(2026, 3, 23, 9), 3, []),
    ("entered 6 weeks late", facts(), set(), utc(2026, 5, 4, 10), 30, [-3, 0, 3, 7, 14]),
    ("already sent everything", facts(), {-3, 0, 3, 7, 14, 30}, utc(2026, 6, 1, 10), None, []),
    ("a later step already sent", facts(), {30}, utc(2026, 6, 1, 10), None, [-3, 0, 3, 7, 14]),
    ("paid", facts(status="paid"), set(), utc(2026, 3, 18, 10), None, []),
    ("void", facts(status="void"), set(), utc(2026, 3, 18, 10), None, []),
    ("draft", facts(status="draft"), set(), utc(2026, 3, 18, 10), None, []),
    (
        "paused until Friday, on Friday",
        facts(paused_until=date(2026, 3, 20)),
        set(),
        utc(2026, 3, 20, 10),
        None,
        [],
    ),
    (
        "paused until Friday, next Monday",
        facts(paused_until=date(2026, 3, 20)),
        set(),
        utc(2026, 3, 23, 10),
        3,
        [-3, 0],
    ),
    ("paused indefinitely", facts(paused_indefinitely=True), set(), utc(2026, 5, 4, 10), None, []),
    (
        "Tokyo client: 09:00 JST is midnight UTC",
        facts(time_zone="Asia/Tokyo"),
        {-3},
        utc(2026, 3, 18, 0, 0),
        0,
        [],
    ),
    (
        "Tokyo client: 17:00 JST has passed at 08:00 UTC",
        facts(time_zone="Asia/Tokyo"),
        {-3},
        utc(2026, 3, 18, 8, 0),
        None,
        [],
    ),
]


@pytest.mark.parametrize(
    ("invoice", "done", "now", "sent", "skipped"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan(
    invoice: InvoiceFacts, done: set[int], now: datetime, sent: int | None, skipped: list[int]
) -> None:
    result = plan(invoice, DEFAULT_POLICY, done_offsets=frozenset(done), now=now)
    assert (result.send.step.offset_days if result.send else None) == sent
    assert [planned.step.offset_days for planned, _ in result.skip] == skipped


def test_skips_say_why() -> None:
    late = plan(facts(), DEFAULT_POLICY, done_offsets=frozenset(), now=utc(2026, 5, 4, 10))
    assert {reason for _, reason in late.skip} == {CATCH_UP_REASON}
    after = plan(facts(), DEFAULT_POLICY, done_offsets=frozenset({30}), now=utc(2026, 6, 1, 10))
    assert {reason for _, reason in after.skip} == {SUPERSEDED_REASON}


def test_waiting_explains_itself() -> None:
    paused = plan(
        facts(paused_until=date(2026, 3, 20)),
        DEFAULT_POLICY,
        done_offsets=frozenset(),
        now=utc(2026, 3, 18, 10),
    )
    assert paused.waiting == "reminders are paused until 2026-03-20"
    night = plan(facts(), DEFAULT_POLICY, done_offsets=frozenset(), now=utc(2026, 3, 18, 22))
    assert night.send is None
    assert night.waiting is not None and "2026-03-19 08:00" in night.waiting


def test_upcoming_steps_are_listed_with_their_instants() -> None:
    result = plan(facts(), DEFAULT_POLICY, done_offsets=frozenset({-3}), now=utc(2026, 3, 17, 10))
    assert [(p.step.offset_days, p.send_at) for p in result.upcoming] == [
        (0, utc(2026, 3, 18, 8)),
        (3, utc(2026, 3, 23, 8)),
        (7, utc(2026, 3, 25, 8)),
        (14, utc(2026, 4, 1, 7)),  # summer time: 09:00 CEST is 07:00 UTC
        (30, utc(2026, 4, 17, 7)),
    ]


@pytest.mark.parametrize(
    ("day", "at", "zone", "expected"),
    [
        # Spring forward in Berlin: 02:30 does not exist; the first minute after the gap.
        (date(2026, 3, 29), time(2, 30), BERLIN, utc(2026, 3, 29, 1, 0)),
        # Fall back in Berlin: 02:30 happens twice; the first is summer time.
        (date(2026, 10, 25), time(2, 30), BERLIN, utc(2026, 10, 25, 0, 30)),
        # New York, spring forward and fall back.
        (date(2026, 3, 8), time(2, 30), "America/New_York", utc(2026, 3, 8, 7, 0)),
        (date(2026, 11, 1), time(1, 30), "America/New_York", utc(2026, 11, 1, 5, 30)),
        # An ordinary day either side of a change.
        (date(2026, 3, 28), time(9, 0), BERLIN, utc(2026, 3, 28, 8, 0)),
        (date(2026, 3, 30), time(9, 0), BERLIN, utc(2026, 3, 30, 7, 0)),
    ],
)
def test_local_instants_across_dst(day: date, at: time, zone: str, expected: datetime) -> None:
    assert local_instant(day, at, ZoneInfo(zone)) == expected


def test_leap_day_due_date() -> None:
    zone = ZoneInfo("America/Chicago")
    window = DEFAULT_POLICY.send_window
    due = date(2028, 2, 29)  # a Tuesday
    instants = {
        step.offset_days: step_instant(due, step, window, zone).astimezone(zone).date()
        for step in DEFAULT_POLICY.steps
    }
    assert instants[0] == date(2028, 2, 29)
    assert instants[-3] == date(2028, 2, 28)  # Saturday 26th moves to Monday 28th
    assert instants[30] == date(2028, 3, 30)


def test_weekend_only_window() -> None:
    weekend = ReminderPolicy(
        steps=[Step(offset_days=0, tone=Tone.friendly)],
        send_window=SendWindow(start=time(10), end=time(12), days=["sat", "sun"]),
    )
    result = plan(facts(), weekend, done_offsets=frozenset(), now=utc(2026, 3, 18, 10))
    assert result.send is None
    assert [p.send_at for p in result.upcoming] == [utc(2026, 3, 21, 9)]
    saturday = plan(facts(), weekend, done_offsets=frozenset(), now=utc(2026, 3, 21, 9, 30))
    assert saturday.send is not None


def test_two_steps_on_the_same_monday_send_the_later_once() -> None:
    policy = ReminderPolicy(
        steps=[Step(offset_days=3, tone=Tone.neutral), Step(offset_days=4, tone=Tone.firm)],
        send_window=DEFAULT_POLICY.send_window,
    )
    # Due Wednesday: +3 is Saturday, +4 Sunday; both become sendable Monday at 09:00.
    result = plan(facts(), policy, done_offsets=frozenset(), now=utc(2026, 3, 23, 8, 30))
    assert result.send is not None and result.send.step.tone is Tone.firm
    assert [p.step.offset_days for p, _ in result.skip] == [3]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 18, 10), utc(2026, 3, 18, 10)),  # inside: now
        (utc(2026, 3, 18, 6), utc(2026, 3, 18, 8)),  # before opening: today
        (utc(2026, 3, 18, 20), utc(2026, 3, 19, 8)),  # after closing: tomorrow
        (utc(2026, 3, 20, 20), utc(2026, 3, 23, 8)),  # Friday evening: Monday
    ],
)
def test_next_opening(now: datetime, expected: datetime) -> None:
    assert next_opening(now, DEFAULT_POLICY.send_window, ZoneInfo(BERLIN)) == expected
