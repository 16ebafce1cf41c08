"""The outbox end to end, on SQLite and PostgreSQL, with a real SMTP server on loopback:
writing in the caller's transaction, delivery, backoff, dead letters, the claim-time
re-check ("never after payment"), exclusive claiming by concurrent processes, expired
claims, and stopping between messages.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from duespark.clock import utc_now
from duespark.db import Database
from duespark.email.errors import InvalidEmail
from duespark.email.message import make_message_id
from duespark.email.recording import RecordingSender
from duespark.errors import Conflict, InvalidInput, NotFound
from duespark.models import Client, Invoice, InvoiceActivity, OutboxMessage, Reminder, User
from duespark.outbox import repository
from duespark.outbox.relay import RECORD_AT_MOST, RECORD_WITHIN, RelayResult, relay_once
from duespark.outbox.retry import MAX_ATTEMPTS
from duespark.outbox.writer import add_email
from tests.conftest import TEST_SECRET_KEY
from tests.factories import add_client, add_user
from tests.smtp import SmtpCapture, free_port, smtp_capture
from tests.unit.test_email_sender import smtp_sender

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
FROM = "Analytical Engines via DueSpark <reminders@duespark.example>"
_accounts = itertools.count(1)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    user_id: int
    user_email: str
    client_id: int
    invoice_ids: list[int] = field(default_factory=list)
    reminder_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


def seed(
    database: Database,
    *,
    now: datetime = T0,
    invoices: int = 1,
    steps: int = 1,
    recipient: str = "accounts@globex.example",
) -> Seeded:
    """An account, a client, open invoices, one scheduled reminder per step, and each
    reminder's email in the outbox: all written in one transaction, as planning would."""
    number = next(_accounts)
    with database.session_scope() as session:
        user = add_user(session, now=now, email=f"ada{number}@engines.example")
        client = add_client(session, user, now=now, email=recipient)
        seeded = Seeded(user.id, user.email, client.id)
        for index in range(invoices):
            invoice = Invoice(
                user_id=user.id,
                client_id=client.id,
                number=f"INV-{index:04d}",
                amount_minor=125_000,
                currency="USD",
                issue_date=date(2026, 10, 1),
                due_date=date(2026, 10, 31),
                status="open",
                created_at=now,
                updated_at=now,
            )
            session.add(invoice)
            session.flush()
            seeded.invoice_ids.append(invoice.id)
            for offset in range(steps):
                reminder = Reminder(
                    invoice_id=invoice.id,
                    user_id=user.id,
                    offset_days=offset,
                    tone="friendly",
                    state="scheduled",
                    scheduled_for=now,
                    reason="",
                    created_at=now,
                    updated_at=now,
                )
                session.add(reminder)
                session.flush()
                message = add_email(
                    session,
                    user_id=user.id,
                    reminder_id=reminder.id,
                    dedup_key=f"reminder:{invoice.id}:{offset}",
                    recipient=recipient,
                    subject=f"Invoice {invoice.number}: a friendly reminder",
                    text_body="Hello, a friendly reminder. Merci — Ada",
                    html_body="<p>Hello, a friendly reminder. Merci — Ada</p>",
                    headers={"from_name": "Ada, Analytical Engines", "reply_to": user.email},
                    now=now,
                )
                seeded.reminder_ids.append(reminder.id)
                seeded.message_ids.append(message.id)
    return seeded


def messages(database: Database) -> list[OutboxMessage]:
    with database.session_scope() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reminders(database: Database) -> list[Reminder]:
    with database.session_scope() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.id)))


def activity_kinds(database: Database) -> list[str]:
    with database.session_scope() as session:
        return list(session.scalars(select(InvoiceActivity.kind).order_by(InvoiceActivity.id)))


def relay(database: Database, smtp_port: int, clock: Clock, **options: Any) -> RelayResult:
    return relay_once(
        database,
        smtp_sender(smtp_port),
        worker_id=options.pop("worker_id", "worker-a"),
        now_fn=clock,
        from_address=FROM,
        **options,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with smtp_capture() as handler:
        yield handler


# --- writing ------------------------------------------------------------------------------


def test_add_email_belongs_to_the_callers_transaction(database: Database) -> None:
    seeded = seed(database)
    with pytest.raises(RuntimeError), database.session_scope() as session:
        add_email(
            session,
            user_id=seeded.user_id,
            reminder_id=None,
            dedup_key="welcome:1",
            recipient="new@globex.example",
            subject="Welcome",
            text_body="hi",
            html_body="<p>hi</p>",
            now=T0,
        )
        raise RuntimeError("the use case failed after writing the email")
    assert [m.dedup_key for m in messages(database)] == [f"reminder:{seeded.invoice_ids[0]}:0"]


def test_add_email_twice_with_one_key_keeps_one_row(database: Database) -> None:
    seeded = seed(database)
    with database.session_scope() as session:
        again = add_email(
            session,
            user_id=seeded.user_id,
            reminder_id=None,
            dedup_key=f"reminder:{seeded.invoice_ids[0]}:0",
            recipient="other@globex.example",
            subject="Again",
            text_body="",
            html_body="",
            now=T0,
        )
        assert again.id == seeded.message_ids[0]
        with pytest.raises(InvalidInput):
            add_email(
                session,
                user_id=seeded.user_id,
                reminder_id=None,
                dedup_key="bad",
                recipient="a@globex.example\r\nBcc: b@evil.example",
                subject="x",
                text_body="",
                html_body="",
                now=T0,
            )
    assert len(messages(database)) == 1


# --- delivery -----------------------------------------------------------------------------


def test_relay_delivers_over_one_smtp_session_and_records_each_reminder(
    database: Database, smtp: SmtpCapture
) -> None:
    seeded = seed(database, steps=3)
    clock = Clock(T0 + timedelta(seconds=1))
    result = relay(database, smtp.port, clock)
    assert result == RelayResult(sent=3)
    assert smtp.sessions == 1 and len(smtp.received) == 3
    invoice_id = seeded.invoice_ids[0]
    expected_ids = [
        make_message_id(f"reminder:{invoice_id}:{offset}", "duespark.example")
        for offset in range(3)
    ]
    assert smtp.message_ids() == expected_ids
    first = smtp.received[0].message
    assert first["Reply-To"].addresses[0].addr_spec == seeded.user_email
    sender = first["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "Ada, Analytical Engines",
        "reminders@duespark.example",
    )
    assert first["Subject"] == "Invoice INV-0000: a friendly reminder"
    assert "Merci — Ada" in first.get_body(("plain",)).get_content()
    assert all(m.status == "sent" and m.sent_at == clock.now for m in messages(database))
    assert all(r.state == "sent" and r.sent_at == clock.now for r in reminders(database))
    assert activity_kinds(database) == ["reminder_sent"] * 3
    assert relay(database, smtp.port, clock) == RelayResult()
    assert len(smtp.received) == 3


def test_a_row_may_name_its_own_sender_and_message_id(
    database: Database, smtp: SmtpCapture
) -> None:
    """The envelope keys the writer documents: from_address and message_id in the row win
    over the relay's defaults; any other key is an extra header."""
    seeded = seed(database)
    with database.session_scope() as session:
        add_email(
            session,
            user_id=seeded.user_id,
            reminder_id=None,
            dedup_key="reminder-9-+3",
            recipient="ap@initech.example",
            subject="Reminder",
            text_body="text",
            html_body="<p>html</p>",
            headers={
                "from_name": "Initrode",
                "from_address": "billing@initrode.example",
                "message_id": "<reminder-9-+3@duespark.example>",
                "List-Unsubscribe": "<mailto:stop@duespark.example>",
            },
            now=T0,
        )
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(sent=2)
    (own,) = [item for item in smtp.received if item.rcpt_tos == ["ap@initech.example"]]
    assert own.mail_from == "billing@initrode.example"
    assert str(own.message["From"]) == "Initrode <billing@initrode.example>"
    assert own.message["Message-ID"] == "<reminder-9-+3@duespark.example>"
    assert own.message["List-Unsubscribe"] == "<mailto:stop@duespark.example>"
    assert own.message["from_name"] is None and own.message["Reply-To"] is None


def test_nothing_is_claimed_before_it_is_due(database: Database, smtp: SmtpCapture) -> None:
    seed(database, now=T0)
    early = relay(database, smtp.port, Clock(T0 - timedelta(seconds=1)))
    assert early == RelayResult() and smtp.received == []


def test_a_message_without_a_reminder_is_sent_as_it_is(
    database: Database, smtp: SmtpCapture
) -> None:
    seeded = seed(database)
    with database.session_scope() as session:
        add_email(
            session,
            user_id=seeded.user_id,
            reminder_id=None,
            dedup_key="password-reset:1",
            recipient="ada@engines.example",
            subject="Reset your password",
            text_body="link",
            html_body="<a>link</a>",
            now=T0,
        )
    result = relay(database, smtp.port, Clock(T0))
    assert result.sent == 2
    assert {item.rcpt_tos[0] for item in smtp.received} == {
        "ada@engines.example",
        "accounts@globex.example",
    }


def test_server_down_backs_off_then_delivers_once_it_is_back(database: Database) -> None:
    seed(database, steps=2)
    port = free_port()  # nothing listens here yet
    clock = Clock(T0)
    first = relay(database, port, clock)
    assert first == RelayResult(failed=2)
    after_one = messages(database)
    assert all(m.status == "pending" and m.attempts == 1 for m in after_one)
    assert all("cannot connect" in m.last_error for m in after_one)
    assert all(m.next_attempt_at > clock.now for m in after_one)
    assert relay(database, port, clock) == RelayResult()  # not due yet: nothing tried

    clock.now = max(m.next_attempt_at for m in after_one)
    assert relay(database, port, clock) == RelayResult(failed=2)
    after_two = messages(database)
    assert all(m.attempts == 2 for m in after_two)
    first_wait = after_one[0].next_attempt_at - T0
    second_wait = after_two[0].next_attempt_at - clock.now
    assert second_wait > first_wait  # the backoff grew

    with smtp_capture(port) as server:
        clock.now = max(m.next_attempt_at for m in after_two)
        assert relay(database, port, clock) == RelayResult(sent=2)
    assert len(server.received) == 2
    assert all(m.status == "sent" and m.last_error == "" for m in messages(database))
    assert [r.state for r in reminders(database)] == ["sent", "sent"]


def test_after_the_last_attempt_the_message_is_dead_and_the_reminder_failed(
    database: Database,
) -> None:
    seed(database)
    port = free_port()
    clock = Clock(T0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = relay(database, port, clock)
        (message,) = messages(database)
        assert message.attempts == attempt
        assert result == (RelayResult(dead=1) if attempt == MAX_ATTEMPTS else RelayResult(failed=1))
        clock.now = message.next_attempt_at
    assert message.status == "dead"
    clock.now += timedelta(days=1)
    assert relay(database, port, clock) == RelayResult()  # dead is never retried by itself
    (reminder,) = reminders(database)
    assert reminder.state == "failed" and "cannot connect" in reminder.reason
    assert activity_kinds(database) == ["reminder_failed"]


def test_refused_recipient_is_dead_at_once_and_the_batch_goes_on(
    database: Database, smtp: SmtpCapture
) -> None:
    seed(database, recipient="refuse-me@globex.example")
    seed(database)
    result = relay(database, smtp.port, Clock(T0))
    assert result == RelayResult(sent=1, dead=1)
    refused, delivered = messages(database)
    assert refused.status == "dead" and refused.attempts == 1 and "550" in refused.last_error
    assert delivered.status == "sent"
    assert [r.state for r in reminders(database)] == ["failed", "sent"]


def test_an_unusable_row_is_dead_at_once_and_does_not_block_the_batch(
    database: Database, smtp: SmtpCapture
) -> None:
    seeded = seed(database)
    with database.session_scope() as session:  # written around the writer's checks
        session.add(
            OutboxMessage(
                user_id=seeded.user_id,
                dedup_key="broken:1",
                recipient="not an address",
                subject="x",
                text_body="",
                html_body="",
                headers={"X-Count": 3},
                status="pending",
                attempts=0,
                next_attempt_at=T0,
                last_error="",
                created_at=T0,
                updated_at=T0,
            )
        )
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(sent=1, dead=1)
    good, broken = messages(database)
    assert good.status == "sent" and len(smtp.received) == 1
    assert broken.status == "dead" and "cannot build the email" in broken.last_error


def test_an_unusable_from_address_claims_nothing(database: Database, smtp: SmtpCapture) -> None:
    seed(database)
    with pytest.raises(InvalidEmail):
        relay_once(
            database,
            smtp_sender(smtp.port),
            worker_id="w",
            now_fn=Clock(),
            from_address="not an address",
        )
    (message,) = messages(database)
    assert message.status == "pending" and message.attempts == 0


# --- never after payment -------------------------------------------------------------------


TOMORROW = T0.date() + timedelta(days=1)
YESTERDAY = T0.date() - timedelta(days=1)


@pytest.mark.parametrize(
    "table, values, reason",
    [
        (Invoice, {"status": "paid", "paid_at": T0}, "invoice was paid before sending"),
        (Invoice, {"status": "void"}, "invoice was voided before sending"),
        (Invoice, {"reminders_paused": True}, "reminders were paused"),
        (Client, {"reminders_paused_until": TOMORROW}, f"paused until {TOMORROW.isoformat()}"),
        (User, {"reminders_paused": True}, "reminders were paused"),
    ],
    ids=["paid", "void", "invoice-paused", "client-paused-until-tomorrow", "account-paused"],
)
def test_an_invoice_changed_after_queueing_withdraws_the_email(
    database: Database, smtp: SmtpCapture, table: type, values: dict[str, Any], reason: str
) -> None:
    seeded = seed(database)
    with database.session_scope() as session:
        # Only the invoice (or client, or account) changes: as if the code that pays or
        # pauses had not cancelled the queued email, which is what the re-check is for.
        row_id = {Invoice: seeded.invoice_ids[0], Client: seeded.client_id, User: seeded.user_id}
        session.execute(update(table).where(table.id == row_id[table]).values(**values))
    result = relay(database, smtp.port, Clock(T0))
    assert result == RelayResult(cancelled=1)
    assert smtp.received == []
    (message,) = messages(database)
    assert message.status == "cancelled" and reason in message.last_error
    (reminder,) = reminders(database)
    assert reminder.state == "cancelled" and reason in reminder.reason
    assert activity_kinds(database) == ["reminder_cancelled"]


def test_a_pause_that_ended_yesterday_does_not_stop_the_email(
    database: Database, smtp: SmtpCapture
) -> None:
    seeded = seed(database)
    with database.session_scope() as session:
        session.execute(
            update(Invoice)
            .where(Invoice.id == seeded.invoice_ids[0])
            .values(reminders_paused_until=YESTERDAY)
        )
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(sent=1)


def test_a_reminder_cancelled_by_hand_keeps_its_reason(
    database: Database, smtp: SmtpCapture
) -> None:
    seed(database)
    with database.session_scope() as session:
        session.execute(update(Reminder).values(state="cancelled", reason="cancelled by hand"))
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(cancelled=1)
    (reminder,) = reminders(database)
    assert reminder.reason == "cancelled by hand" and smtp.received == []
    (message,) = messages(database)
    assert message.last_error == "reminder is cancelled: cancelled by hand"


def test_a_payment_in_flight_defers_the_claim_then_wins(
    database: Database, smtp: SmtpCapture
) -> None:
    """The race the re-check exists for: the invoice is being marked paid (uncommitted)
    while a relay claims its reminder. The relay neither waits for the payment nor sends;
    once the payment commits, the next pass withdraws the email."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite lets one writer in at a time")
    seeded = seed(database)
    with database.engine.connect() as payment:
        payment.execute(
            update(Invoice).where(Invoice.id == seeded.invoice_ids[0]).values(status="paid")
        )
        pool = ThreadPoolExecutor(1)  # a relay that waited for the lock fails, not hangs
        try:
            during = pool.submit(relay, database, smtp.port, Clock(T0)).result(timeout=10)
        finally:
            pool.shutdown(wait=False)
        assert during == RelayResult(deferred=1)
        assert messages(database)[0].status == "pending"
        payment.commit()
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(cancelled=1)
    assert smtp.received == []
    assert reminders(database)[0].reason == "invoice was paid before sending"


# --- claiming ------------------------------------------------------------------------------

WORKER_SCRIPT = """
import json, sys, time
from pathlib import Path
from duespark.config import load_settings
from duespark.db import Database
from duespark.email.smtp import SmtpSender
from duespark.outbox import repository
from duespark.outbox.relay import relay_once

url, port, worker, ready, go, secret, from_address = sys.argv[1:8]
database = Database(load_settings({"DATABASE_URL": url, "SECRET_KEY": secret}))
sender = SmtpSender(host="127.0.0.1", port=int(port), timeout=10, local_hostname="test")
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.002)
sent = passes = 0
while time.monotonic() < deadline:
    result = relay_once(database, sender, worker_id=worker, limit=7, from_address=from_address)
    passes += 1
    sent += result.sent
    if result.handled == 0:
        with database.session_scope() as session:
            if repository.count_by_status(session)["pending"] == 0:
                break
        time.sleep(0.01)
print(json.dumps({"worker": worker, "sent": sent, "passes": passes}))
"""


def test_two_relay_processes_never_claim_the_same_message(
    database: Database, smtp: SmtpCapture, tmp_path: Path
) -> None:
    """200 emails (100 reminders on 20 invoices, 100 without a reminder, which no
    reminder or invoice lock protects), two worker processes started on one signal: every
    email is delivered exactly once, and both workers did part of the work."""
    queued_at = utc_now() - timedelta(minutes=1)
    seeded = seed(database, now=queued_at, invoices=20, steps=5)
    with database.session_scope() as session:
        for number in range(100):
            add_email(
                session,
                user_id=seeded.user_id,
                reminder_id=None,
                dedup_key=f"notice:{number}",
                recipient=f"someone{number}@globex.example",
                subject="A notice",
                text_body="text",
                html_body="<p>html</p>",
                now=queued_at,
            )
    go = tmp_path / "go"
    workers = []
    for name in ("alpha", "beta"):
        args = [database.url, str(smtp.port), name, str(tmp_path / name), str(go)]
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER_SCRIPT, *args, TEST_SECRET_KEY, FROM],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / name).exists() for name in ("alpha", "beta")):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(worker.poll() is None for worker in workers), "a worker exited early"
            time.sleep(0.01)
        go.touch()
        outputs = [worker.communicate(timeout=90) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    summaries = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    deliveries = Counter(smtp.message_ids())
    assert len(deliveries) == 200
    assert [key for key, count in deliveries.items() if count > 1] == []
    assert sum(summary["sent"] for summary in summaries) == 200
    assert all(summary["sent"] > 0 for summary in summaries), summaries
    with database.session_scope() as session:
        by_worker = dict(
            session.execute(
                select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by)
            ).all()
        )
    assert by_worker == {summary["worker"]: summary["sent"] for summary in summaries}
    assert all(m.status == "sent" for m in messages(database))
    assert activity_kinds(database).count("reminder_sent") == 100


def test_claimed_messages_are_invisible_to_other_claims(database: Database) -> None:
    seed(database, steps=3)
    with database.session_scope() as session:
        first = repository.claim_due(session, now=T0, limit=2, worker_id="a")
    with database.session_scope() as session:
        second = repository.claim_due(session, now=T0, limit=10, worker_id="b")
    assert len(first) == 2 and len(second) == 1
    assert {m.id for m in first}.isdisjoint({m.id for m in second})
    assert all(m.status == "sending" and m.claimed_by == "a" for m in first)


def test_an_expired_claim_is_released_and_sent_by_another_worker(
    database: Database, smtp: SmtpCapture
) -> None:
    seed(database)
    with database.session_scope() as session:
        (claimed,) = repository.claim_due(session, now=T0, limit=10, worker_id="crashed")
    port = smtp.port

    within_lease = Clock(T0 + timedelta(minutes=9))
    assert relay(database, port, within_lease, worker_id="b") == RelayResult()

    after_lease = Clock(T0 + timedelta(minutes=11))
    assert relay(database, port, after_lease, worker_id="b") == RelayResult(released=1)
    (message,) = messages(database)
    assert message.status == "pending" and message.attempts == 1
    assert "claim by crashed expired" in message.last_error

    with database.session_scope() as session:  # the crashed worker's late report is ignored
        late = repository.mark_failed(
            session,
            claimed.id,
            worker_id="crashed",
            now=after_lease.now,
            error="x",
            rng=random.Random(0),
        )
    assert late is None

    after_lease.now = message.next_attempt_at
    assert relay(database, port, after_lease, worker_id="b") == RelayResult(sent=1)
    assert len(smtp.received) == 1
    (message,) = messages(database)
    assert message.status == "sent" and message.claimed_by == "b"


def test_should_stop_finishes_the_message_in_hand_and_hands_back_the_rest(
    database: Database, smtp: SmtpCapture
) -> None:
    seed(database, steps=5)
    asked: list[int] = []

    def should_stop() -> bool:
        asked.append(len(smtp.received))
        return len(smtp.received) >= 2

    result = relay(database, smtp.port, Clock(T0), should_stop=should_stop)
    assert result == RelayResult(sent=2, returned=3)
    assert len(smtp.received) == 2
    statuses = Counter((m.status, m.attempts, m.claimed_by) for m in messages(database))
    assert statuses == Counter({("sent", 0, "worker-a"): 2, ("pending", 0, None): 3})
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(sent=3)


def sent_rows(database: Database) -> int:
    with database.session_scope() as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )


def test_fast_deliveries_are_recorded_in_groups_of_at_most_record_at_most(
    database: Database,
) -> None:
    seed(database, invoices=RECORD_AT_MOST + 5)
    recorded_before_each_send: list[int] = []
    sender = RecordingSender(
        on_send=lambda _m: recorded_before_each_send.append(sent_rows(database))
    )
    result = relay_once(database, sender, worker_id="fast", now_fn=Clock(T0), from_address=FROM)
    assert result.sent == RECORD_AT_MOST + 5
    # Nothing recorded while the first group fills; all of it just before the next email.
    assert recorded_before_each_send[:RECORD_AT_MOST] == [0] * RECORD_AT_MOST
    assert recorded_before_each_send[RECORD_AT_MOST] == RECORD_AT_MOST
    assert sent_rows(database) == RECORD_AT_MOST + 5


def test_with_a_slow_server_each_delivery_is_recorded_before_the_next_email(
    database: Database,
) -> None:
    seed(database, invoices=3)
    recorded_before_each_send: list[int] = []

    def slow(_message: object) -> None:
        recorded_before_each_send.append(sent_rows(database))
        time.sleep(RECORD_WITHIN + 0.05)

    sender = RecordingSender(on_send=slow)
    result = relay_once(database, sender, worker_id="slow", now_fn=Clock(T0), from_address=FROM)
    assert result.sent == 3
    assert recorded_before_each_send == [0, 1, 2]


def test_a_batch_slower_than_half_its_lease_renews_its_claims(database: Database) -> None:
    seeded = seed(database, invoices=4)
    clock = Clock(T0)
    lease = timedelta(minutes=10)
    claimed_at: list[datetime | None] = []

    def tick(_message: object) -> None:
        with database.session_scope() as session:
            last = session.get(OutboxMessage, seeded.message_ids[-1])
            claimed_at.append(last.claimed_at if last is not None else None)
        clock.now += timedelta(minutes=4)  # each email takes four minutes

    sender = RecordingSender(on_send=tick)
    result = relay_once(
        database, sender, worker_id="slow", now_fn=clock, from_address=FROM, lease=lease
    )
    assert result.sent == 4
    # Renewed before the third email (8 minutes in), so never older than the lease.
    assert claimed_at == [T0, T0, T0 + timedelta(minutes=8), T0 + timedelta(minutes=8)]


def test_a_stalled_batch_skips_what_another_worker_took_over(database: Database) -> None:
    seeded = seed(database, invoices=3)
    clock = Clock(T0)
    taken_over: list[int] = []

    def stall_then_lose_the_rest(_message: object) -> None:
        if taken_over:
            return
        clock.now += timedelta(minutes=11)  # the worker froze past its lease
        with database.session_scope() as session:
            for message_id in seeded.message_ids[1:]:
                message = session.get(OutboxMessage, message_id)
                assert message is not None
                message.claimed_by = "worker-b"
                taken_over.append(message_id)

    sender = RecordingSender(on_send=stall_then_lose_the_rest)
    result = relay_once(database, sender, worker_id="frozen", now_fn=clock, from_address=FROM)
    assert result.sent == 1
    assert len(sender.sent) == 1, "an email another worker holds went out from this one"


# --- operator actions ------------------------------------------------------------------------


def test_requeue_and_cancel_follow_the_state_rules(database: Database, smtp: SmtpCapture) -> None:
    seeded = seed(database, steps=3)
    sent_id, dead_id, pending_id = seeded.message_ids
    with database.session_scope() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == sent_id).values(status="sent")
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == dead_id)
            .values(status="dead", attempts=8)
        )
        session.execute(
            update(Reminder).where(Reminder.id == seeded.reminder_ids[1]).values(state="failed")
        )
    with pytest.raises(Conflict), database.session_scope() as session:
        repository.requeue(session, [dead_id, sent_id], now=T0)
    with pytest.raises(NotFound), database.session_scope() as session:
        repository.requeue(session, [dead_id, 999_999], now=T0)
    assert {m.id: m.status for m in messages(database)}[dead_id] == "dead"  # all or nothing

    with database.session_scope() as session:
        requeued = repository.requeue_dead(session, now=T0)
        assert [m.id for m in requeued] == [dead_id]
        repository.cancel(session, pending_id, now=T0, reason="cancelled by an operator")
        with pytest.raises(Conflict):
            repository.cancel(session, sent_id, now=T0, reason="too late")
    state = {m.id: (m.status, m.attempts) for m in messages(database)}
    assert state[dead_id] == ("pending", 0) and state[pending_id] == ("cancelled", 0)
    assert [r.state for r in reminders(database)][1:] == ["scheduled", "cancelled"]
    assert relay(database, smtp.port, Clock(T0)) == RelayResult(sent=1)
