"""``duespark serve``: the HTTP server (one process, or several with ``--workers``)."""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from duespark.cli._common import console, describe_database, fail, settings_or_exit
from duespark.config import MAX_DRAIN_SECONDS
from duespark.db import Database
from duespark.ops import migrations
from duespark.serving.server import DrainingServer
from duespark.serving.supervisor import ServeOptions, Supervisor, serve_one

MAX_WORKERS = 64


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port to listen on."),
    embedded_worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run the reminder worker inside the server (turn off when running "
        "`duespark worker` processes separately). With --workers on SQLite it runs in one "
        "process only.",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=MAX_WORKERS,
        help="Server processes sharing the port. Login throttling, refresh tokens and "
        "reminder claims live in the database, so any process may answer any request.",
    ),
    drain_seconds: float | None = typer.Option(
        None,
        "--drain-seconds",
        min=0,
        max=MAX_DRAIN_SECONDS,
        help="After SIGTERM/SIGINT, keep serving this long while /readyz answers 503, so "
        "the load balancer stops routing here first; a second signal ends it early. "
        "Default: DUESPARK_DRAIN_SECONDS (10).",
    ),
    shutdown_timeout: int = typer.Option(
        30,
        "--shutdown-timeout",
        min=0,
        max=3600,
        help="After the drain, how long requests in flight may take to finish.",
    ),
) -> None:
    """Run the DueSpark server.

    On SQLite (the default) the database file is created and migrated on first run. On
    PostgreSQL run `duespark db upgrade` first (the release step); until then /readyz
    answers 503.

    SIGTERM (or SIGINT) drains: /readyz answers 503 at once, requests are served for
    --drain-seconds more, then the server stops accepting, closes idle connections,
    finishes requests in flight and the worker's email in hand, and exits 0.
    """
    settings = settings_or_exit()
    database = Database(settings)
    try:
        if settings.is_sqlite:
            # Once, here: with --workers the children must not race to migrate.
            migrations.upgrade(database.engine)
        state = migrations.schema_state(database.engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot open {describe_database(settings)}: {exc}") from None
    if not state.is_current:
        console.print(
            f"[yellow]warning:[/] schema at {state.current or 'nothing'}, code needs "
            f"{state.head}: run `duespark db upgrade`; /readyz answers 503 until then."
        )
    options = ServeOptions(
        host=host,
        port=port,
        drain_seconds=settings.drain_seconds if drain_seconds is None else drain_seconds,
        shutdown_timeout=shutdown_timeout,
        embedded_worker=embedded_worker,
        workers=workers,
    )
    details = f"database: {describe_database(settings)}, environment: {settings.env.value}"

    if workers == 1:

        def announce_one(server: DrainingServer) -> None:
            for address, bound_port in server.listening_addresses():
                _announce(address, bound_port, f"({details})")

        code = serve_one(settings, database, options, announce_one)
    else:
        # The parent keeps no connection: each child opens its own engine.
        database.dispose()

        def announce_many(address: str, bound_port: int, pids: list[int]) -> None:
            shown = ", ".join(str(pid) for pid in pids)
            _announce(address, bound_port, f"({details}, {workers} processes: {shown})")

        try:
            supervisor = Supervisor(settings, options)
        except OSError as exc:
            raise fail(f"cannot listen on {host}:{port}: {exc}") from None
        code = supervisor.run(announce_many)
    if code:
        raise typer.Exit(code)


def _announce(host: str, port: int, details: str) -> None:
    """Say where the server listens, with the real port when --port 0 asked the system to
    choose one (tests and scripts read this line)."""
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"DueSpark listening on http://{shown}:{port} {details}", highlight=False, soft_wrap=True
    )
