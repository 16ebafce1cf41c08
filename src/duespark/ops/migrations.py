"""Schema migrations (Alembic) as functions: upgrade, where the schema is, what is pending.

The migration scripts ship inside the package, so an installed ``duespark db upgrade``
finds them wherever it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def schema_state(engine: Engine) -> SchemaState:
    """Where the database's schema stands relative to the code's newest migration."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current=current, head=head_revision())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply pending migrations, each in its own transaction (with the version row it
    moves): a failed one leaves the schema at the last one that succeeded, and one that
    must run outside a transaction (``CREATE INDEX CONCURRENTLY``) can step out of it."""
    config = alembic_config()
    with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, run the migrations with foreign keys off, as SQLite's own procedure for
    changing a table asks: rebuilding a table drops the old one, and a ``DROP TABLE`` with
    foreign keys on deletes its rows first, cascading into every child table. Migrations
    that rebuild check the keys themselves (``PRAGMA foreign_key_check``) before they
    commit. The pragma is set before any transaction begins (it does nothing inside one)
    and set back before the connection returns to the pool."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        raw.execute("PRAGMA foreign_keys=ON")


def pending_revisions(engine: Engine) -> list[str]:
    """Revisions between the database's current one and head, oldest first."""
    state = schema_state(engine)
    script = ScriptDirectory.from_config(alembic_config())
    revisions = script.iterate_revisions(state.head, state.current)
    return [revision.revision for revision in reversed(list(revisions))]
