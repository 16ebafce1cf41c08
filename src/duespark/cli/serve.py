"""``duespark serve``: the HTTP server."""

from __future__ import annotations

import socket
import threading

import typer
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from duespark.app import create_app
from duespark.cli._common import console, describe_database, fail, settings_or_exit
from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.ops import migrations
from duespark.worker.main import Worker


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port to listen on."),
    embedded_worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run the reminder worker inside the server (turn off when running "
        "`duespark worker` processes separately).",
    ),
) -> None:
    """Run the DueSpark server.

    On SQLite (the default) the database file is created and migrated on first run. On
    PostgreSQL run `duespark db upgrade` first (the release step); until then /readyz
    answers 503.
    """
    settings = settings_or_exit()
    database = Database(settings)
    try:
        if settings.is_sqlite:
            migrations.upgrade(database.engine)
        state = migrations.schema_state(database.engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot open {describe_database(settings)}: {exc}") from None
    if not state.is_current:
        console.print(
            f"[yellow]warning:[/] schema at {state.current or 'nothing'}, code needs "
            f"{state.head}: run `duespark db upgrade`; /readyz answers 503 until then."
        )
    app = create_app(settings, database=database)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    announcement = f"(database: {describe_database(settings)}, environment: {settings.env.value})"
    stop = threading.Event()
    background = None
    if embedded_worker:
        runner = Worker(database, settings, sender_from_settings(settings), stop_event=stop)
        background = threading.Thread(
            target=runner.run_forever, name="duespark-worker", daemon=True
        )
        background.start()
    try:
        _AnnouncingServer(config, announcement).run()
    finally:
        # The server has drained; let the worker finish the email in hand, then stop.
        stop.set()
        if background is not None:
            background.join(timeout=30)


class _AnnouncingServer(uvicorn.Server):
    """Says where it listens once the socket is bound, with the real port when --port 0
    asked the system to choose one."""

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self.announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        for server in self.servers:
            for listening in server.sockets:
                host, port = listening.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                console.print(
                    f"DueSpark listening on http://{shown}:{port} {self.announcement}",
                    highlight=False,
                    soft_wrap=True,
                )
