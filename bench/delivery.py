"""Delivery: one worker's relay pass sends 10,000 due reminders to an SMTP server on
loopback, against a plain ``smtplib`` loop sending the same rendered messages over one
connection.

The reminders come from a real planning pass (not timed): one account on the default
policy, invoices due in three days, so each owes exactly its friendly "-3 days" email at
the fixed instant the benchmark runs at. Each side sends to its own fresh SMTP server
(``bench/_smtp_sink.py``, a separate process), which must report exactly the expected
count.

Target: the worker delivers at least 0.5 of the plain loop's messages per second.
"""

from __future__ import annotations

import re
import smtplib
import sys
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from _common import (
    BENCH_DIR,
    SECRET_KEY,
    Service,
    analyze,
    connect,
    emit_result,
    environ,
    parse_args,
    ratio_of,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
    service,
    stop,
    stopwatch,
    table_count,
)
from sqlalchemy import select

from duespark.config import Settings, load_settings
from duespark.db import Database
from duespark.email.message import EmailMessage, domain_of, format_address, make_message_id
from duespark.email.sender import sender_from_settings
from duespark.models import OutboxMessage
from duespark.outbox.writer import FROM_ADDRESS, FROM_NAME, MESSAGE_ID, REPLY_TO
from duespark.worker.main import Worker

NAME = "delivery"
SIZES = {"smoke": {"reminders": 200}, "full": {"reminders": 10_000}}
TARGET_RATIO = 0.5
# A Wednesday, inside the default send window (09:00-17:00 on weekdays) in UTC.
NOW = datetime(2030, 1, 16, 10, 0, tzinfo=UTC)
SENDER = "reminders@bench.example"


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    expected = args.reminders
    errors = 0
    with scratch_database(NAME, keep=args.keep) as url:
        with connect(url) as connection:
            user_id = seed_account(connection, email="delivery-bench@example.com")
            clients = seed_clients(connection, user_id, 100)
            due = (NOW + timedelta(days=3)).date()
            seed_invoices(
                connection,
                user_id=user_id,
                clients=clients,
                count=expected,
                due_date_sql=f"DATE '{due.isoformat()}'",
            )
            connection.commit()
        analyze(url)
        settings = _settings(url, port=25)
        database = Database(settings)
        try:
            planned = _worker(database, settings).plan_pass()
            say(f"planned {planned.planned_invoices} invoices: {planned.queued} emails queued")
            if planned.queued != expected:
                errors += 1
            messages = _rendered(database)
            with _sink() as sink:
                with stopwatch() as plain:
                    _plain_loop(_port(sink), messages)
                received = _stop_and_count(sink)
            base_rate = ratio_of(expected, plain[0])
            say(
                f"smtplib loop: {expected} messages in {plain[0]:.2f} s "
                f"({base_rate:.0f}/s), server received {received}"
            )
            errors += received != expected
            with _sink() as sink:
                settings = _settings(url, port=_port(sink))
                worker = _worker(database, settings)
                with stopwatch() as relay:
                    result = worker.relay_pass()
                received = _stop_and_count(sink)
            rate = ratio_of(result.sent, relay[0])
            say(
                f"worker relay: {result.sent} sent in {relay[0]:.2f} s ({rate:.0f}/s), "
                f"{result.failed} failed, {result.dead} dead; server received {received}"
            )
            errors += (received != expected) + (result.sent != expected)
            errors += result.failed + result.dead
            stored = table_count(url, "outbox_message", "status = 'sent'")
            errors += stored != expected
        finally:
            database.dispose()
    ratio = ratio_of(rate, base_rate)
    say(f"ratio: {ratio:.2f} of the plain loop's rate")
    emit_result(
        NAME,
        figures={"messages": expected, "seconds": round(relay[0], 3), "per_second": round(rate, 1)},
        baseline={"seconds": round(plain[0], 3), "per_second": round(base_rate, 1)},
        ratio=ratio,
        target=f">= {TARGET_RATIO}",
        met=ratio >= TARGET_RATIO,
        errors=errors,
    )
    return 0


def _settings(url: str, *, port: int) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "DUESPARK_EMAIL_URL": f"smtp://127.0.0.1:{port}",
            "DUESPARK_EMAIL_FROM": SENDER,
        }
    )


def _worker(database: Database, settings: Settings) -> Worker:
    return Worker(
        database, settings, sender_from_settings(settings), worker_id="bench", now_fn=lambda: NOW
    )


def _rendered(database: Database) -> list[tuple[str, str, bytes]]:
    """(sender, recipient, bytes) of every queued email, built as the relay builds them."""
    built = []
    with database.session_scope() as session:
        for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
            headers = row.headers
            address = headers.get(FROM_ADDRESS) or SENDER
            email = EmailMessage(
                to=row.recipient,
                subject=row.subject,
                text=row.text_body,
                html=row.html_body,
                from_address=format_address(headers[FROM_NAME], address),
                reply_to=headers.get(REPLY_TO),
                message_id=headers.get(MESSAGE_ID)
                or make_message_id(row.dedup_key, domain_of(address)),
                date=NOW,
            )
            built.append((email.sender, email.recipient, email.as_bytes()))
    return built


def _plain_loop(port: int, messages: list[tuple[str, str, bytes]]) -> None:
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=30)
    try:
        for sender, recipient, data in messages:
            client.sendmail(sender, [recipient], data)
    finally:
        client.quit()


def _sink() -> AbstractContextManager[Service]:
    """A fresh SMTP server on loopback, in its own process."""
    command = [sys.executable, str(BENCH_DIR / "_smtp_sink.py")]
    return service(command, env=environ(), ready=r"listening on (\d+)")


def _port(sink: Service) -> int:
    assert sink.match is not None
    return int(sink.match.group(1))


def _stop_and_count(sink: Service) -> int:
    """Stop the server and read how many messages it accepted (-1: it did not say)."""
    stop(sink.process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"received (\d+)", sink.text())
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    return -1


if __name__ == "__main__":
    sys.exit(main())
