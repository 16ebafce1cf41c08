"""SQLite: ids are never reused (every table's integer key becomes AUTOINCREMENT)

Without ``AUTOINCREMENT`` SQLite gives a new row the largest id in use plus one, so an
account deleted while it held the largest id hands that id to the next sign-up: an access
token issued to the deleted account (its ``sub`` is the id) would then open the new one,
and a deleted invoice's id would reappear in a new invoice's Message-IDs. With it, SQLite
keeps the largest id ever given in ``sqlite_sequence`` and never goes back. PostgreSQL
sequences never go back already: nothing changes there.

SQLite cannot add ``AUTOINCREMENT`` to a table, so each table is rebuilt by SQLite's own
procedure for schema changes: with foreign keys off (a ``DROP TABLE`` with them on would
cascade the delete into every child table), create the new table from the stored
``CREATE TABLE`` text with only the key changed, copy the rows, drop the old table, rename
the new one, recreate its indexes, and check every foreign key before committing. The
stored text is reused as it is, so every column, default, check and foreign key stays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:15:00.000000
"""

import re
import sqlite3
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE_KEY = re.compile(r",\s*CONSTRAINT (pk_\w+) PRIMARY KEY \(id\)")
_ID_COLUMN = re.compile(r"\bid INTEGER NOT NULL\b")


def with_autoincrement(create_sql: str, table: str, new_name: str) -> str | None:
    """The ``CREATE TABLE`` text for ``new_name`` with ``id`` as an AUTOINCREMENT key, or
    None when the table has no table-level ``PRIMARY KEY (id)`` to change."""
    key = _TABLE_KEY.search(create_sql)
    if key is None or "AUTOINCREMENT" in create_sql.upper():
        return None
    body = create_sql[: key.start()] + create_sql[key.end() :]
    body = _ID_COLUMN.sub(
        f"id INTEGER NOT NULL CONSTRAINT {key.group(1)} PRIMARY KEY AUTOINCREMENT", body, count=1
    )
    header = re.compile(rf'^CREATE TABLE ("?){re.escape(table)}\1')
    return header.sub(f'CREATE TABLE "{new_name}"', body, count=1)


def _rebuild_with_autoincrement(connection: sqlite3.Connection) -> None:
    tables = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version' ORDER BY name"
    ).fetchall()
    for table, create_sql in tables:
        new_name = f"_new_{table}"
        new_sql = with_autoincrement(create_sql, table, new_name)
        if new_sql is None:
            continue
        indexes = [
            sql
            for (sql,) in connection.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                (table,),
            )
        ]
        connection.execute(new_sql)
        connection.execute(f'INSERT INTO "{new_name}" SELECT * FROM "{table}"')
        connection.execute(f'DROP TABLE "{table}"')
        connection.execute(f'ALTER TABLE "{new_name}" RENAME TO "{table}"')
        for index_sql in indexes:
            connection.execute(index_sql)
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    raw = op.get_bind().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    # ``ops.migrations.upgrade`` turns foreign keys off on SQLite before the migrations'
    # transactions begin (the pragma does nothing inside one); never rebuild without it.
    if raw.execute("PRAGMA foreign_keys").fetchone() != (0,):
        raise RuntimeError("rebuilding tables with foreign keys on would cascade deletes")
    _rebuild_with_autoincrement(raw)


def downgrade() -> None:
    """Keys stay AUTOINCREMENT: going back would let SQLite reuse ids again, and nothing
    in the earlier schema depends on ids being reusable."""
