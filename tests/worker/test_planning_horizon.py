"""The planning horizon: a pass leaves out invoices due later than any step can have been
reached, and must never leave out one whose step is due.

Two edges make the horizon later than "UTC's date + the default policy's lead": a policy
with an earlier first step (an account's or a client's own), and a client whose zone is
already on tomorrow's date (UTC+14). Each test puts an invoice exactly on the horizon,
whose step is due now and must be queued, and one a day beyond it, which has nothing to
plan yet. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from duespark.db import Database
from duespark.email.recording import RecordingSender
from duespark.models import Invoice, OutboxMessage, Reminder
from duespark.reminders.planning import planning_horizon
from duespark.worker.main import Worker
from tests.conftest import make_settings
from tests.factories import add_client, add_user

# 11:00 UTC on Saturday 28 November: already 01:00 on Sunday the 29th in Kiritimati.
NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
ALWAYS_OPEN = {
    "start": "00:00",
    "end": "23:59",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
}
TEN_DAYS_AHEAD = {"steps": [{"offset_days": -10, "tone": "friendly"}], "send_window": ALWAYS_OPEN}


def seed(database: Database, *, user_policy: dict | None, client_policy: dict | None,
         time_zone: str, due_dates: list[date]) -> None:  # fmt: skip
    with database.session_scope() as session:
        user = add_user(session, now=NOW, time_zone="UTC", reminder_policy=user_policy)
        client = add_client(
            session, user, now=NOW, time_zone=time_zone, reminder_policy=client_policy
        )
        for number, due in enumerate(due_dates):
            session.add(
                Invoice(
                    user_id=user.id,
                    client_id=client.id,
                    number=f"H-{number}",
                    amount_minor=50_000,
                    currency="EUR",
                    issue_date=date(2026, 11, 1),
                    due_date=due,
                    status="open",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def plan(database: Database) -> date:
    """Run a planning pass at NOW; the horizon it worked with."""
    settings = make_settings(database.url)
    Worker(database, settings, RecordingSender(), now_fn=lambda: NOW).plan_pass()
    with database.session_scope() as session:
        return planning_horizon(session, now=NOW)


def queued_numbers(database: Database) -> list[str]:
    """The invoices a reminder email was queued for."""
    with database.session_scope() as session:
        return sorted(
            session.scalars(
                select(Invoice.number)
                .join(Reminder, Reminder.invoice_id == Invoice.id)
                .join(OutboxMessage, OutboxMessage.reminder_id == Reminder.id)
            )
        )


def test_a_client_policy_with_an_earlier_step_moves_the_horizon(database: Database) -> None:
    on_horizon = NOW.date() + timedelta(days=10)  # UTC client: today + the 10-day lead
    seed(
        database,
        user_policy=None,
        client_policy=TEN_DAYS_AHEAD,
        time_zone="UTC",
        due_dates=[on_horizon, on_horizon + timedelta(days=1)],
    )
    horizon = plan(database)
    assert horizon == on_horizon
    assert queued_numbers(database) == ["H-0"]


def test_a_client_already_on_tomorrows_date_moves_the_horizon(database: Database) -> None:
    kiritimati_today = date(2026, 11, 29)
    on_horizon = kiritimati_today + timedelta(days=10)
    seed(
        database,
        user_policy=TEN_DAYS_AHEAD,
        client_policy=None,
        time_zone="Pacific/Kiritimati",
        due_dates=[on_horizon, on_horizon + timedelta(days=1)],
    )
    horizon = plan(database)
    assert horizon == on_horizon
    # Its step day is today in Kiritimati, though still yesterday in UTC: it goes now.
    assert queued_numbers(database) == ["H-0"]
