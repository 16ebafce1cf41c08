"""Talking to PostgreSQL and its client programs without leaking the password.

The password never appears on a command line (where ``ps`` shows it to every user, the
original DueSpark's mistake): programs get a connection string without it and the password
in ``PGPASSWORD`` in their own environment. Programs are looked up in the server version's
bin directory first (on Debian ``pg_amcheck`` is not on PATH, and ``pg_dump`` must not be
older than the server), then ``pg_config --bindir``, then PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from duespark.ops.backup.common import BackupError

MAX_NAME = 63  # PostgreSQL identifiers longer than this are silently truncated
SESSION_SETTINGS = (
    # Fixed so a row's text (``row::text``) is the same in every session that hashes it.
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
)


@dataclass(frozen=True)
class PgTarget:
    """One database on a server: connection parameters without the password, and the
    password kept apart so it only ever travels in memory or the child's environment."""

    params: dict[str, str]
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, database_url: str) -> PgTarget:
        url = make_url(database_url)
        params: dict[str, str] = {}
        for key, value in url.query.items():
            params[key] = value[-1] if isinstance(value, tuple) else str(value)
        if url.host:
            params["host"] = url.host
        if url.port:
            params["port"] = str(url.port)
        if url.username:
            params["user"] = url.username
        if url.database:
            params["dbname"] = url.database
        return cls(params=params, password=url.password)

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or self.params.get("user") or "postgres"

    def with_database(self, name: str) -> PgTarget:
        return replace(self, params={**self.params, "dbname": name})

    def conninfo(self) -> str:
        """A libpq connection string without the password (safe on a command line)."""
        return make_conninfo(**self.params)

    def environment(self) -> dict[str, str]:
        environ = dict(os.environ)
        if self.password is not None:
            environ["PGPASSWORD"] = self.password
        return environ

    def connect(self, **options: Any) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                make_conninfo(**self.params),
                password=self.password,
                connect_timeout=10,
                **options,
            )
        except psycopg.Error as exc:
            raise BackupError(
                f"cannot connect to database {self.dbname!r}: {_first_line(exc)}"
            ) from None

    def describe(self, name: str | None = None) -> str:
        """The SQLAlchemy URL for database ``name``, password hidden (for messages)."""
        url = make_url("postgresql+psycopg://")
        query = {
            k: v for k, v in self.params.items() if k not in {"host", "port", "user", "dbname"}
        }
        url = url.set(
            username=self.params.get("user"),
            password="***" if self.password else None,
            host=self.params.get("host"),
            port=int(self.params["port"]) if "port" in self.params else None,
            database=name or self.dbname,
            query=query,
        )
        return url.render_as_string(hide_password=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def apply_session_settings(connection: psycopg.Connection[Any]) -> None:
    for statement in SESSION_SETTINGS:
        connection.execute(statement)


def server_major(connection: psycopg.Connection[Any]) -> int:
    return connection.info.server_version // 10000


def find_tool(name: str, server_major_version: int | None = None) -> Path | None:
    """Where ``name`` (pg_dump, pg_restore, pg_amcheck) lives, or None."""
    candidates: list[Path] = []
    if server_major_version is not None:
        candidates.append(Path(f"/usr/lib/postgresql/{server_major_version}/bin") / name)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(bindir) / name)
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(
        (int(path.name) for path in Path("/usr/lib/postgresql").glob("*") if path.name.isdigit()),
        reverse=True,
    )
    candidates.extend(Path(f"/usr/lib/postgresql/{version}/bin") / name for version in versions)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str, server_major_version: int | None = None) -> Path:
    tool = find_tool(name, server_major_version)
    if tool is None:
        raise BackupError(
            f"{name} not found (looked in the server version's bin directory, pg_config "
            "--bindir and PATH); install the PostgreSQL client programs"
        )
    return tool


def tool_version(tool: Path) -> str:
    try:
        return subprocess.run(
            [str(tool), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ToolRun:
    """A PostgreSQL program running in the background; stderr is read line by line (for
    progress, and so a chatty ``--verbose`` can never fill the pipe and stall it)."""

    def __init__(
        self, args: list[str], environ: dict[str, str], on_line: Callable[[str], None] | None = None
    ) -> None:
        self.args = args
        self.lines: list[str] = []
        self._on_line = on_line
        self._process = subprocess.Popen(
            args,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def wait(self) -> int:
        code = self._process.wait()
        self._reader.join()
        return code

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self.wait()

    def errors(self, limit: int = 5) -> str:
        """The program's own error lines, for the message that explains a failure."""
        wanted = [line for line in self.lines if re.search(r"error|fatal|could not", line, re.I)]
        chosen = (wanted or self.lines)[-limit:]
        return "; ".join(line.strip() for line in chosen) or "no output"


def create_database(target: PgTarget, name: str, source: dict[str, Any]) -> None:
    """Create an empty database from template0 (a restore needs no objects that
    template1 may carry), with the source's encoding and locale where the server has them."""
    if len(name) > MAX_NAME:
        raise BackupError(f"database name {name!r} is longer than {MAX_NAME} characters")
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    options = sql.SQL("")
    if source.get("encoding"):
        options = sql.SQL(" ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
            sql.Literal(source["encoding"]),
            sql.Literal(source.get("collate", "C")),
            sql.Literal(source.get("ctype", "C")),
        )
    with admin_connect(target) as connection:
        try:
            connection.execute(statement + options)
        except psycopg.errors.InsufficientPrivilege:
            raise BackupError(
                f"cannot create database {name!r}: the configured user lacks CREATEDB"
            ) from None
        except psycopg.Error:
            # The source's locale is not installed here: fall back to the server's default.
            try:
                connection.execute(statement)
            except psycopg.Error as exc:
                raise BackupError(f"cannot create database {name!r}: {_first_line(exc)}") from None


def drop_database(target: PgTarget, name: str) -> None:
    with admin_connect(target, avoid=name) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_exists(target: PgTarget, name: str) -> bool:
    with admin_connect(target) as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def admin_connect(target: PgTarget, avoid: str | None = None) -> psycopg.Connection[Any]:
    """An autocommit session for CREATE/DROP DATABASE: on the configured database, or, when
    that one does not exist (restoring onto a new server) or must be avoided, on
    ``postgres``/``template1``."""
    if target.dbname != avoid:
        try:
            return target.connect(autocommit=True)
        except BackupError:
            pass
    return maintenance_target(target, avoid=avoid or target.dbname).connect(autocommit=True)


def maintenance_target(target: PgTarget, avoid: str) -> PgTarget:
    """A database on the same server other than ``avoid`` (a database cannot be renamed by
    a session connected to it): ``postgres``, else ``template1``."""
    for name in ("postgres", "template1"):
        if name == avoid:
            continue
        candidate = target.with_database(name)
        try:
            candidate.connect(autocommit=True).close()
        except BackupError:
            continue
        return candidate
    raise BackupError("cannot connect to the postgres or template1 database to rename databases")


def describe_exit(code: int) -> str:
    """A tool's exit status in words: a negative code is the signal that stopped it.

    SIGXFSZ in particular means the file-size limit was reached while writing the archive,
    which an operator reads as "out of space"."""
    if code >= 0:
        return f"exit {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    if name == "SIGXFSZ":
        return "stopped by SIGXFSZ: the archive reached the file-size limit"
    return f"killed by {name}"
