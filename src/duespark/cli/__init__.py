"""The ``duespark`` command: thin Typer commands over services and ``duespark.ops``.

Exit codes: 0 success, 1 the operation failed or found a problem (for example
``db check`` with pending migrations), 2 bad usage or configuration.
"""

from __future__ import annotations

import typer

from duespark import __version__
from duespark.cli import (
    backup,
    db,
    demo,
    importing,
    incident,
    keys,
    outbox,
    perf,
    serve,
    sessions,
    smoke,
    status,
    worker,
)

app = typer.Typer(
    name="duespark",
    help="DueSpark: invoice reminders that get freelancers paid on time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="serve")(serve.serve)
app.command(name="worker")(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(outbox.app, name="outbox")
app.add_typer(keys.app, name="keys")
app.add_typer(sessions.app, name="sessions")
app.add_typer(backup.app, name="backup")
app.add_typer(perf.app, name="perf")
app.add_typer(incident.app, name="incident")
app.add_typer(importing.app, name="import")
app.command(name="status")(status.status)
app.command(name="smoke")(smoke.smoke)
app.command(name="demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"duespark {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """DueSpark: invoice reminders that get freelancers paid on time.

    Configuration comes from environment variables (DATABASE_URL, SECRET_KEY,
    DUESPARK_ENV, ...); see docs/configuration in the README.
    """


def main() -> None:
    app()
