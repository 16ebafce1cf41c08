"""Several real ``duespark worker`` processes on one PostgreSQL database, delivering to a
real SMTP server on loopback: racing workers send nothing twice, and a worker killed with
SIGKILL mid-run loses nothing (at most the group of emails it had sent and not yet recorded
goes twice: ``RECORD_AT_MOST``)."""

from __future__ import annotations

import collections
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, insert, select

from duespark.db import Database
from duespark.models import Invoice, OutboxMessage, Reminder
from duespark.outbox.relay import RECORD_AT_MOST
from tests.cli.conftest import DUESPARK, base_environ
from tests.conftest import TEST_SECRET_KEY
from tests.factories import add_client, add_user
from tests.smtp import SmtpCapture, smtp_capture

# Several processes each: run one such test at a time, so the machine's two cores are
# not shared between two load tests and their timings stay meaningful.
pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("multiprocess")]

ALWAYS_OPEN = {
    "steps": [{"offset_days": 0, "tone": "friendly"}],
    "send_window": {
        "start": "00:00",
        "end": "23:59",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    },
}


@pytest.fixture
def pg_database(database: Database) -> Database:
    if not database.url.startswith("postgresql"):
        pytest.skip("several worker processes need PostgreSQL; SQLite has one writer")
    return database


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


def seed_due_invoices(database: Database, count: int) -> None:
    """One account whose policy sends a single reminder on the due date, at any hour, and
    ``count`` invoices already past it: each one owes exactly one email."""
    now = datetime.now(UTC)
    with database.session_scope() as session:
        user = add_user(
            session,
            now=now,
            email="bulk@example.com",
            name="Bulk Sender",
            business_name="Bulk Ltd",
            time_zone="UTC",
            reminder_policy=ALWAYS_OPEN,
        )
        client = add_client(
            session,
            user,
            now=now,
            name="Payer",
            email="payer@example.com",
            time_zone="UTC",
            default_currency="EUR",
        )
        rows = [
            {
                "user_id": user.id,
                "client_id": client.id,
                "number": f"B-{n:05d}",
                "amount_minor": 10_000 + n,
                "currency": "EUR",
                "issue_date": date(2026, 1, 1),
                "due_date": date(2026, 2, 1),
                "status": "open",
                "notes": "",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ]
        session.execute(insert(Invoice), rows)


def start_worker(database: Database, smtp: SmtpCapture, *args: str) -> subprocess.Popen[bytes]:
    environ = base_environ(
        DATABASE_URL=database.url,
        SECRET_KEY=TEST_SECRET_KEY,
        DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=5",
        DUESPARK_EMAIL_FROM="reminders@duespark.example",
        DUESPARK_OUTBOX_LEASE_SECONDS="10",
    )
    return subprocess.Popen(
        [DUESPARK, "worker", *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def message_ids(smtp: SmtpCapture) -> collections.Counter[str]:
    return collections.Counter(smtp.message_ids())


def wait_for(condition: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def states(database: Database, model: type, column: str) -> dict[str, int]:
    with database.session_scope() as session:
        field = getattr(model, column)
        return dict(session.execute(select(field, func.count()).group_by(field)).all())


def test_two_racing_workers_send_nothing_twice(pg_database: Database, smtp: SmtpCapture) -> None:
    seed_due_invoices(pg_database, 300)
    workers = [start_worker(pg_database, smtp, "--once") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    received = message_ids(smtp)
    assert len(received) == 300
    assert max(received.values()) == 1, "an email was delivered twice"
    assert states(pg_database, Reminder, "state") == {"sent": 300}


def held_by(database: Database, process: subprocess.Popen[bytes]) -> int:
    """Outbox messages ``process`` has claimed and not yet recorded (its worker id ends in
    its pid)."""
    with database.session_scope() as session:
        query = select(func.count()).where(
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by.like(f"%:{process.pid}"),
        )
        return session.scalar(query) or 0


def test_a_worker_killed_mid_run_loses_nothing(pg_database: Database, smtp: SmtpCapture) -> None:
    total = 2_000
    seed_due_invoices(pg_database, total)
    workers = [start_worker(pg_database, smtp, "--interval", "0.2") for _ in range(4)]
    victim = workers[0]
    try:
        wait_for(lambda: sum(message_ids(smtp).values()) >= 300, timeout=120, what="deliveries")
        # Kill it while it holds a batch, not in the pause between two passes.
        wait_for(lambda: held_by(pg_database, victim) > 0, timeout=60, what="a claimed batch")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        orphaned = held_by(pg_database, victim)
        wait_for(lambda: len(message_ids(smtp)) >= total, timeout=420, what="every reminder")
        # Give the survivors a moment to record the last deliveries as sent.
        wait_for(
            lambda: states(pg_database, OutboxMessage, "status") == {"sent": total},
            timeout=60,
            what="every outbox row marked sent",
        )
    finally:
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        for worker in workers[1:]:
            worker.wait(timeout=30)
    received = message_ids(smtp)
    duplicates = sum(received.values()) - len(received)
    print(
        f"\n{total} reminders, 4 workers, 1 SIGKILL with {orphaned} claimed messages in hand: "
        f"{duplicates} duplicate deliveries"
    )
    assert orphaned > 0, "the killed worker held no claim: the test proved nothing"
    assert len(received) == total, "a reminder was lost"
    assert duplicates <= RECORD_AT_MOST, f"{duplicates} duplicates from one kill"
    assert states(pg_database, Reminder, "state") == {"sent": total}
    assert all(worker.returncode == 0 for worker in workers[1:])
