"""``duespark demo`` through the real command, on both databases: a demo account with
invoices in every state and a reminder history, shown by the dashboard; loading twice
changes nothing; ``--reset`` loads it afresh; no other account is touched.

The demo is dated from the real clock, so the checks are relative: "today" is read back
from the account itself (it was opened the day before its oldest invoice was issued).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duespark.config import Settings
from duespark.db import Database
from duespark.models import Client, Invoice, OutboxMessage, Reminder, User
from duespark.ops.demo import load_demo
from duespark.ops.demo_data import ACCOUNT, INVOICES
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY
from tests.factories import auth_headers, create_client, create_invoice, login
from tests.web.helpers import html, log_in

DEMO = ACCOUNT["email"]


def demo(database: Database, cwd: Path, *args: str) -> tuple[int, str, str]:
    environ = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY)
    result = run_cli("demo", *args, env=environ, cwd=cwd, timeout=120)
    return result.returncode, result.stdout, result.stderr


def demo_user(session: Any) -> User:
    user = session.scalar(select(User).where(User.email == DEMO))
    assert user is not None
    return user


def demo_today(user: User) -> date:
    opened = user.created_at.astimezone(ZoneInfo(ACCOUNT["time_zone"])).date()
    return opened + timedelta(days=max(invoice.issued_days_ago for invoice in INVOICES) + 1)


def snapshot(database: Database) -> dict[str, Any]:
    with database.session_scope() as session:
        user = demo_user(session)
        return {
            "user": user.id,
            "clients": session.scalar(
                select(func.count()).select_from(Client).where(Client.user_id == user.id)
            ),
            "invoices": sorted(
                (invoice.number, invoice.status)
                for invoice in session.scalars(select(Invoice).where(Invoice.user_id == user.id))
            ),
            "reminders": session.scalar(
                select(func.count()).select_from(Reminder).where(Reminder.user_id == user.id)
            ),
        }


def others(database: Database, email: str) -> dict[str, int]:
    with database.session_scope() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        return {
            model.__name__: session.scalar(
                select(func.count()).select_from(model).where(model.user_id == user.id)
            )
            or 0
            for model in (Client, Invoice, Reminder)
        }


def test_the_demo_account_has_every_state_and_a_history(
    api: TestClient, database: Database, tmp_path: Path
) -> None:
    headers = auth_headers(api, email="someone@example.com")
    create_invoice(api, headers, create_client(api, headers)["id"])
    code, out, err = demo(database, tmp_path)
    assert code == 0, err
    assert "Demo account loaded: 8 clients, 43 invoices" in out
    assert f"email:    {DEMO}" in out and f"password: {ACCOUNT['password']}" in out
    assert "Log in at http://127.0.0.1:8000/app/login" in out
    with database.session_scope() as session:
        user = demo_user(session)
        today = demo_today(user)
        clients = list(session.scalars(select(Client).where(Client.user_id == user.id)))
        invoices = list(session.scalars(select(Invoice).where(Invoice.user_id == user.id)))
        reminders = list(session.scalars(select(Reminder).where(Reminder.user_id == user.id)))
        outbox = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user.id))
        )
        assert len({client.default_currency for client in clients}) >= 4
        assert len({client.time_zone for client in clients}) >= 6
        assert {invoice.status for invoice in invoices} == {"draft", "open", "paid", "void"}
        ages = [(today - invoice.due_date).days for invoice in invoices if invoice.status == "open"]
        assert any(age < 0 for age in ages) and 0 in ages  # not yet due, and due today
        for first, last in [(1, 30), (31, 60), (61, 90), (91, 10_000)]:
            assert any(first <= age <= last for age in ages), (first, last)
        paid = [invoice for invoice in invoices if invoice.status == "paid"]
        assert any(invoice.paid_on and invoice.paid_on <= invoice.due_date for invoice in paid)
        assert any(invoice.paid_on and invoice.paid_on > invoice.due_date for invoice in paid)
        assert all(invoice.paid_on is None or invoice.paid_on <= today for invoice in paid)
        assert any(invoice.reminders_paused_until for invoice in invoices)
        states = {reminder.state for reminder in reminders}
        assert {"sent", "skipped"} <= states
        assert sum(reminder.state == "sent" for reminder in reminders) >= 50
        # The past's emails are recorded as sent and never go out for real.
        assert outbox and {message.status for message in outbox} == {"sent"}
    assert others(database, "someone@example.com") == {"Client": 1, "Invoice": 1, "Reminder": 0}


def test_the_dashboard_shows_the_demo(api: TestClient, database: Database, tmp_path: Path) -> None:
    code, _, err = demo(database, tmp_path)
    assert code == 0, err
    browser = TestClient(api.app, follow_redirects=False)
    assert log_in(browser, DEMO, ACCOUNT["password"]).status_code == 303
    page = html(browser.get("/app"))
    panels = [section.find("h2").text for section in page.find_all("section")]
    assert {"AUD", "EUR", "GBP", "JPY", "USD"} <= set(panels)
    assert len(page.find_all("svg")) == 10
    assert page.by_id("overdue").find("table").find_all("tr")
    assert "No reminder is due" not in page.by_id("next-to-send").text


def test_loading_twice_changes_nothing_and_reset_starts_afresh(
    api: TestClient, database: Database, tmp_path: Path
) -> None:
    auth_headers(api, email="someone@example.com")
    assert demo(database, tmp_path)[0] == 0
    first = snapshot(database)
    with database.session_scope() as session:
        # Someone played with the demo: an invoice voided.
        invoice = session.scalar(
            select(Invoice).where(Invoice.user_id == first["user"], Invoice.status == "open")
        )
        assert invoice is not None
        invoice.status = "void"
    played = snapshot(database)
    assert played != first
    code, out, err = demo(database, tmp_path)
    assert code == 0, err
    assert "already loaded; nothing was changed" in out and "--reset" in out
    assert snapshot(database) == played
    code, out, err = demo(database, tmp_path, "--reset")
    assert code == 0, err
    assert "Demo account loaded" in out
    again = snapshot(database)
    assert {**again, "user": 0} == {**first, "user": 0}
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 2
    assert others(database, "someone@example.com") == {"Client": 0, "Invoice": 0, "Reminder": 0}


def test_a_token_of_the_deleted_demo_account_never_opens_the_new_one(
    api: TestClient, database: Database, tmp_path: Path
) -> None:
    """``--reset`` deletes the account that held the largest id and creates it again: ids
    are never reused (SQLite AUTOINCREMENT, PostgreSQL sequences), so a token issued
    before the reset names an account that no longer exists."""
    assert demo(database, tmp_path)[0] == 0
    headers = {"Authorization": f"Bearer {login(api, DEMO, ACCOUNT['password'])['access_token']}"}
    assert api.get("/auth/me", headers=headers).status_code == 200
    with database.session_scope() as session:
        deleted_id = demo_user(session).id
        deleted_invoices = set(
            session.scalars(select(Invoice.id).where(Invoice.user_id == deleted_id))
        )

    code, _out, err = demo(database, tmp_path, "--reset")
    assert code == 0, err
    with database.session_scope() as session:
        user = demo_user(session)
        new_invoices = set(session.scalars(select(Invoice.id).where(Invoice.user_id == user.id)))
    assert user.id > deleted_id
    assert min(new_invoices) > max(deleted_invoices)

    refused = api.get("/auth/me", headers=headers)
    assert refused.status_code == 401, refused.text
    fresh = login(api, DEMO, ACCOUNT["password"])["access_token"]
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


@pytest.mark.parametrize("hour", [time(0, 30), time(8, 59), time(13, 0), time(23, 30)])
def test_the_demo_is_the_same_whatever_the_hour_it_is_loaded(
    database: Database, settings: Settings, hour: time
) -> None:
    """Steps of the story dated "today" at an hour still to come (an invoice entered at
    09:00, one paid at 14:00) happen just now instead of being left out."""
    zone = ZoneInfo(ACCOUNT["time_zone"])
    now = datetime.combine(date(2026, 12, 8), hour, tzinfo=zone).astimezone(UTC)
    with database.session_scope() as session:
        result = load_demo(session, settings=settings, now=now)
    assert sum(result.invoices.values()) == len(INVOICES)
    assert result.invoices == Counter(spec.state for spec in INVOICES)


def test_an_empty_database(cli_environ: dict[str, str], tmp_path: Path) -> None:
    """SQLite is created and migrated first, as `duespark serve` does; PostgreSQL must be
    migrated by `duespark db upgrade`, and the command says so."""
    result = run_cli("demo", env=cli_environ, cwd=tmp_path, timeout=120)
    if cli_environ["DATABASE_URL"].startswith("sqlite"):
        assert result.returncode == 0, result.stderr
        assert "Demo account loaded" in result.stdout
    else:
        assert result.returncode == 1
        assert "run `duespark db upgrade` first" in result.stderr
