"""``duespark perf`` through the real command against a real PostgreSQL 15: the statement
report with pg_stat_statements loaded (after running known statements), the exact steps
when the extension is missing (exit 2), SQLite refused (exit 2), table and connection
statistics.

Tests that need the library in ``shared_preload_libraries`` take the
``pg_stat_statements_loaded`` fixture: without it they skip with the reason, and under
``DUESPARK_REQUIRE_POSTGRES=1`` (CI, whose .ci/run loads the library) they fail.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from duespark.db import Database
from duespark.ops import migrations
from duespark.ops.perf import statement_columns
from tests import postgres
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY, make_settings


@pytest.fixture
def pg_stat_statements_loaded(postgres_admin_url: str) -> None:
    with psycopg.connect(postgres_admin_url) as connection:
        (libraries,) = connection.execute("SHOW shared_preload_libraries").fetchone() or ("",)
    if "pg_stat_statements" in libraries:
        return
    reason = (
        "pg_stat_statements is not in shared_preload_libraries on the test server "
        f"(it is {libraries!r}); .ci/run loads it: ALTER SYSTEM SET shared_preload_libraries "
        "= 'pg_stat_statements', then restart PostgreSQL"
    )
    if postgres.required():
        pytest.fail(reason + " (DUESPARK_REQUIRE_POSTGRES=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated database of this test's own: its statistics are its own too."""
    name = postgres.create_database(postgres_admin_url, "duespark_perf")
    url = postgres.database_url(postgres_admin_url, name)
    try:
        database = Database(make_settings(url))
        migrations.upgrade(database.engine)
        database.dispose()
        yield url
    finally:
        postgres.drop_database(postgres_admin_url, name)


@pytest.fixture
def libpq(postgres_url: str) -> str:
    return make_url(postgres_url).set(drivername="postgresql").render_as_string(False)


def perf(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_environ(DATABASE_URL=url, SECRET_KEY=TEST_SECRET_KEY)
    return run_cli("perf", *args, env=env, cwd=cwd)


@pytest.mark.postgresql
def test_queries_ranks_the_statement_that_cost_the_most(
    pg_stat_statements_loaded: None, postgres_url: str, libpq: str, tmp_path: Path
) -> None:
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION pg_stat_statements")
        connection.execute("SELECT pg_stat_statements_reset()")
        for _ in range(30):
            connection.execute("SELECT pg_sleep(0.01), 'slow probe'")
        for number in range(50):
            connection.execute("SELECT count(*) FROM invoice WHERE number = %s", (str(number),))

    result = perf(postgres_url, tmp_path, "queries", "--json", "--limit", "5")
    assert result.returncode == 0, result.stderr
    statements = json.loads(result.stdout)
    top = statements[0]
    assert "pg_sleep" in top["query"]
    assert top["calls"] == 30
    assert top["total_ms"] >= 300 and 10 <= top["mean_ms"] < 100
    by_calls = json.loads(
        perf(postgres_url, tmp_path, "queries", "--json", "--sort", "calls").stdout
    )
    assert by_calls[0]["calls"] == 50 and "FROM invoice WHERE number = $1" in by_calls[0]["query"]
    assert len(statements) <= 5

    table = perf(postgres_url, tmp_path, "queries")
    assert table.returncode == 0
    assert "mean ms" in table.stdout and "SELECT pg_sleep($1), $2" in table.stdout
    assert "pg_stat_statements_reset()" in table.stdout  # the how-to-measure hint


@pytest.mark.postgresql
def test_the_columns_picked_for_this_server_are_the_ones_it_has(
    pg_stat_statements_loaded: None, postgres_url: str, libpq: str
) -> None:
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION pg_stat_statements")
        version = int(connection.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
        columns = {
            row[0]
            for row in connection.execute(
                "SELECT attname FROM pg_attribute "
                "WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0"
            )
        }
    picked = statement_columns(version)
    assert {picked.total, picked.mean} <= columns
    # The seed runbook's names are gone since PostgreSQL 13 (this suite runs on 15).
    assert version >= 130000 and not {"mean_time", "total_time"} & columns


@pytest.mark.postgresql
def test_a_missing_extension_exits_2_with_the_steps(postgres_url: str, tmp_path: Path) -> None:
    result = perf(postgres_url, tmp_path, "queries")
    assert result.returncode == 2
    assert "CREATE EXTENSION pg_stat_statements;" in result.stderr
    database = make_url(postgres_url).database
    loaded_here = "is not created in database " + str(database)
    not_loaded = "is not in shared_preload_libraries"
    assert loaded_here in result.stderr or not_loaded in result.stderr
    assert "duespark perf queries` again" in result.stderr
    assert result.stdout == ""


def test_perf_on_sqlite_exits_2(tmp_path: Path) -> None:
    for command in ("queries", "tables", "connections"):
        result = perf(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, command)
        assert result.returncode == 2, command
        assert "`duespark perf` needs PostgreSQL" in result.stderr


@pytest.mark.postgresql
def test_tables_shows_scans_and_dead_rows_with_hints(
    postgres_url: str, libpq: str, tmp_path: Path
) -> None:
    with psycopg.connect(libpq, autocommit=True) as connection:
        # Autovacuum off for this table, so the dead rows wait for the report.
        connection.execute(
            "CREATE TABLE perf_probe (id serial PRIMARY KEY, v integer) "
            "WITH (autovacuum_enabled = false)"
        )
        connection.execute("INSERT INTO perf_probe (v) SELECT g FROM generate_series(1, 3000) g")
        for _ in range(6):
            connection.execute("SELECT count(*) FROM perf_probe WHERE v = 7")
        connection.execute("DELETE FROM perf_probe WHERE id > 1200")
    _wait_for_statistics(libpq, "perf_probe", seq_scan=6)

    result = perf(postgres_url, tmp_path, "tables", "--json", "--big-rows", "1000")
    assert result.returncode == 0, result.stderr
    probe = next(t for t in json.loads(result.stdout) if t["table"] == "perf_probe")
    assert probe["seq_scan"] >= 6 and probe["seq_scan"] > (probe["idx_scan"] or 0)
    assert probe["live_rows"] == 1200 and probe["dead_rows"] == 1800
    assert any("sequential scans" in hint for hint in probe["hints"])
    assert any("VACUUM (ANALYZE) perf_probe" in hint for hint in probe["hints"])

    human = perf(postgres_url, tmp_path, "tables", "--big-rows", "1000")
    assert "seq scans" in human.stdout and "hint: perf_probe has 1800 dead rows" in human.stdout


def _wait_for_statistics(libpq: str, table: str, seq_scan: int) -> None:
    """Statistics reach the shared view when a backend flushes them (at most a second or
    so after its transaction, or when it exits)."""
    with psycopg.connect(libpq, autocommit=True) as connection:
        for _ in range(100):
            row = connection.execute(
                "SELECT seq_scan, n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                (table,),
            ).fetchone()
            if row and row[0] >= seq_scan and row[1] > 0:
                return
            time.sleep(0.1)
    pytest.fail(f"statistics for {table} never arrived")


@pytest.mark.postgresql
def test_connections_lists_long_queries_and_idle_transactions(
    postgres_url: str, libpq: str, tmp_path: Path
) -> None:
    idle = psycopg.connect(libpq)
    sleeper = psycopg.connect(libpq, autocommit=True)
    idle_pid, sleeper_pid = idle.info.backend_pid, sleeper.info.backend_pid

    def sleep() -> None:
        with contextlib.suppress(psycopg.errors.QueryCanceled):
            sleeper.execute("SELECT pg_sleep(20), 'long probe'")

    thread = threading.Thread(target=sleep, daemon=True)
    try:
        idle.execute("SELECT 1")  # a transaction left open
        thread.start()
        time.sleep(1.5)
        result = perf(postgres_url, tmp_path, "connections", "--json", "--long", "1")
        human = perf(postgres_url, tmp_path, "connections", "--long", "1")
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (sleeper_pid,))
        thread.join(10)
        idle.close()
        sleeper.close()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["max_connections"] > 0 and report["total"] >= 2
    assert report["by_state"]["idle in transaction"] >= 1
    assert [s["pid"] for s in report["idle_in_transaction"]] == [idle_pid]
    (long_query,) = report["long_running"]
    assert long_query["pid"] == sleeper_pid
    assert "pg_sleep" in long_query["query"] and long_query["query_seconds"] >= 1
    assert "connections in use (max_connections" in human.stdout
    assert "Queries running longer than 1 s" in human.stdout


@pytest.fixture
def reader_url(postgres_url: str, postgres_admin_url: str) -> Iterator[str]:
    """The same database through an ordinary role (as an application's own login is): it
    cannot read shared_preload_libraries, so perf must find out another way."""
    role = f"duespark_reader_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield make_url(postgres_url).set(username=role).render_as_string(False)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.postgresql
def test_an_ordinary_role_gets_the_report_or_the_steps(
    pg_stat_statements_loaded: None, reader_url: str, libpq: str, tmp_path: Path
) -> None:
    missing = perf(reader_url, tmp_path, "queries")
    assert missing.returncode == 2
    assert "could not check: it needs superuser or pg_read_all_settings" in missing.stderr
    assert "CREATE EXTENSION pg_stat_statements;" in missing.stderr

    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION pg_stat_statements")
    reader_libpq = make_url(reader_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(reader_libpq) as own:
        for _ in range(7):
            own.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ("reader probe",))
    report = perf(reader_url, tmp_path, "queries", "--json", "--sort", "calls")
    assert report.returncode == 0, report.stderr
    assert any(
        s["calls"] == 7 and "FROM pg_class WHERE relname = $1" in s["query"]
        for s in json.loads(report.stdout)
    )
