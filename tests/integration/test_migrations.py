"""The migrations and the ORM models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from duespark.db import Database
from duespark.models import Base
from duespark.ops.migrations import head_revision, schema_state


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_head_after_upgrade(database: Database) -> None:
    state = schema_state(database.engine)
    assert state.current == head_revision()
    assert state.is_current
