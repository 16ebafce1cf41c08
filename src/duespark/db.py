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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from duespark.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 5


def build_engine(database_url: str, **options: Any) -> Engine:
    """Create the engine for ``database_url`` with DueSpark's connection settings."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **options,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        database_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        **options,
    )


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
