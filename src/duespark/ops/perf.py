"""``duespark perf``: the seed's performance runbook as queries that work on today's
PostgreSQL, with the reasons behind each step said out loud.

The seed ran ``SELECT query, mean_time ... FROM pg_stat_statements``; PostgreSQL 13 renamed
``total_time``/``mean_time`` to ``total_exec_time``/``mean_exec_time`` (planning time got
its own columns), so that runbook fails with "column does not exist" on any current server.
Here the column names come from the server's ``server_version_num``
(:func:`statement_columns`), and a missing extension is diagnosed precisely: its files
not installed, the library not in ``shared_preload_libraries`` (which needs a restart),
or ``CREATE EXTENSION`` not run in this database, each with the steps that fix it.

Every function takes an open connection and only reads, so the same code serves the CLI
and ``duespark incident snapshot``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

EXTENSION = "pg_stat_statements"
QUERY_SHOWN = 200
BIG_TABLE_ROWS = 10_000
SORTS = ("total", "mean", "calls")


class PerfUnavailable(Exception):
    """The investigation cannot run here; the message says what to do (exit code 2)."""


@dataclass(frozen=True)
class StatementColumns:
    total: str
    mean: str


def statement_columns(server_version_num: int) -> StatementColumns:
    """``pg_stat_statements``' timing columns on a server of this version: PostgreSQL 13
    (130000) renamed ``total_time``/``mean_time`` to ``total_exec_time``/``mean_exec_time``."""
    if server_version_num >= 130000:
        return StatementColumns(total="total_exec_time", mean="mean_exec_time")
    return StatementColumns(total="total_time", mean="mean_time")


@dataclass(frozen=True)
class ExtensionState:
    database: str
    available: bool
    loaded: bool | None
    installed_version: str | None
    schema: str | None

    @property
    def ready(self) -> bool:
        return self.available and self.loaded is not False and self.installed_version is not None


def require_postgresql(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        raise PerfUnavailable(
            "`duespark perf` needs PostgreSQL (it reads pg_stat_statements and the statistics "
            "views); this database is SQLite, which keeps no such statistics."
        )


def extension_state(connection: Connection) -> ExtensionState:
    """Whether ``pg_stat_statements`` can answer in this database, and if not, why."""
    require_postgresql(connection)
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    available = connection.execute(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = :name"), {"name": EXTENSION}
    ).scalar_one()
    row = connection.execute(
        text(
            "SELECT e.extversion, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = :name"
        ),
        {"name": EXTENSION},
    ).first()
    # shared_preload_libraries is visible to superusers and pg_read_all_settings only;
    # for anybody else the row is missing and the probe below decides.
    preload = connection.execute(
        text("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'")
    ).scalar()
    loaded = None if preload is None else EXTENSION in _library_names(str(preload))
    if loaded is None and row is not None:
        loaded = _answers(connection, row.nspname)
    return ExtensionState(
        database=str(database),
        available=bool(available),
        loaded=loaded,
        installed_version=row.extversion if row else None,
        schema=row.nspname if row else None,
    )


def enable_instructions(state: ExtensionState) -> str:
    """Exactly what to do to make ``perf queries`` work, given what is missing."""
    steps: list[str] = []
    if not state.available:
        steps.append(
            "install the extension's files on the database server (Debian/Ubuntu: the "
            "postgresql-contrib package; most managed services ship them)"
        )
    if state.loaded is not True:
        unsure = " (could not check: it needs superuser or pg_read_all_settings)"
        steps.append(
            "load the library at server start: in postgresql.conf set "
            f"shared_preload_libraries = '{EXTENSION}' (keep any libraries already listed), "
            f"or as a superuser run ALTER SYSTEM SET shared_preload_libraries = '{EXTENSION}';"
            + (unsure if state.loaded is None else "")
        )
        steps.append("restart PostgreSQL (a reload is not enough: the library needs shared memory)")
    if state.installed_version is None:
        steps.append(f"in database {state.database}, as a superuser: CREATE EXTENSION {EXTENSION};")
    if not state.available:
        what = "is not installed on the database server"
    elif state.loaded is False:
        what = "is not in shared_preload_libraries"
    elif state.installed_version is None:
        what = f"is not created in database {state.database}"
    else:
        what = "cannot be read"
    numbered = "\n".join(f"  {number}. {step}" for number, step in enumerate(steps, 1))
    return f"{EXTENSION} {what}. To enable it:\n{numbered}\nThen run `duespark perf queries` again."


@dataclass(frozen=True)
class Statement:
    queryid: int | None
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    hit_percent: float | None
    query: str


def top_statements(
    connection: Connection, *, limit: int = 10, sort: str = "total"
) -> list[Statement]:
    """This database's most expensive statements by total time (or mean time, or calls)."""
    state = extension_state(connection)
    if not state.ready:
        raise PerfUnavailable(enable_instructions(state))
    version = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    columns = statement_columns(version)
    order = {"total": columns.total, "mean": columns.mean, "calls": "calls"}[sort]
    schema = _quote_identifier(state.schema or "public")
    query = text(
        f"SELECT queryid, calls, {columns.total} AS total_ms, {columns.mean} AS mean_ms, rows, "
        "round(100.0 * shared_blks_hit / nullif(shared_blks_hit + shared_blks_read, 0), 1) "
        f"AS hit_percent, query FROM {schema}.{EXTENSION} "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        f"ORDER BY {order} DESC LIMIT :limit"
    )
    try:
        rows = connection.execute(query, {"limit": limit}).all()
    except DBAPIError as exc:
        if "shared_preload_libraries" in str(exc):
            loaded_off = ExtensionState(
                state.database, state.available, False, state.installed_version, state.schema
            )
            raise PerfUnavailable(enable_instructions(loaded_off)) from None
        raise
    return [
        Statement(
            queryid=row.queryid,
            calls=int(row.calls),
            total_ms=float(row.total_ms),
            mean_ms=float(row.mean_ms),
            rows=int(row.rows),
            hit_percent=None if row.hit_percent is None else float(row.hit_percent),
            query=shorten(row.query or ""),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class TableStats:
    table: str
    seq_scan: int
    idx_scan: int | None
    live_rows: int
    dead_rows: int
    total_bytes: int
    last_vacuum: str | None
    last_analyze: str | None
    hints: list[str]


def table_stats(connection: Connection, *, big_rows: int = BIG_TABLE_ROWS) -> list[TableStats]:
    """Per table: how it is read (sequential vs index scans), dead rows, maintenance."""
    require_postgresql(connection)
    rows = connection.execute(
        text(
            "SELECT schemaname, relname, seq_scan, idx_scan, n_live_tup, n_dead_tup, "
            "greatest(last_vacuum, last_autovacuum) AS vacuumed, "
            "greatest(last_analyze, last_autoanalyze) AS analyzed, "
            "pg_total_relation_size(relid) AS total_bytes "
            "FROM pg_stat_user_tables ORDER BY n_live_tup DESC, relname"
        )
    ).all()
    tables = []
    for row in rows:
        name = row.relname if row.schemaname == "public" else f"{row.schemaname}.{row.relname}"
        tables.append(
            TableStats(
                table=name,
                seq_scan=int(row.seq_scan or 0),
                idx_scan=None if row.idx_scan is None else int(row.idx_scan),
                live_rows=int(row.n_live_tup or 0),
                dead_rows=int(row.n_dead_tup or 0),
                total_bytes=int(row.total_bytes or 0),
                last_vacuum=row.vacuumed.isoformat() if row.vacuumed else None,
                last_analyze=row.analyzed.isoformat() if row.analyzed else None,
                hints=table_hints(
                    name,
                    seq_scan=int(row.seq_scan or 0),
                    idx_scan=row.idx_scan,
                    live_rows=int(row.n_live_tup or 0),
                    dead_rows=int(row.n_dead_tup or 0),
                    analyzed=row.analyzed is not None,
                    big_rows=big_rows,
                ),
            )
        )
    return tables


def table_hints(
    table: str,
    *,
    seq_scan: int,
    idx_scan: int | None,
    live_rows: int,
    dead_rows: int,
    analyzed: bool,
    big_rows: int = BIG_TABLE_ROWS,
) -> list[str]:
    """What deserves a look, in words: the numbers alone do not say which ones matter."""
    hints = []
    if live_rows >= big_rows and seq_scan > (idx_scan or 0):
        hints.append(
            f"{table} has {live_rows} rows and is read mostly by sequential scans "
            f"({seq_scan} vs {idx_scan or 0} index scans): look for a missing index "
            "(`duespark perf queries --sort mean` shows the statements)"
        )
    if dead_rows > 1000 and dead_rows > 0.2 * max(live_rows, 1):
        hints.append(
            f"{table} has {dead_rows} dead rows for {live_rows} live: run VACUUM (ANALYZE) "
            f"{table}; and check that autovacuum keeps up"
        )
    if live_rows >= big_rows and not analyzed:
        hints.append(f"{table} was never analyzed: run ANALYZE {table}; so plans use real sizes")
    return hints


@dataclass(frozen=True)
class Session:
    pid: int
    user: str | None
    application: str | None
    client: str | None
    state: str | None
    wait: str | None
    blocked_by: list[int]
    xact_seconds: float | None
    query_seconds: float | None
    state_seconds: float | None
    query: str


def sessions(connection: Connection) -> list[Session]:
    """Every other session on this database, oldest transaction first, with who blocks it."""
    require_postgresql(connection)
    rows = connection.execute(
        text(
            "SELECT pid, usename, application_name, client_addr::text AS client, state, "
            "concat_ws(':', wait_event_type, wait_event) AS wait, "
            "pg_blocking_pids(pid) AS blocked_by, "
            "extract(epoch FROM now() - xact_start) AS xact_seconds, "
            "extract(epoch FROM now() - query_start) AS query_seconds, "
            "extract(epoch FROM now() - state_change) AS state_seconds, query "
            "FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' "
            "ORDER BY xact_start NULLS LAST, pid"
        )
    ).all()
    return [
        Session(
            pid=int(row.pid),
            user=row.usename,
            application=row.application_name or None,
            client=row.client,
            state=row.state,
            wait=row.wait or None,
            blocked_by=[int(pid) for pid in (row.blocked_by or [])],
            xact_seconds=_seconds(row.xact_seconds),
            query_seconds=_seconds(row.query_seconds),
            state_seconds=_seconds(row.state_seconds),
            query=shorten(row.query or ""),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ConnectionReport:
    max_connections: int
    reserved: int
    total: int
    by_state: dict[str, int]
    this_database: int
    long_running: list[Session]
    idle_in_transaction: list[Session]
    blocked: list[Session]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def connection_report(connection: Connection, *, long_seconds: float = 30) -> ConnectionReport:
    """Connections against the server's limit, and this database's sessions that hold
    things up: long queries, idle-in-transaction sessions (they block vacuum and DDL) and
    sessions waiting for another's lock."""
    require_postgresql(connection)
    limits = connection.execute(
        text(
            "SELECT current_setting('max_connections')::int AS max, "
            "current_setting('superuser_reserved_connections')::int AS reserved"
        )
    ).one()
    states = connection.execute(
        text(
            "SELECT coalesce(state, 'unknown') AS state, count(*) AS n, "
            "count(*) FILTER (WHERE datname = current_database()) AS here "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1"
        )
    ).all()
    by_state = {row.state: int(row.n) for row in states}
    here = sessions(connection)
    return ConnectionReport(
        max_connections=int(limits.max),
        reserved=int(limits.reserved),
        total=sum(by_state.values()),
        by_state=by_state,
        this_database=sum(int(row.here) for row in states),
        long_running=[
            s for s in here if s.state == "active" and (s.query_seconds or 0) >= long_seconds
        ],
        idle_in_transaction=[
            s
            for s in here
            if (s.state or "").startswith("idle in transaction")
            and (s.state_seconds or 0) >= long_seconds
        ],
        blocked=[s for s in here if s.blocked_by],
    )


def shorten(query: str, limit: int = QUERY_SHOWN) -> str:
    """One line, at most ``limit`` characters: enough to recognise a statement."""
    flat = re.sub(r"\s+", " ", query).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _library_names(setting: str) -> set[str]:
    return {part.strip().strip('"').strip("'") for part in setting.split(",") if part.strip()}


def _answers(connection: Connection, schema: str) -> bool:
    """Whether the view can be read: without the preloaded library it raises."""
    try:
        with connection.begin_nested():
            connection.execute(
                text(f"SELECT 1 FROM {_quote_identifier(schema)}.{EXTENSION} LIMIT 1")
            )
    except DBAPIError as exc:
        if "shared_preload_libraries" in str(exc):
            return False
        raise
    return True


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _seconds(value: object) -> float | None:
    return None if value is None else round(float(value), 1)  # type: ignore[arg-type]
