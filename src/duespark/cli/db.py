"""``duespark db``: schema migrations."""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from duespark.cli._common import console, describe_database, fail, settings_or_exit
from duespark.db import build_engine
from duespark.ops import migrations

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Migrate up to this revision."),
) -> None:
    """Apply pending migrations (creating the SQLite file if it does not exist)."""
    settings = settings_or_exit()
    engine = build_engine(settings.database_url)
    try:
        before = migrations.schema_state(engine)
        migrations.upgrade(engine, revision)
        after = migrations.schema_state(engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot migrate {describe_database(settings)}: {exc}") from None
    finally:
        engine.dispose()
    if before.current == after.current:
        console.print(f"Already at {after.current} ({describe_database(settings)}).")
    else:
        console.print(
            f"Migrated {describe_database(settings)} from {before.current or 'an empty schema'} "
            f"to {after.current}."
        )


@app.command()
def current() -> None:
    """Show the database's revision and the code's newest one."""
    settings = settings_or_exit()
    engine = build_engine(settings.database_url)
    try:
        state = migrations.schema_state(engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot read {describe_database(settings)}: {exc}") from None
    finally:
        engine.dispose()
    console.print(f"database: {describe_database(settings)}")
    console.print(f"current:  {state.current or '(empty schema)'}")
    console.print(f"head:     {state.head}")


@app.command()
def check() -> None:
    """Exit 1 while migrations are pending (a release gate), 0 when the schema is current."""
    settings = settings_or_exit()
    engine = build_engine(settings.database_url)
    try:
        pending = migrations.pending_revisions(engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot read {describe_database(settings)}: {exc}") from None
    finally:
        engine.dispose()
    if pending:
        raise fail(
            f"{len(pending)} migration(s) pending: {', '.join(pending)}; run `duespark db upgrade`"
        )
    console.print("Schema is current: no migrations pending.")
