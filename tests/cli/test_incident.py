"""``duespark incident snapshot`` through the real command: the folder, its facts, the
pre-filled report, a blocked migration named with its blocker, a scraped server, and
secrets planted everywhere that must appear nowhere in the folder (0 occurrences, not even
a fragment)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx2
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import update
from sqlalchemy.engine import make_url

from duespark.clock import utc_now
from duespark.db import Database
from duespark.models import OutboxMessage, Reminder, WorkerHeartbeat
from duespark.ops import migrations
from tests import postgres
from tests.cli.conftest import base_environ, run_cli
from tests.cli.test_serve import start_server
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.integration.test_outbox_relay import seed

FILES = {
    "status.txt",
    "status.json",
    "db-activity.txt",
    "db-activity.json",
    "errors.txt",
    "errors.json",
    "metrics.prom",
    "config.txt",
    "incident-report.md",
}
REPORT_SECTIONS = [
    "## Summary",
    "## Impact",
    "## Timeline (UTC)",
    "## Root cause(s)",
    "## Trigger",
    "## Resolution",
    "## Detection",
    "## Action items",
    "## Lessons learned",
    "## Supporting information",
]


def planted_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SECRET_KEY_FALLBACKS": secrets.token_urlsafe(40),
        "db password": "pg-" + secrets.token_hex(12),
        "smtp password": "smtp-" + secrets.token_hex(12),
        "DUESPARK_METRICS_TOKEN": secrets.token_hex(24),
    }


def secret_environ(database_url: str, planted: dict[str, str]) -> dict[str, str]:
    url = make_url(database_url)
    if url.drivername.startswith("postgresql"):
        # The server trusts loopback connections, so the password is carried, never checked.
        url = url.set(password=planted["db password"])
    return base_environ(
        DATABASE_URL=url.render_as_string(hide_password=False),
        SECRET_KEY=planted["SECRET_KEY"],
        SECRET_KEY_FALLBACKS=planted["SECRET_KEY_FALLBACKS"],
        DUESPARK_EMAIL_URL=(
            f"smtp://mailer:{quote(planted['smtp password'])}@smtp.example.invalid:587"
            "?starttls=true"
        ),
        DUESPARK_EMAIL_FROM="Ada <ada@engines.example>",
        DUESPARK_METRICS_TOKEN=planted["DUESPARK_METRICS_TOKEN"],
    )


def snapshot(env: dict[str, str], cwd: Path, *args: str) -> tuple[Path, str]:
    result = run_cli("incident", "snapshot", "--dir", str(cwd / "out"), *args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (cwd / "out").iterdir()
    return folder, result.stdout + result.stderr


def assert_no_secret(folder: Path, output: str, planted: dict[str, str]) -> None:
    """Not a secret, nor any 12-character piece of one, in any file or in the output."""
    contents = {path.name: path.read_text() for path in folder.iterdir()}
    contents["(command output)"] = output
    for name, value in planted.items():
        pieces = {value[i : i + 12] for i in range(0, len(value) - 11, 4)}
        for where, text in contents.items():
            assert value not in text, f"{name} found in {where}"
            leaked = [piece for piece in pieces if piece in text]
            assert not leaked, f"part of {name} found in {where}: {leaked}"


def plant_incident(database: Database, planted: dict[str, str]) -> None:
    """Mail stuck for two hours, a stale worker, a dead letter and a failed reminder whose
    error texts echo secrets (as a careless SMTP library might)."""
    two_hours_ago = utc_now() - timedelta(hours=2)
    seed(database, now=two_hours_ago, invoices=2)
    dead = seed(database, now=two_hours_ago)
    with database.session_scope() as session:
        session.add(
            WorkerHeartbeat(
                worker_id="web-1:4242",
                hostname="web-1",
                pid=4242,
                started_at=two_hours_ago - timedelta(days=1),
                last_seen_at=two_hours_ago,
            )
        )
    error = (
        f"535 auth failed for smtp://mailer:{planted['smtp password']}@smtp.example.invalid "
        f"(signing key {planted['SECRET_KEY']})"
    )
    with database.engine.begin() as connection:
        connection.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == dead.message_ids[0])
            .values(status="dead", attempts=8, last_error=error, updated_at=utc_now())
        )
        connection.execute(
            update(Reminder)
            .where(Reminder.id == dead.reminder_ids[0])
            .values(
                state="failed",
                reason=f"email refused for good: token {planted['DUESPARK_METRICS_TOKEN']}",
                updated_at=utc_now(),
            )
        )


def libpq_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
def idle_session_showing_a_secret(database: Database) -> Iterator[dict[str, str]]:
    """On PostgreSQL, a session left idle in a transaction whose last query holds a secret
    literal, so pg_stat_activity shows it (its pid is returned with the secret)."""
    planted = planted_secrets()
    if database.engine.dialect.name != "postgresql":
        yield planted
        return
    with psycopg.connect(libpq_url(database.url)) as connection:
        connection.execute(
            sql.SQL("SELECT {} AS probe").format(sql.Literal(planted["db password"]))
        )
        planted["(pid)"] = str(connection.info.backend_pid)
        yield planted
        connection.rollback()


def test_snapshot_gathers_the_facts_and_leaks_no_secret(
    database: Database, tmp_path: Path, idle_session_showing_a_secret: dict[str, str]
) -> None:
    planted = dict(idle_session_showing_a_secret)
    idle_pid = planted.pop("(pid)", None)
    plant_incident(database, planted)

    folder, output = snapshot(secret_environ(database.url, planted), tmp_path)

    assert re.fullmatch(r"incident-\d{4}-\d{2}-\d{2}T\d{4}Z", folder.name)
    assert {path.name for path in folder.iterdir()} == FILES
    assert_no_secret(folder, output, planted)

    status = (folder / "status.txt").read_text()
    assert re.search(r"^fail  worker .*2 email\(s\) are due", status, re.M)
    assert re.search(r"^fail  outbox .*2 pending \(2 due now\)", status, re.M)
    assert re.search(r"^warn  dead letters +1 dead message", status, re.M)
    assert json.loads((folder / "status.json").read_text())["status"] == "fail"

    errors = (folder / "errors.txt").read_text()
    assert "dead after 8 attempt(s): 535 auth failed for smtp://mailer:[REDACTED]@" in errors
    assert "email refused for good: token [REDACTED]" in errors
    assert len(json.loads((folder / "errors.json").read_text())["deliveries"]) == 1

    metrics = (folder / "metrics.prom").read_text()
    assert "duespark_outbox_pending 2.0" in metrics and "duespark_outbox_dead 1.0" in metrics

    config = (folder / "config.txt").read_text()
    assert re.search(r"^SECRET_KEY +set \(\[REDACTED\]\)$", config, re.M)
    assert "smtp://mailer:[REDACTED]@smtp.example.invalid:587" in config

    report = (folder / "incident-report.md").read_text()
    positions = [report.index(section) for section in REPORT_SECTIONS]
    assert positions == sorted(positions)
    assert "- outbox: 2 email(s) pending, 2 due now; the oldest due one has waited 2 h" in report
    assert "- dead letters: 1" in report
    for event in ("last worker heartbeat", "oldest email still waiting", "latest delivery error"):
        assert event in report
    assert status.splitlines()[1] in report  # the status lines are quoted in the report
    assert "| action item | type | owner | bug |" in report

    activity = (folder / "db-activity.txt").read_text()
    if idle_pid is None:
        assert "PRAGMA quick_check: ok" in activity
    else:
        assert re.search(r"Connections: \d+ of \d+ usable \(max_connections \d+", activity)
        idle = activity.split("Idle in transaction")[1].split("All sessions")[0]
        assert f"pid {idle_pid} " in idle and "SELECT '[REDACTED]' AS probe" in idle


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (locks must not touch others')."""
    name = postgres.create_database(postgres_admin_url, "duespark_incident")
    url = postgres.database_url(postgres_admin_url, name)
    try:
        database = Database(make_settings(url))
        migrations.upgrade(database.engine)
        database.dispose()
        yield url
    finally:
        postgres.drop_database(postgres_admin_url, name)


@pytest.mark.postgresql
def test_a_blocked_migration_is_named_with_its_blocker(postgres_url: str, tmp_path: Path) -> None:
    """Runbook 4's hardest question, "who blocks whom", answered within seconds: a session
    idle in a transaction holds a lock that an ALTER TABLE waits for."""
    url = libpq_url(postgres_url)
    holder = psycopg.connect(url)
    migrator = psycopg.connect(url)
    blocked_done = threading.Event()

    def migrate() -> None:
        try:
            migrator.execute("SET lock_timeout = '60s'")
            migrator.execute("ALTER TABLE client ADD COLUMN incident_probe integer")
        finally:
            blocked_done.set()

    thread = threading.Thread(target=migrate, daemon=True)
    try:
        holder.execute("SELECT count(*) FROM client")  # holds a lock, then sits idle
        holder_pid, migrator_pid = holder.info.backend_pid, migrator.info.backend_pid
        thread.start()
        _wait_until_waiting(url, migrator_pid)

        started = time.monotonic()
        env = base_environ(DATABASE_URL=postgres_url, SECRET_KEY=TEST_SECRET_KEY)
        folder, _ = snapshot(env, tmp_path)
        assert time.monotonic() - started < 10
        assert not blocked_done.is_set()  # the lock was still held while we looked
    finally:
        holder.rollback()
        thread.join(30)
        migrator.rollback()
        holder.close()
        migrator.close()

    activity = (folder / "db-activity.txt").read_text()
    who = activity.split("Who blocks whom:")[1].split("Idle in transaction")[0]
    assert f"pid {migrator_pid} (Lock:relation" in who
    assert "ALTER TABLE client ADD COLUMN incident_probe integer" in who
    assert f"is blocked by pid {holder_pid} (idle in transaction" in who
    idle = activity.split("Idle in transaction")[1].split("All sessions")[0]
    assert f"pid {holder_pid} " in idle
    blocking = json.loads((folder / "db-activity.json").read_text())["blocking"]
    assert {"pid": migrator_pid, "blocked_by": [holder_pid]} in blocking


def _wait_until_waiting(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(100):
            row = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    pytest.fail(f"session {pid} never waited for the lock")


def test_snapshot_scrapes_a_running_server_with_its_token(tmp_path: Path) -> None:
    planted = planted_secrets()
    env = secret_environ(f"sqlite:///{tmp_path / 'duespark.db'}", planted)
    servers = start_server(env, tmp_path)
    server = next(servers)
    try:
        with httpx2.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/metrics").status_code == 401  # the token is required...
            for invoice_id in (7, 8, 9):
                assert http.get(f"/invoices/{invoice_id}").status_code == 401
        folder, output = snapshot(env, tmp_path, "--url", server.url)
    finally:
        servers.close()
    metrics = (folder / "metrics.prom").read_text()
    # ...and the snapshot sent it: the server's own request counters are in the sample.
    assert metrics.startswith(f"# scraped from {server.url}/metrics")
    assert 'http_requests_total{method="GET",route="/invoices/{invoice_id}",status="401"} 3.0' in (
        metrics
    )
    assert_no_secret(folder, output, planted)


def test_snapshot_into_an_unwritable_place_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = base_environ(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", SECRET_KEY=TEST_SECRET_KEY)
    result: subprocess.CompletedProcess[str] = run_cli(
        "incident", "snapshot", "--dir", str(blocker / "sub"), env=env, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "cannot write the snapshot" in result.stderr
