"""A rolling restart of the reminder workers while reminders keep falling due: two real
``duespark worker`` processes on PostgreSQL, delivering to a real SMTP server on loopback,
each restarted in turn with SIGTERM (the graceful stop a deploy sends) while new due
invoices arrive in batches. Every reminder is delivered exactly once: none lost across a
restart, none sent twice by the worker that picks up where the stopped one left off."""

from __future__ import annotations

import collections
import itertools
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from duespark.db import Database
from duespark.models import Invoice, OutboxMessage, Reminder
from tests import postgres
from tests.cli.conftest import DUESPARK, base_environ
from tests.conftest import TEST_SECRET_KEY, _migrate, make_settings
from tests.factories import add_client, add_user
from tests.smtp import SmtpCapture, smtp_capture

# Several processes each: run one such test at a time, so the machine's two cores are
# not shared between two load tests and their timings stay meaningful.
pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("multiprocess")]

BATCHES = 12
BATCH_SIZE = 50
TOTAL = BATCHES * BATCH_SIZE
ROUNDS = 2
BATCHES_PER_RESTART = BATCHES // (ROUNDS * 2)
# Each message is held this long by the SMTP server, as a remote one would: the 150
# reminders between two restarts take over a second to send, so a stop lands mid-delivery.
SMTP_LATENCY = 0.02
# One step on the due date, a window open at every hour of every day: each invoice owes
# exactly one email, now, whatever the clock says.
ALWAYS_OPEN = {
    "steps": [{"offset_days": 0, "tone": "friendly"}],
    "send_window": {
        "start": "00:00",
        "end": "23:59",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    },
}


@pytest.fixture
def pg_database(postgres_admin_url: str) -> Iterator[Database]:
    name = postgres.create_database(postgres_admin_url, "duespark_worker_roll")
    url = postgres.database_url(postgres_admin_url, name)
    try:
        _migrate(url)
        database = Database(make_settings(url))
        yield database
        database.dispose()
    finally:
        postgres.drop_database(postgres_admin_url, name)


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture(latency=SMTP_LATENCY) as handler:
        yield handler


def seed_account(database: Database) -> tuple[int, int]:
    now = datetime.now(UTC)
    with database.session_scope() as session:
        user = add_user(
            session,
            now=now,
            email="stream@example.com",
            name="Stream Sender",
            business_name="Stream Ltd",
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
        return user.id, client.id


def seed_batch(database: Database, user_id: int, client_id: int, batch: int) -> None:
    """``BATCH_SIZE`` invoices already past their due date: each owes one email now."""
    now = datetime.now(UTC)
    rows = [
        {
            "user_id": user_id,
            "client_id": client_id,
            "number": f"S-{batch:02d}-{n:03d}",
            "amount_minor": 10_000 + n,
            "currency": "EUR",
            "issue_date": date(2026, 1, 1),
            "due_date": date(2026, 2, 1),
            "status": "open",
            "notes": "",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(BATCH_SIZE)
    ]
    with database.session_scope() as session:
        session.execute(insert(Invoice), rows)


class Workers:
    """Two ``duespark worker --interval 0.2`` processes, each replaceable in turn."""

    def __init__(self, database: Database, smtp: SmtpCapture, logs: Path) -> None:
        self.environ = base_environ(
            DATABASE_URL=database.url,
            SECRET_KEY=TEST_SECRET_KEY,
            DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=5",
            DUESPARK_EMAIL_FROM="reminders@duespark.example",
            # A graceful stop gives back what it has not sent, so nothing here waits for a
            # lease to expire. A lease shorter than a claimed batch takes to send (100
            # emails on a starved CPU) would let another worker re-claim the batch while
            # it is still going out: duplicates that come from the lease, not the restart.
            DUESPARK_OUTBOX_LEASE_SECONDS="120",
        )
        self.logs = logs
        self.started = 0
        self.processes = [self._start(), self._start()]

    def _start(self) -> subprocess.Popen[bytes]:
        """Start a worker and wait for its banner, which it prints once its SIGTERM handler
        is installed: a SIGTERM before that would kill it outright, which is not the
        graceful stop under test (and a deploy waits for readiness the same way)."""
        self.started += 1
        path = self.logs / f"worker-{self.started}.log"
        with path.open("wb") as log:
            process = subprocess.Popen(
                [DUESPARK, "worker", "--interval", "0.2"],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def announced() -> bool:
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}:\n{path.read_text()}")
            return " on postgresql" in path.read_text(errors="replace")

        wait_for(announced, timeout=60, what="the worker to start")
        return process

    def restart(self, index: int) -> int:
        """SIGTERM one worker, wait for its graceful exit, start its replacement; the other
        keeps working meanwhile. Returns the stopped worker's exit code."""
        old = self.processes[index]
        old.send_signal(signal.SIGTERM)
        code = old.wait(timeout=30)
        self.processes[index] = self._start()
        return code

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait(timeout=5))
        return codes


def message_ids(smtp: SmtpCapture) -> collections.Counter[str]:
    return collections.Counter(smtp.message_ids())


def states(database: Database, model: type, column: str) -> dict[str, int]:
    with database.session_scope() as session:
        field = getattr(model, column)
        return dict(session.execute(select(field, func.count()).group_by(field)).all())


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def delivered(smtp: SmtpCapture) -> int:
    """Messages the SMTP server has accepted so far, duplicates included."""
    return len(smtp.snapshot())


def test_rolling_worker_restarts_under_a_stream_of_due_reminders(
    pg_database: Database, smtp: SmtpCapture, tmp_path: Path
) -> None:
    user_id, client_id = seed_account(pg_database)
    workers = Workers(pg_database, smtp, tmp_path)
    # (worker index, exit code, delivered when it was signalled, seeded by then)
    restarts: list[tuple[int, int, int, int]] = []
    batches = iter(range(BATCHES))
    try:
        for _ in range(ROUNDS):
            for index in (0, 1):
                before = delivered(smtp)
                for batch in itertools.islice(batches, BATCHES_PER_RESTART):
                    seed_batch(pg_database, user_id, client_id, batch)
                    time.sleep(0.2)
                # Stop a worker once the new reminders are going out, not before they
                # are planned nor after they are all sent: the stop must give back what
                # it has claimed and not yet sent.
                wait_for(
                    lambda before=before: delivered(smtp) >= before + 10,
                    timeout=60,
                    what="the new reminders to start going out",
                )
                at_signal = delivered(smtp)
                code = workers.restart(index)
                restarts.append((index, code, at_signal, (batch + 1) * BATCH_SIZE))
        wait_for(lambda: len(message_ids(smtp)) >= TOTAL, timeout=240, what="every reminder")
        wait_for(
            lambda: states(pg_database, OutboxMessage, "status") == {"sent": TOTAL},
            timeout=60,
            what="every outbox row marked sent",
        )
    finally:
        final_codes = workers.stop()
    received = message_ids(smtp)
    duplicates = sum(received.values()) - len(received)
    print(
        f"\n{TOTAL} reminders in {BATCHES} batches, 2 workers, {len(restarts)} SIGTERM "
        f"restarts (delivered/seeded at each signal: {[f'{r[2]}/{r[3]}' for r in restarts]}): "
        f"{len(received)} delivered, {duplicates} duplicates"
    )
    assert all(code == 0 for _, code, _, _ in restarts), f"a stop was not clean: {restarts}"
    assert any(at_signal < seeded for _, _, at_signal, seeded in restarts), (
        "every worker was stopped with nothing left to send: the test proved nothing"
    )
    assert len(received) == TOTAL, f"{TOTAL - len(received)} reminders lost"
    assert duplicates == 0, f"{duplicates} reminders delivered twice"
    assert states(pg_database, Reminder, "state") == {"sent": TOTAL}
    assert final_codes == [0, 0]
