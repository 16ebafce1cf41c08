"""One bad row never stops the worker for others.

Rows are planted straight into the database, as an older version, a hand edit or a bug
could have left them, so that the test does not depend on the validation that should
keep them out. Next to them, another account has 50 healthy invoices each owing one
email; one real ``duespark worker --once`` must send all 50, and mark each bad invoice's
reminder failed with the reason on its timeline and in its activity. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from duespark.db import Database
from duespark.models import Invoice, InvoiceActivity, OutboxMessage, Reminder, User
from duespark.outbox.writer import email_values
from tests.cli.conftest import DUESPARK, base_environ
from tests.conftest import TEST_SECRET_KEY
from tests.factories import PASSWORD, add_client, add_user, login, register
from tests.smtp import SmtpCapture, smtp_capture

pytestmark = pytest.mark.xdist_group("multiprocess")

ALWAYS_OPEN = {
    "steps": [{"offset_days": 0, "tone": "friendly"}],
    "send_window": {
        "start": "00:00",
        "end": "23:59",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    },
}
HEALTHY = 50

# Each kind of row that the mail layer or the rendering cannot use, as (what, client
# fields, invoice fields). Every one must fail on its own invoice only.
BAD_ROWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("non-ASCII mailbox name", {"email": "jürgen@example.com"}, {}),
    ("not an address", {"email": "not an address"}, {}),
    ("two addresses", {"email": "a@example.com, b@example.com"}, {}),
    ("line break in the address", {"email": "a@example.com\r\nBcc: x@example.com"}, {}),
    ("unknown time zone", {"time_zone": "Mars/Olympus_Mons"}, {}),
]
# An unknown locale or currency is not among them: those render in English and with two
# decimals by design, so the reminder still goes.


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


def invoice_row(user_id: int, client_id: int, number: str, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "user_id": user_id,
        "client_id": client_id,
        "number": number,
        "amount_minor": 10_000,
        "currency": "EUR",
        "issue_date": date(2026, 1, 1),
        "due_date": date(2026, 2, 1),
        "status": "open",
        "notes": "",
        "created_at": now,
        "updated_at": now,
        **overrides,
    }


def plant(database: Database, careless_id: int | None = None) -> dict[str, int]:
    """The bad account first (its rows get the lower ids, so a pass meets them first),
    then the healthy one. Returns the bad invoices' ids by what is wrong with them.
    ``careless_id`` is an account made through the API, to look at the result with."""
    now = datetime.now(UTC)
    bad: dict[str, int] = {}
    with database.session_scope() as session:
        if careless_id is None:
            careless = add_user(session, now=now, email="careless@example.com")
        else:
            careless = session.get_one(User, careless_id)
        careless.reminder_policy = ALWAYS_OPEN
        for index, (what, client_fields, invoice_fields) in enumerate(BAD_ROWS):
            fields = {
                "name": f"Bad {index}",
                "email": f"bad{index}@example.com",
                "time_zone": "UTC",
                "default_currency": "EUR",
                **client_fields,
            }
            client = add_client(session, careless, now=now, **fields)
            row = invoice_row(careless.id, client.id, f"BAD-{index}", **invoice_fields)
            bad[what] = session.execute(insert(Invoice).returning(Invoice.id), [row]).scalar_one()
        # Queued before addresses were checked: the relay meets it, not planning.
        client = add_client(session, careless, now=now, name="Queued", time_zone="UTC")
        row = invoice_row(careless.id, client.id, f"BAD-{len(BAD_ROWS)}")
        queued = session.execute(insert(Invoice).returning(Invoice.id), [row]).scalar_one()
        bad["queued with an unsendable address"] = queued
        reminder = Reminder(
            user_id=careless.id,
            invoice_id=queued,
            offset_days=0,
            tone="friendly",
            state="scheduled",
            reason="",
            scheduled_for=now,
            created_at=now,
            updated_at=now,
        )
        session.add(reminder)
        session.flush()
        session.add(
            OutboxMessage(
                **email_values(
                    user_id=careless.id,
                    reminder_id=reminder.id,
                    dedup_key=f"reminder-{queued}-+0",
                    recipient="ap@example.com",
                    subject="Invoice BAD",
                    text_body="Please pay.",
                    html_body="<p>Please pay.</p>",
                    now=now,
                ),
            )
        )
        session.flush()
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.reminder_id == reminder.id)
            .values(recipient="jürgen@example.com")
        )
        # The account's own address is the Reply-To of each of its reminders.
        unusable = add_user(
            session, now=now, email="jürgen@example.com", reminder_policy=ALWAYS_OPEN
        )
        client = add_client(session, unusable, now=now, email="fine@example.com", time_zone="UTC")
        row = invoice_row(unusable.id, client.id, "BAD-REPLY-TO")
        bad["account address"] = session.execute(
            insert(Invoice).returning(Invoice.id), [row]
        ).scalar_one()
        healthy = add_user(
            session, now=now, email="healthy@example.com", reminder_policy=ALWAYS_OPEN
        )
        payer = add_client(
            session,
            healthy,
            now=now,
            email="payer@example.com",
            time_zone="UTC",
            default_currency="EUR",
        )
        rows = [invoice_row(healthy.id, payer.id, f"OK-{n:03d}") for n in range(HEALTHY)]
        session.execute(insert(Invoice), rows)
    return bad


def run_worker_once(database: Database, smtp: SmtpCapture) -> subprocess.CompletedProcess[str]:
    environ = base_environ(
        DATABASE_URL=database.url,
        SECRET_KEY=TEST_SECRET_KEY,
        DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=5",
        DUESPARK_EMAIL_FROM="reminders@duespark.example",
    )
    return subprocess.run(
        [DUESPARK, "worker", "--once"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bad_rows_fail_alone_and_every_healthy_invoice_is_sent(
    database: Database, smtp: SmtpCapture
) -> None:
    bad = plant(database)
    done = run_worker_once(database, smtp)
    assert done.returncode == 0, done.stderr[-3000:]

    recipients = sorted(rcpt for message in smtp.snapshot() for rcpt in message.rcpt_tos)
    assert recipients == ["payer@example.com"] * HEALTHY, "every healthy invoice, once"

    with database.session_scope() as session:
        for what, invoice_id in bad.items():
            reminders = session.scalars(
                select(Reminder).where(Reminder.invoice_id == invoice_id)
            ).all()
            assert [r.state for r in reminders] == ["failed"], what
            assert reminders[0].reason, f"{what}: the reason is on the timeline"
            kinds = session.scalars(
                select(InvoiceActivity.kind).where(InvoiceActivity.invoice_id == invoice_id)
            ).all()
            assert "reminder_failed" in kinds, what
        # Nothing for a bad invoice waits in the outbox to be tried again and again.
        pending = session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.status == "pending")
        ).all()
        assert pending == []
        dead = session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.status == "dead")
        ).all()
        assert dead == ["jürgen@example.com"], "the one queued before the checks"


def test_a_second_pass_sends_nothing_more(database: Database, smtp: SmtpCapture) -> None:
    plant(database)
    assert run_worker_once(database, smtp).returncode == 0
    first = len(smtp.snapshot())
    again = run_worker_once(database, smtp)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(smtp.snapshot()) == first == HEALTHY


def test_the_freelancer_sees_each_failure_and_why(
    api: TestClient, database: Database, smtp: SmtpCapture
) -> None:
    account = register(api, email="careless@example.com")
    bad = plant(database, careless_id=account["id"])
    assert run_worker_once(database, smtp).returncode == 0
    headers = {"Authorization": f"Bearer {login(api, 'careless@example.com')['access_token']}"}
    for what, invoice_id in bad.items():
        if what == "account address":
            continue  # another account's invoice
        timeline = api.get(f"/invoices/{invoice_id}/reminders", headers=headers)
        assert timeline.status_code == 200, (what, timeline.text)
        failed = [step for step in timeline.json()["entries"] if step["state"] == "failed"]
        assert len(failed) == 1 and failed[0]["reason"], (what, timeline.json())
    form = api.get("/app/login")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = api.post(
        "/app/login",
        data={"email": "careless@example.com", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    dashboard = api.get("/app")
    assert dashboard.status_code == 200, dashboard.text
    section = dashboard.text.split('id="failed-reminders"', 1)[1].split("</section>", 1)[0]
    assert f"{len(BAD_ROWS) + 1} reminders could not be sent" in section
    for index in range(len(BAD_ROWS) + 1):
        assert f">BAD-{index}</a>" in section
    assert "ASCII" in section and "time zone" in section
