"""``duespark perf``'s decisions as pure functions: which columns a server version has,
what to tell an operator whose extension is missing, which tables deserve a look."""

from __future__ import annotations

import pytest

from duespark.ops.perf import (
    ExtensionState,
    StatementColumns,
    enable_instructions,
    shorten,
    statement_columns,
    table_hints,
)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (100023, StatementColumns("total_time", "mean_time")),
        (120022, StatementColumns("total_time", "mean_time")),
        (130000, StatementColumns("total_exec_time", "mean_exec_time")),
        (150020, StatementColumns("total_exec_time", "mean_exec_time")),
        (170002, StatementColumns("total_exec_time", "mean_exec_time")),
    ],
)
def test_postgresql_13_renamed_the_timing_columns(version: int, expected: StatementColumns) -> None:
    assert statement_columns(version) == expected


def _state(**overrides: object) -> ExtensionState:
    values: dict[str, object] = {
        "database": "duespark",
        "available": True,
        "loaded": True,
        "installed_version": "1.10",
        "schema": "public",
    }
    values.update(overrides)
    return ExtensionState(**values)  # type: ignore[arg-type]


def test_a_ready_extension_needs_no_instructions() -> None:
    assert _state().ready
    assert not _state(loaded=False).ready
    assert not _state(installed_version=None).ready
    assert not _state(available=False).ready


def test_not_preloaded_says_how_to_preload_restart_and_create() -> None:
    message = enable_instructions(_state(loaded=False, installed_version=None))
    assert "pg_stat_statements is not in shared_preload_libraries" in message
    assert "shared_preload_libraries = 'pg_stat_statements'" in message
    assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';" in message
    assert "restart PostgreSQL" in message
    assert "CREATE EXTENSION pg_stat_statements;" in message
    # The steps are numbered in the order they must be done.
    assert message.index("1. load") < message.index("2. restart") < message.index("3. in database")


def test_preloaded_but_not_created_asks_only_for_create_extension() -> None:
    message = enable_instructions(_state(installed_version=None))
    assert "is not created in database duespark" in message
    assert "CREATE EXTENSION pg_stat_statements;" in message
    assert "restart" not in message and "ALTER SYSTEM" not in message


def test_created_but_not_preloaded_asks_for_the_restart_only() -> None:
    message = enable_instructions(_state(loaded=False))
    assert "restart PostgreSQL" in message
    assert "CREATE EXTENSION" not in message


def test_missing_files_and_unknown_preload_are_both_said() -> None:
    message = enable_instructions(_state(available=False, loaded=None, installed_version=None))
    assert "is not installed on the database server" in message
    assert "postgresql-contrib" in message
    assert "could not check" in message


def test_big_tables_read_by_sequential_scans_get_an_index_hint() -> None:
    hints = table_hints(
        "invoice", seq_scan=40, idx_scan=2, live_rows=50_000, dead_rows=0, analyzed=True
    )
    assert len(hints) == 1 and "missing index" in hints[0]
    # Small tables are read sequentially for good reasons: no hint.
    assert (
        table_hints("client", seq_scan=40, idx_scan=0, live_rows=50, dead_rows=0, analyzed=True)
        == []
    )
    # Mostly index scans: no hint.
    assert (
        table_hints(
            "invoice", seq_scan=3, idx_scan=900, live_rows=50_000, dead_rows=0, analyzed=True
        )
        == []
    )


def test_dead_rows_and_missing_statistics_get_maintenance_hints() -> None:
    hints = table_hints(
        "outbox_message", seq_scan=0, idx_scan=10, live_rows=20_000, dead_rows=9_000, analyzed=False
    )
    assert any("VACUUM (ANALYZE) outbox_message" in hint for hint in hints)
    assert any("never analyzed" in hint for hint in hints)
    few_dead = table_hints(
        "outbox_message", seq_scan=0, idx_scan=10, live_rows=20_000, dead_rows=900, analyzed=True
    )
    assert few_dead == []


def test_queries_are_shown_on_one_line_and_shortened() -> None:
    assert (
        shorten("SELECT *\n  FROM   invoice\nWHERE id = $1")
        == "SELECT * FROM invoice WHERE id = $1"
    )
    long = shorten("SELECT " + "x, " * 200, limit=50)
    assert len(long) == 50 and long.endswith("…")
