"""``duespark status`` through the real command, on both databases, each check driven into
ok, warn and fail by real rows: heartbeats, outbox messages, dead letters, the schema."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text, update

from duespark.clock import utc_now
from duespark.db import Database
from duespark.models import OutboxMessage, WorkerHeartbeat
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY
from tests.integration.test_outbox_relay import seed

NAMES = ("database", "schema", "worker", "outbox", "dead letters", "configuration")


def status(
    database: Database, cwd: Path, *args: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    env = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY, **environ)
    return run_cli("status", *args, env=env, cwd=cwd)


def levels(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's level, read from the human output's `level  name  detail` lines."""
    found = {}
    for line in result.stdout.splitlines():
        level, _, rest = line.partition(" ")
        name = next((n for n in NAMES if rest.lstrip().startswith(n + " ")), None)
        if level in {"ok", "warn", "fail"} and name is not None:
            found[name] = level
    return found


def checks(database: Database, cwd: Path) -> dict[str, dict[str, Any]]:
    result = status(database, cwd, "--json")
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def beat(database: Database, age: timedelta, worker_id: str = "web-1:4242") -> None:
    now = utc_now()
    with database.session_scope() as session:
        session.add(
            WorkerHeartbeat(
                worker_id=worker_id,
                hostname="web-1",
                pid=4242,
                started_at=now - age - timedelta(hours=1),
                last_seen_at=now - age,
            )
        )


def test_a_healthy_system_is_all_ok_and_exits_0(database: Database, tmp_path: Path) -> None:
    beat(database, timedelta(seconds=5))
    seed(database, now=utc_now() + timedelta(hours=1))  # mail queued, not due yet
    result = status(database, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert levels(result) == dict.fromkeys(NAMES, "ok")
    assert re.search(r"^ok {4}database {6}reachable in \d+ ms", result.stdout, re.M)
    assert "1 pending (0 due now)" in result.stdout
    assert re.search(r"last beat \d+ s ago \(web-1:4242\)", result.stdout)
    assert "status: ok (0 warning(s), 0 failure(s))" in result.stdout


def test_a_quiet_worker_warns_and_a_dead_one_with_due_mail_fails(
    database: Database, tmp_path: Path
) -> None:
    beat(database, timedelta(minutes=5))
    quiet = status(database, tmp_path)
    assert quiet.returncode == 0
    assert levels(quiet)["worker"] == "warn"
    assert "last beat 5 min ago" in quiet.stdout and "expected every 30 s" in quiet.stdout

    with database.engine.begin() as connection:
        connection.execute(
            update(WorkerHeartbeat).values(last_seen_at=utc_now() - timedelta(hours=2))
        )
    seed(database, now=utc_now() - timedelta(hours=2), invoices=3)
    down = status(database, tmp_path)
    assert down.returncode == 1
    found = levels(down)
    assert (found["worker"], found["outbox"]) == ("fail", "fail")
    assert "3 email(s) are due: the worker looks down" in down.stdout
    assert "3 pending (3 due now)" in down.stdout and "mail is not going out" in down.stdout


def test_no_worker_ever_warns_until_mail_is_due(database: Database, tmp_path: Path) -> None:
    assert levels(status(database, tmp_path))["worker"] == "warn"
    seed(database, now=utc_now() - timedelta(seconds=30))
    data = checks(database, tmp_path)
    assert data["worker"]["level"] == "fail"
    assert "no worker has ever reported, and 1 email(s) are due" in data["worker"]["detail"]
    assert data["outbox"]["level"] == "ok"  # due for 30 s: not late yet
    assert data["outbox"]["data"]["due"] == 1


def test_an_outbox_backlog_warns_then_fails_with_its_age(
    database: Database, tmp_path: Path
) -> None:
    beat(database, timedelta(seconds=1))
    seed(database, now=utc_now() - timedelta(minutes=20))
    late = checks(database, tmp_path)["outbox"]
    assert late["level"] == "warn"
    assert "the oldest due email has waited 20 min" in late["detail"]
    assert 1190 <= late["data"]["oldest_due_age_seconds"] <= 1300

    seed(database, now=utc_now() - timedelta(hours=3))
    stuck = status(database, tmp_path, "--json")
    assert stuck.returncode == 1
    outbox = {c["name"]: c for c in json.loads(stuck.stdout)["checks"]}["outbox"]
    assert outbox["level"] == "fail" and "waited 3 h" in outbox["detail"]
    assert json.loads(stuck.stdout)["status"] == "fail"


def test_dead_letters_warn_with_the_command_to_see_them(database: Database, tmp_path: Path) -> None:
    beat(database, timedelta(seconds=1))
    ids = seed(database, now=utc_now() - timedelta(seconds=30), invoices=3).message_ids
    with database.engine.begin() as connection:
        connection.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[:2]))
            .values(status="dead", last_error="550 mailbox unavailable")
        )
    result = status(database, tmp_path)
    assert result.returncode == 0  # a warning, not a failure
    assert levels(result)["dead letters"] == "warn"
    assert "2 dead message(s): see `duespark outbox list --status dead`" in result.stdout


def test_a_schema_behind_the_code_fails(database: Database, tmp_path: Path) -> None:
    with database.engine.begin() as connection:
        (head,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        result = status(database, tmp_path)
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert result.returncode == 1
    assert levels(result)["schema"] == "fail"
    assert f"at 0001, the code needs {head}: run `duespark db upgrade`" in result.stdout
    assert levels(status(database, tmp_path))["schema"] == "ok"


def test_production_with_a_development_mail_setup_fails(database: Database, tmp_path: Path) -> None:
    beat(database, timedelta(seconds=1))
    result = status(
        database,
        tmp_path,
        DUESPARK_ENV="production",
        DUESPARK_EMAIL_URL=f"file://{tmp_path / 'mail'}",
        DUESPARK_EMAIL_FROM="Ada <ada@engines.example>",
        DUESPARK_BASE_URL="http://duespark.example",
    )
    assert result.returncode == 1
    assert levels(result)["configuration"] == "fail"
    assert "DUESPARK_EMAIL_URL is file: reminders are never sent" in result.stdout
    assert "DUESPARK_BASE_URL is http://" in result.stdout


def test_an_unreachable_database_fails_without_creating_anything(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "duespark.db"
    env = base_environ(DATABASE_URL=f"sqlite:///{missing}", SECRET_KEY=TEST_SECRET_KEY)
    result = run_cli("status", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert f"fail  database      the SQLite file {missing} does not exist" in result.stdout
    assert not missing.exists()

    env["DATABASE_URL"] = "postgresql://duespark:s3cret-pw-123@127.0.0.1:1/duespark"
    down = run_cli("status", "--json", env=env, cwd=tmp_path)
    assert down.returncode == 1
    report = json.loads(down.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["database"]["level"] == "fail"
    assert by_name["database"]["detail"].startswith("unreachable: ")
    assert by_name["worker"]["detail"] == "not checked: the database is unreachable"
    assert "s3cret-pw-123" not in down.stdout + down.stderr


def test_a_bad_configuration_exits_2(tmp_path: Path) -> None:
    env = base_environ(DUESPARK_ENV="production")
    result = run_cli("status", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr
