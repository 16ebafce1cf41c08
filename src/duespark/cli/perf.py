"""``duespark perf``: where PostgreSQL spends its time (runbook 5, done by the tool).

Exit codes: 0 report printed, 1 the database could not be read, 2 the investigation
cannot run here (SQLite; pg_stat_statements missing, with the steps to enable it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from duespark.cli._common import (
    EXIT_USAGE,
    console,
    describe_database,
    errors,
    fail,
    settings_or_exit,
)
from duespark.ops import perf
from duespark.ops.status import diagnostic_engine, human_duration

app = typer.Typer(
    help="Performance investigation on PostgreSQL: slow statements, table scans, connections.",
    no_args_is_help=True,
)

T = TypeVar("T")


class Sort(StrEnum):
    total = "total"
    mean = "mean"
    calls = "calls"


@app.command()
def queries(
    limit: int = typer.Option(10, "--limit", min=1, max=500, help="Show this many statements."),
    sort: Sort = typer.Option(Sort.total, "--sort", help="Rank by total time, mean time or calls."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """The statements that cost this database the most time (pg_stat_statements).

    Works with the column names of every PostgreSQL version (13 renamed mean_time to
    mean_exec_time). When the extension is missing, prints how to enable it and exits 2.
    """
    statements = _read(lambda c: perf.top_statements(c, limit=limit, sort=sort.value))
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in statements], indent=2))
        return
    if not statements:
        console.print("pg_stat_statements has recorded no statements in this database yet.")
        return
    table = Table(title=f"Top statements by {sort.value}", title_justify="left")
    for column in ("#", "calls", "total ms", "mean ms", "rows", "cache hit %"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("query", overflow="fold")
    for rank, s in enumerate(statements, 1):
        hit = "-" if s.hit_percent is None else f"{s.hit_percent:.1f}"
        table.add_row(
            str(rank),
            str(s.calls),
            f"{s.total_ms:.1f}",
            f"{s.mean_ms:.2f}",
            str(s.rows),
            hit,
            escape(s.query),
        )
    console.print(table)
    console.print(
        "To measure a change: SELECT pg_stat_statements_reset(); then run the workload again. "
        "EXPLAIN (ANALYZE, BUFFERS) shows why a statement is slow (it runs the statement).",
        highlight=False,
    )


@app.command()
def tables(
    big_rows: int = typer.Option(
        perf.BIG_TABLE_ROWS, "--big-rows", min=1, help="Rows from which a table counts as big."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """Per table: sequential vs index scans, dead rows, last (auto)vacuum and analyze."""
    stats = _read(lambda c: perf.table_stats(c, big_rows=big_rows))
    if as_json:
        typer.echo(json.dumps([asdict(t) for t in stats], indent=2))
        return
    table = Table(title="Tables", title_justify="left")
    table.add_column("table", no_wrap=True)
    for column in ("rows", "dead", "seq scans", "index scans", "size"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("last vacuum")
    table.add_column("last analyze")
    for t in stats:
        table.add_row(
            t.table,
            str(t.live_rows),
            str(t.dead_rows),
            str(t.seq_scan),
            "-" if t.idx_scan is None else str(t.idx_scan),
            _size(t.total_bytes),
            _date(t.last_vacuum),
            _date(t.last_analyze),
        )
    console.print(table)
    hints = [hint for t in stats for hint in t.hints]
    for hint in hints:
        console.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)
    if not hints:
        console.print("No table needs attention.")


@app.command()
def connections(
    long_seconds: float = typer.Option(
        30, "--long", min=0, help="Seconds after which a query or an open transaction is listed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """Connections by state against max_connections; long queries, idle-in-transaction
    sessions and blocked sessions on this database."""
    report = _read(lambda c: perf.connection_report(c, long_seconds=long_seconds))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    usable = report.max_connections - report.reserved
    states = ", ".join(f"{state} {count}" for state, count in report.by_state.items())
    console.print(
        f"{report.total} of {usable} connections in use (max_connections {report.max_connections}"
        f", {report.reserved} reserved); {report.this_database} on this database",
        highlight=False,
    )
    console.print(f"by state: {states or 'none'}", highlight=False)
    for title, group in (
        (f"Queries running longer than {long_seconds:g} s", report.long_running),
        (f"Idle in transaction for {long_seconds:g} s or more", report.idle_in_transaction),
        ("Waiting for another session's lock", report.blocked),
    ):
        if not group:
            console.print(f"{title}: none", highlight=False)
            continue
        console.print(_sessions_table(title, group))


def _sessions_table(title: str, sessions: list[perf.Session]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("pid", "user", "state", "wait", "blocked by", "query age", "xact age"):
        table.add_column(column, no_wrap=True)
    table.add_column("query", overflow="fold")
    for s in sessions:
        table.add_row(
            str(s.pid),
            s.user or "-",
            s.state or "-",
            s.wait or "-",
            ", ".join(map(str, s.blocked_by)) or "-",
            _age(s.query_seconds),
            _age(s.xact_seconds),
            escape(s.query),
        )
    return table


def _read(query: Callable[[Connection], T]) -> T:
    settings = settings_or_exit()
    engine = diagnostic_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return query(connection)
    except perf.PerfUnavailable as exc:
        # soft_wrap: the steps hold commands to copy, which a wrapped line would break.
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0]
        raise fail(f"cannot read {describe_database(settings)}: {first}") from None
    finally:
        engine.dispose()


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else human_duration(seconds)


def _date(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "never"


def _size(size: int) -> str:
    amount: Any = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"
