"""One worker pass end to end, in process: an overdue invoice added through the API, one
correctly toned email at a real SMTP server on loopback, the timeline, and silence after
payment. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.models import OutboxMessage, Reminder
from duespark.reminders.planning import plan_batch
from duespark.worker.main import Worker
from tests.conftest import make_settings
from tests.factories import auth_headers, create_client, create_invoice
from tests.smtp import SmtpCapture, smtp_capture

MONDAY_MORNING_BERLIN = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # 10:30 in Berlin


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


def make_worker(database: Database, smtp: SmtpCapture, now: datetime) -> Worker:
    settings = make_settings(
        database.url,
        DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=5",
        DUESPARK_EMAIL_FROM="reminders@duespark.example",
    )
    return Worker(database, settings, sender_from_settings(settings), now_fn=lambda: now)


def overdue_invoice(api: TestClient, **client_overrides: str) -> tuple[dict, dict, dict]:
    headers = auth_headers(api, business_name="Lovelace Studio")
    fields = {
        "name": "O'Brien & Co",
        "email": "ap@obrien.example",
        "time_zone": "Europe/Berlin",
        "default_currency": "EUR",
        **client_overrides,
    }
    client = create_client(api, headers, **fields)
    invoice = create_invoice(
        api,
        headers,
        client["id"],
        number="2026-017",
        amount="1250.00",
        issue_date="2026-09-01",
        due_date="2026-10-01",
        payment_url="https://pay.example/inv/2026-017",
    )
    return headers, client, invoice


def count(database: Database, model: type) -> int:
    with database.session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_overdue_invoice_gets_exactly_one_final_notice(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    headers, _, invoice = overdue_invoice(api)
    result = make_worker(database, smtp, MONDAY_MORNING_BERLIN).run_once()
    assert (result.queued, result.skipped, result.sent) == (1, 5, 1)
    assert len(smtp.received) == 1
    message = smtp.received[0].message
    assert message["To"] == "ap@obrien.example"
    assert message["Reply-To"] == "ada@example.com"
    assert "Lovelace Studio" in message["From"]
    assert message["Subject"].startswith("Final notice")
    assert message.get_body(("plain",)).get_content().startswith("Hello Hank Scorpio,")
    assert "&amp;" not in message["Subject"]
    html = message.get_body(("html",)).get_content()
    assert 'href="https://pay.example/inv/2026-017"' in html
    assert "€1,250.00" in message.get_body(("plain",)).get_content()

    timeline = api.get(f"/invoices/{invoice['id']}/reminders", headers=headers).json()
    states = {entry["offset_days"]: entry["state"] for entry in timeline["entries"]}
    assert states == {
        -3: "skipped",
        0: "skipped",
        3: "skipped",
        7: "skipped",
        14: "skipped",
        30: "sent",
    }
    skipped = [entry for entry in timeline["entries"] if entry["state"] == "skipped"]
    assert all("most recent missed step" in entry["reason"] for entry in skipped)


def test_nothing_more_after_payment(api: TestClient, database: Database, smtp: SmtpCapture) -> None:
    headers, _, invoice = overdue_invoice(api)
    make_worker(database, smtp, MONDAY_MORNING_BERLIN).run_once()
    assert len(smtp.received) == 1
    again = make_worker(database, smtp, MONDAY_MORNING_BERLIN + timedelta(hours=2)).run_once()
    assert (again.queued, again.sent) == (0, 0)
    paid = api.post(f"/invoices/{invoice['id']}/mark-paid", headers=headers)
    assert paid.status_code == 200
    for days in (1, 7, 40, 400):
        later = make_worker(database, smtp, MONDAY_MORNING_BERLIN + timedelta(days=days))
        assert later.run_once().queued == 0
    assert len(smtp.received) == 1


def test_planning_twice_adds_nothing(api: TestClient, database: Database) -> None:
    overdue_invoice(api)
    settings = make_settings(database.url)
    for _ in range(2):
        with database.session_scope() as session:
            plan_batch(session, settings=settings, now=MONDAY_MORNING_BERLIN)
    assert count(database, Reminder) == 6
    assert count(database, OutboxMessage) == 1


def test_paid_between_planning_and_delivery_sends_nothing(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    headers, _, invoice = overdue_invoice(api)
    with database.session_scope() as session:
        plan_batch(session, settings=make_settings(database.url), now=MONDAY_MORNING_BERLIN)
    assert api.post(f"/invoices/{invoice['id']}/mark-paid", headers=headers).status_code == 200
    result = make_worker(database, smtp, MONDAY_MORNING_BERLIN).run_once()
    assert result.sent == 0
    assert smtp.received == []
    with database.session_scope() as session:
        states = set(session.scalars(select(Reminder.state)))
        outbox = set(session.scalars(select(OutboxMessage.status)))
    assert "scheduled" not in states and "sent" not in states
    assert outbox == {"cancelled"}


def test_the_clients_business_hours_decide(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    """A Tokyo client: 09:30 UTC is 18:30 there, too late; 00:30 UTC is 09:30, in time."""
    overdue_invoice(api, time_zone="Asia/Tokyo")
    evening = make_worker(database, smtp, datetime(2026, 11, 30, 9, 30, tzinfo=UTC)).run_once()
    assert evening.sent == 0
    morning = make_worker(database, smtp, datetime(2026, 12, 1, 0, 30, tzinfo=UTC)).run_once()
    assert morning.sent == 1
    assert len(smtp.received) == 1


def test_a_paused_invoice_waits_and_then_sends_one(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    """Pause until a date (the API refuses past dates, so the scenario is set in the real
    calendar): nothing while paused, one reminder on the first business day after."""
    headers, _, invoice = overdue_invoice(api)
    until = date.today() + timedelta(days=10)
    pause = api.post(
        f"/invoices/{invoice['id']}/pause", json={"until": until.isoformat()}, headers=headers
    )
    assert pause.status_code == 200
    during = make_worker(database, smtp, morning_in_berlin(until - timedelta(days=3))).run_once()
    assert during.queued == 0
    after = make_worker(database, smtp, morning_in_berlin(until + timedelta(days=1))).run_once()
    assert after.sent == 1
    assert len(smtp.received) == 1


def morning_in_berlin(day: date) -> datetime:
    """09:30 UTC (10:30 or 11:30 in Berlin) on ``day``, or the next weekday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)


def test_smtp_down_then_back_delivers_once(api: TestClient, database: Database) -> None:
    from tests.smtp import free_port

    overdue_invoice(api)
    port = free_port()
    settings = make_settings(
        database.url,
        DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{port}?timeout=2",
        DUESPARK_EMAIL_FROM="reminders@duespark.example",
    )
    down = Worker(
        database, settings, sender_from_settings(settings), now_fn=lambda: MONDAY_MORNING_BERLIN
    ).run_once()
    assert (down.queued, down.sent, down.failed) == (1, 0, 1)
    with smtp_capture(port=port) as smtp:
        later = MONDAY_MORNING_BERLIN + timedelta(hours=1)
        back = Worker(database, settings, sender_from_settings(settings), now_fn=lambda: later)
        assert back.run_once().sent == 1
        assert len(smtp.received) == 1


def test_a_pass_forgets_failed_logins_too_old_to_matter(
    database: Database, smtp: SmtpCapture
) -> None:
    from duespark.models import LoginFailure

    now = MONDAY_MORNING_BERLIN
    with database.session_scope() as session:
        for minutes in (5, 14, 59, 61, 600):
            session.add(
                LoginFailure(
                    email="ada@example.com",
                    address="127.0.0.1",
                    attempted_at=now - timedelta(minutes=minutes),
                )
            )
    make_worker(database, smtp, now).run_once()
    with database.session_scope() as session:
        ages = sorted(
            int((now - moment).total_seconds() // 60)
            for moment in session.scalars(select(LoginFailure.attempted_at))
        )
    assert ages == [5, 14, 59]  # everything inside the last hour stays


def test_a_pass_forgets_web_sessions_that_have_ended(database: Database, smtp: SmtpCapture) -> None:
    from duespark.models import WebSession
    from tests.factories import add_user

    now = MONDAY_MORNING_BERLIN
    with database.session_scope() as session:
        user = add_user(session, now=now)
        session.flush()
        for name, expires_in, revoked_ago in (
            ("live", timedelta(days=3), None),
            ("expired", -timedelta(minutes=1), None),
            ("revoked", timedelta(days=3), timedelta(minutes=1)),
        ):
            session.add(
                WebSession(
                    user_id=user.id,
                    token_hash=name.ljust(64, "0"),
                    token_version=user.token_version,
                    created_at=now - timedelta(days=1),
                    expires_at=now + expires_in,
                    last_seen_at=now - timedelta(hours=1),
                    revoked_at=now - revoked_ago if revoked_ago else None,
                )
            )
    make_worker(database, smtp, now).run_once()
    with database.session_scope() as session:
        left = list(session.scalars(select(WebSession.token_hash)))
    assert [value.rstrip("0") for value in left] == ["live"]
