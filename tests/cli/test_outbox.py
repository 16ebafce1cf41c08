"""``duespark outbox``: dead letters listed and requeued through the real command, on both
databases, after a real relay gave up on an unreachable SMTP server."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from duespark.clock import utc_now
from duespark.db import Database
from duespark.outbox.relay import RelayResult
from duespark.outbox.retry import MAX_ATTEMPTS
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY
from tests.integration.test_outbox_relay import Clock, messages, relay, reminders, seed
from tests.smtp import free_port, smtp_capture


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the Rich table, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_dead_message_is_listed_then_requeued_and_delivered(
    database: Database, tmp_path: Path
) -> None:
    (dead_id,) = seed(database).message_ids
    clock = Clock()
    down = free_port()
    for _ in range(MAX_ATTEMPTS):
        relay(database, down, clock)
        clock.now = messages(database)[0].next_attempt_at
    (sent_id,) = seed(database, now=clock.now).message_ids
    with smtp_capture() as server:
        assert relay(database, server.port, clock) == RelayResult(sent=1)
    assert [m.status for m in messages(database)] == ["dead", "sent"]

    environ = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("outbox", *args, env=environ, cwd=tmp_path)

    dead = cli("list", "--status", "dead")
    assert dead.returncode == 0, dead.stderr
    rows = table_rows(dead.stdout)
    assert [row[:5] for row in rows] == [
        [str(dead_id), "dead", str(MAX_ATTEMPTS), "-", "accounts@globex.example"]
    ]
    assert "cannot connect" in rows[0][6]
    assert "dead 1" in dead.stdout and "sent 1" in dead.stdout

    assert "No pending messages" in cli("list", "--status", "pending").stdout
    assert cli("list", "--status", "lost").returncode == 2
    assert cli("retry").returncode == 2
    assert cli("retry", "1", "--all-dead").returncode == 2

    unknown = cli("retry", str(dead_id), "999999")
    assert unknown.returncode == 1 and "No outbox message 999999" in unknown.stderr
    already_sent = cli("retry", str(sent_id))
    assert already_sent.returncode == 1 and "is sent" in already_sent.stderr
    assert messages(database)[0].status == "dead"  # a failed retry changes nothing

    requeued = cli("retry", "--all-dead")
    assert requeued.returncode == 0, requeued.stderr
    assert f"Requeued 1 message(s): {dead_id}." in requeued.stdout
    message = messages(database)[0]
    assert (message.status, message.attempts) == ("pending", 0)
    assert reminders(database)[0].state == "scheduled"
    assert "No dead messages to requeue" in cli("retry", "--all-dead").stdout

    with smtp_capture() as server:
        after = Clock(utc_now() + timedelta(seconds=1))
        assert relay(database, server.port, after) == RelayResult(sent=1)
    assert [item.rcpt_tos for item in server.received] == [["accounts@globex.example"]]
    assert [r.state for r in reminders(database)] == ["sent", "sent"]
