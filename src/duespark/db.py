"""Engines, sessions and the transaction edges.

This is the only module that builds engines and sessions, and :meth:`Database.session_scope`
(used by the worker, the CLI and, through ``dependencies.get_session``, every request) is
the only code that commits. Services and repositories receive a session, flush when they
need ids, and never commit: a use case either lands whole or not at all.

SQLite specifics, each for a reason:

* ``foreign_keys=ON``: SQLite ignores foreign keys unless asked.
* WAL journal and a busy timeout: readers never block the writer, and a writer waits for
  another instead of failing at once.
* ``lower()`` replaced by Python's, which folds every script, not only ASCII.
* ``BEGIN IMMEDIATE``: a transaction takes the write lock when it starts. A deferred
  transaction that reads and then writes can fail with "database is locked" when another
  connection wrote in between; taking the lock up front makes concurrent requests queue.
* The database file is created owner-only (0600) before SQLite opens it: it holds every
  client's address and every password hash, and SQLite gives its WAL and shared-memory
  files the mode of the database file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from duespark.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 5
PRIVATE_FILE_MODE = 0o600


def build_engine(database_url: str, **options: Any) -> Engine:
    """Create the engine for ``database_url`` with DueSpark's connection settings."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **options,
        )
        if engine.url.database not in (None, "", ":memory:"):
            create_private_file(Path(engine.url.database))
        _configure_sqlite(engine)
        return engine
    return create_engine(
        database_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        **options,
    )


def create_private_file(path: Path) -> None:
    """Create a SQLite file that does not exist yet as 0600, so SQLite opens a private
    file instead of creating one with the umask's mode (usually 0644).

    An existing file keeps its mode: an operator may have chosen it on purpose. A missing
    folder is left missing: it is a configuration mistake for ``/readyz`` and ``duespark
    status`` to report, not something to paper over."""
    if path.exists() or not path.parent.is_dir():
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(descriptor)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; searches must match "Émile" with "émile"
        # as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def build_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions keep loaded objects usable after commit, so a route can return them."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


class Database:
    """An engine and its session factory, built once per process from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.engine = build_engine(settings.database_url)
        self.sessions = build_session_factory(self.engine)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """One unit of work for the worker and the CLI: commit on success, else roll back."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
