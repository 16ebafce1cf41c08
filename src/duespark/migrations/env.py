"""Alembic environment: runs against the connection DueSpark hands it.

The database URL never comes from an ini file: ``duespark.ops.migrations`` builds the
Alembic config from the settings and passes an open connection in ``config.attributes``.
"""

from typing import Any

from alembic import context

from duespark.models import Base
from duespark.models.base import UTCDateTime


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write DueSpark's column types as the plain SQLAlchemy types they are stored as,
    so migration files never import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `duespark db ...`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
    # One transaction per migration, so a migration may leave it for statements that
    # cannot run inside one (see ``ops.migrations.upgrade``).
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
