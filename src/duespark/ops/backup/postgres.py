"""PostgreSQL: dump inside an exported snapshot, restore into a new database, check it.

Why an exported snapshot: ``pg_dump`` sees one consistent snapshot, but fingerprints taken
in another transaction would see rows written meanwhile and never match. So one
``REPEATABLE READ READ ONLY`` transaction exports its snapshot, ``pg_dump --snapshot``
dumps exactly that, and the fingerprints are computed in the same transaction while the
dump runs. Whatever is written during the backup is in neither.

Why a real restore: ``pg_restore --list`` exits 0 on truncated and bit-flipped archives
(ops.md, section 2.1); only restoring every row proves the archive readable, and only
comparing fingerprints proves it right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql

from duespark.ops.backup.common import BackupError, Reporter, step
from duespark.ops.backup.fingerprint import TableHasher
from duespark.ops.backup.manifest import TableFingerprint
from duespark.ops.backup.pgtools import (
    PgTarget,
    ToolRun,
    admin_connect,
    apply_session_settings,
    create_database,
    describe_exit,
    drop_database,
    find_tool,
    maintenance_target,
    require_tool,
    server_major,
    tool_version,
)

FETCH_ROWS = 10_000


@dataclass(frozen=True)
class DumpResult:
    tables: dict[str, TableFingerprint]
    schema_revision: str | None
    source: dict[str, Any]
    tools: dict[str, str]


def list_tables(connection: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Every ordinary table outside the system schemas (what ``pg_dump`` dumps)."""
    rows = connection.execute(
        """
        SELECT n.nspname, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """
    ).fetchall()
    return [(schema, name) for schema, name in rows]


def fingerprint_tables(
    connection: psycopg.Connection[Any], reporter: Reporter
) -> dict[str, TableFingerprint]:
    """Count and hash every table in the connection's current transaction (its snapshot).

    Rows stream through a server-side cursor, so memory does not grow with the table; the
    server sorts the row digests (see ``fingerprint.py`` for why sorted).
    """
    tables = list_tables(connection)
    result: dict[str, TableFingerprint] = {}
    with step(reporter, "fingerprint tables", len(tables)) as progress:
        for index, (schema, name) in enumerate(tables):
            hasher = TableHasher()
            query = sql.SQL('SELECT md5(t::text) COLLATE "C" AS h FROM {}.{} AS t ORDER BY h')
            with connection.cursor(name=f"duespark_fingerprint_{index}") as cursor:
                cursor.itersize = FETCH_ROWS
                cursor.execute(query.format(sql.Identifier(schema), sql.Identifier(name)))
                hasher.add_many(row[0] for row in cursor)
            result[f"{schema}.{name}"] = hasher.result()
            progress.advance()
    return result


def _schema_revision(connection: psycopg.Connection[Any]) -> str | None:
    exists = connection.execute("SELECT to_regclass('alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _source(connection: psycopg.Connection[Any], target: PgTarget) -> dict[str, Any]:
    row = connection.execute(
        "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
        "WHERE datname = current_database()"
    ).fetchone()
    assert row is not None
    return {
        "database": target.dbname,
        "host": target.params.get("host", "local socket"),
        "server_version": connection.execute("SHOW server_version").fetchone()[0],  # type: ignore[index]
        "encoding": row[0],
        "collate": row[1],
        "ctype": row[2],
    }


def dump(
    target: PgTarget,
    archive: Path,
    reporter: Reporter,
    *,
    compression: int | None = None,
) -> DumpResult:
    """Write a custom-format dump of ``target`` to ``archive`` and fingerprint the same
    snapshot, while the dump runs."""
    with target.connect(autocommit=True) as connection:
        apply_session_settings(connection)
        major = server_major(connection)
        pg_dump = require_tool("pg_dump", major)
        connection.autocommit = False
        connection.isolation_level = IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        snapshot_row = connection.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot_row is not None
        source = _source(connection, target)
        revision = _schema_revision(connection)
        table_count = len(list_tables(connection))
        args = [
            str(pg_dump),
            "--format=custom",
            f"--snapshot={snapshot_row[0]}",
            "--verbose",
            "--no-password",
            f"--file={archive}",
            f"--dbname={target.conninfo()}",
        ]
        if compression is not None:
            args.append(f"--compress={compression}")
        with step(reporter, "pg_dump", table_count) as progress:
            run = ToolRun(
                args,
                target.environment(),
                on_line=lambda line: progress.advance() if "dumping contents of" in line else None,
            )
            try:
                tables = fingerprint_tables(connection, reporter)
            except BaseException:
                run.kill()
                raise
            code = run.wait()
        connection.rollback()
    if code != 0:
        raise BackupError(f"pg_dump failed ({describe_exit(code)}): {run.errors()}")
    return DumpResult(tables, revision, source, {"pg_dump": tool_version(pg_dump)})


def restore(
    target: PgTarget,
    archive: Path,
    database: str,
    source: dict[str, Any],
    reporter: Reporter,
    table_count: int,
) -> None:
    """Restore ``archive`` into a new database ``database``: all or nothing.

    ``--single-transaction --exit-on-error`` stop at the first error and roll everything
    back; the database is then dropped, so nothing half-restored is ever left behind.
    """
    with admin_connect(target) as connection:
        major = server_major(connection)
    pg_restore = require_tool("pg_restore", major)
    create_database(target, database, source)
    args = [
        str(pg_restore),
        "--exit-on-error",
        "--single-transaction",
        "--no-owner",
        "--verbose",
        "--no-password",
        f"--dbname={target.with_database(database).conninfo()}",
        str(archive),
    ]
    try:
        with step(reporter, f"pg_restore into {database}", table_count) as progress:
            run = ToolRun(
                args,
                target.environment(),
                on_line=lambda line: progress.advance() if "processing data for" in line else None,
            )
            code = run.wait()
        if code != 0:
            raise BackupError(f"pg_restore failed ({describe_exit(code)}): {run.errors()}")
    except BaseException:
        drop_database(target, database)
        raise


def fingerprint_database(target: PgTarget, reporter: Reporter) -> dict[str, TableFingerprint]:
    with target.connect() as connection:
        apply_session_settings(connection)
        connection.commit()
        connection.isolation_level = IsolationLevel.REPEATABLE_READ
        tables = fingerprint_tables(connection, reporter)
        connection.rollback()
    return tables


def check_sequences(target: PgTarget) -> list[str]:
    """Each column's sequence must be ahead of the column's largest value, or the first
    insert after a restore fails with a duplicate key."""
    problems: list[str] = []
    with target.connect(autocommit=True) as connection:
        owned = connection.execute(
            """
            SELECT seq.oid::regclass::text, tbl.oid::regclass::text, att.attname
            FROM pg_class seq
            JOIN pg_depend d ON d.objid = seq.oid AND d.classid = 'pg_class'::regclass
                            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            JOIN pg_class tbl ON tbl.oid = d.refobjid
            JOIN pg_attribute att ON att.attrelid = tbl.oid AND att.attnum = d.refobjsubid
            WHERE seq.relkind = 'S'
            ORDER BY 1
            """
        ).fetchall()
        for sequence, table, column in owned:
            state = connection.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(sequence))
            ).fetchone()
            largest = connection.execute(
                sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.SQL(table))
            ).fetchone()
            if state is None or largest is None or largest[0] is None:
                continue
            next_value = state[0] + 1 if state[1] else state[0]
            if next_value <= largest[0]:
                problems.append(
                    f"sequence {sequence} would next give {next_value}, but {table}.{column} "
                    f"already holds {largest[0]}"
                )
    return problems


def amcheck(target: PgTarget, reporter: Reporter) -> tuple[str, list[str]]:
    """Heap and index consistency of the restored copy with ``pg_amcheck``, where the
    program and the ``amcheck`` extension are available (else a notice, not a failure)."""
    with target.connect(autocommit=True) as connection:
        major = server_major(connection)
        tool = find_tool("pg_amcheck", major)
        if tool is None:
            reporter.note("pg_amcheck not found: heap/index check skipped")
            return "pg_amcheck: skipped (program not found)", []
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        except psycopg.Error as exc:
            reporter.note(f"amcheck extension unavailable ({str(exc).strip()}): check skipped")
            return "pg_amcheck: skipped (cannot create the amcheck extension)", []
    with step(reporter, "pg_amcheck --heapallindexed"):
        run = ToolRun(
            [str(tool), "--heapallindexed", "--no-password", target.conninfo()],
            target.environment(),
        )
        code = run.wait()
    if code != 0:
        return "pg_amcheck: failed", [f"pg_amcheck reported problems (exit {code}): {run.errors()}"]
    return "pg_amcheck --heapallindexed: ok", []


def swap(target: PgTarget, live: str, staging: str, old: str, reporter: Reporter) -> None:
    """Put ``staging`` in place of ``live`` in one transaction, keeping the replaced
    database as ``old``. New connections to ``live`` are refused and existing ones ended
    first (a database in use cannot be renamed); if anything fails, ``live`` is unchanged."""
    admin = maintenance_target(target, avoid=live)
    with admin.connect(autocommit=True) as connection:
        blocked = True
        try:
            connection.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(live)
                )
            )
        except psycopg.Error as exc:
            blocked = False
            reporter.note(f"cannot refuse new connections to {live} ({exc}); renaming anyway")
        renamed = False
        try:
            last_error: psycopg.Error | None = None
            for _attempt in range(10):
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (live,),
                )
                try:
                    with connection.transaction():
                        connection.execute(
                            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                sql.Identifier(live), sql.Identifier(old)
                            )
                        )
                        connection.execute(
                            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                                sql.Identifier(staging), sql.Identifier(live)
                            )
                        )
                    renamed = True
                    break
                except psycopg.errors.ObjectInUse as exc:
                    last_error = exc
                    time.sleep(0.5)
            if not renamed:
                raise BackupError(
                    f"cannot rename {live}: still in use after ending its sessions ({last_error})"
                )
        finally:
            if blocked:
                connection.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                        sql.Identifier(old if renamed else live)
                    )
                )


def drop(target: PgTarget, database: str) -> None:
    drop_database(target, database)
