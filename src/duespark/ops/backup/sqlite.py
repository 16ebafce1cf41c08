"""SQLite: online backup API, fingerprints of the copy, integrity check, safe replacement.

A file copy of a live SQLite database can catch a write half-done, and in WAL mode the
newest commits are not in the main file at all (the original DueSpark copied the file).
``sqlite3.Connection.backup`` copies a consistent snapshot while others keep writing; the
fingerprints are then taken from the copy, which is exactly what the archive holds.

The archive is itself an SQLite database (journal mode DELETE, so it is one file).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from duespark.db import create_private_file
from duespark.ops.backup.common import BackupError, BackupUsageError, Reporter, step
from duespark.ops.backup.fingerprint import TableHasher
from duespark.ops.backup.manifest import TableFingerprint

BUSY_TIMEOUT_S = 15.0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_digest(*values: Any) -> str:
    """A digest of one row's values, typed and length-prefixed so that no two different
    rows (1 vs '1', NULL vs '', a value split differently) encode alike."""
    digest = hashlib.sha256()
    for value in values:
        if value is None:
            digest.update(b"N;")
        elif isinstance(value, int):
            digest.update(b"I%d;" % value)
        elif isinstance(value, float):
            digest.update(b"F" + value.hex().encode("ascii") + b";")
        elif isinstance(value, str):
            encoded = value.encode("utf-8", "surrogatepass")
            digest.update(b"T%d:" % len(encoded) + encoded)
        else:
            raw = bytes(value)
            digest.update(b"B%d:" % len(raw) + raw)
    return digest.hexdigest()


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open an archive or scratch copy without any chance of writing to it."""
    uri = "file:" + quote(str(path.resolve())) + "?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    return connection


def fingerprint(connection: sqlite3.Connection, reporter: Reporter) -> dict[str, TableFingerprint]:
    """Count and hash every table (SQLite sorts the row digests; memory stays flat)."""
    connection.create_function("duespark_row_digest", -1, _row_digest, deterministic=True)
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    result: dict[str, TableFingerprint] = {}
    with step(reporter, "fingerprint tables", len(names)) as progress:
        for name in names:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({_quote(name)})")]
            arguments = ", ".join(_quote(column) for column in columns)
            hasher = TableHasher()
            cursor = connection.execute(
                f"SELECT duespark_row_digest({arguments}) AS h FROM {_quote(name)} ORDER BY h"
            )
            hasher.add_many(row[0] for row in cursor)
            result[name] = hasher.result()
            progress.advance()
    return result


def schema_revision(connection: sqlite3.Connection) -> str | None:
    exists = connection.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if exists is None:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def integrity_problems(connection: sqlite3.Connection) -> list[str]:
    """``PRAGMA integrity_check`` answers one row ``ok`` when the file is sound."""
    rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
    if rows == ["ok"]:
        return []
    return [f"PRAGMA integrity_check: {row}" for row in rows[:10]]


def _copy(
    source: sqlite3.Connection, destination: sqlite3.Connection, reporter: Reporter, what: str
) -> None:
    # One step (pages=-1) reads the source in a single read transaction: a consistent
    # snapshot even while other connections commit (WAL lets them proceed meanwhile).
    with step(reporter, what, 1) as progress:
        source.backup(destination, pages=-1)
        progress.advance()


def snapshot(
    source: Path, archive: Path, reporter: Reporter
) -> tuple[dict[str, TableFingerprint], str | None]:
    """Copy the live database ``source`` into ``archive``; fingerprint the copy."""
    if not source.is_file():
        raise BackupUsageError(f"no SQLite database at {source}")
    live = sqlite3.connect(str(source), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    create_private_file(archive)
    copy = sqlite3.connect(str(archive), isolation_level=None)
    try:
        _copy(live, copy, reporter, f"copy {source.name} (online backup API)")
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        problems = integrity_problems(copy)
        if problems:
            raise BackupError("the copy fails its integrity check: " + "; ".join(problems))
        tables = fingerprint(copy, reporter)
        revision = schema_revision(copy)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from None
    finally:
        copy.close()
        live.close()
    return tables, revision


def restore_copy(archive: Path, destination: Path, reporter: Reporter) -> None:
    """Copy a (decrypted) archive into a new database file ``destination``."""
    if destination.exists():
        raise BackupUsageError(f"{destination} already exists; refusing to overwrite it")
    try:
        source = open_readonly(archive)
        create_private_file(destination)
        target = sqlite3.connect(str(destination), isolation_level=None)
        try:
            _copy(source, target, reporter, f"restore into {destination.name}")
        finally:
            target.close()
            source.close()
    except sqlite3.Error as exc:
        destination.unlink(missing_ok=True)
        raise BackupError(f"{archive.name} is not a readable SQLite database: {exc}") from None


def check_copy(path: Path, reporter: Reporter) -> tuple[dict[str, TableFingerprint], list[str]]:
    """Integrity check and fingerprints of a restored copy; any read error is a problem."""
    try:
        connection = open_readonly(path)
        try:
            problems = integrity_problems(connection)
            tables = fingerprint(connection, reporter)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return {}, [f"the restored copy cannot be read: {exc}"]
    return tables, problems


def replace_live(restored: Path, live: Path, reporter: Reporter) -> None:
    """Overwrite the live database with ``restored`` through the backup API.

    Not a file rename: the live database runs in WAL mode, and renaming a new file under
    its ``-wal`` would let SQLite replay the old database's frames onto the new file. The
    backup API writes every page in one write transaction, which other connections see
    atomically (they wait on the lock, then read the restored content).
    """
    try:
        source = open_readonly(restored)
        target = sqlite3.connect(str(live), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            _copy(source, target, reporter, f"replace {live.name}")
        finally:
            target.close()
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(
            f"cannot replace {live}: {exc} (the live database is unchanged)"
        ) from None
