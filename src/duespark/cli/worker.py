"""``duespark worker``: plan due reminders and deliver the outbox, as its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

import typer
from sqlalchemy.exc import SQLAlchemyError

from duespark.cli._common import console, describe_database, fail, settings_or_exit
from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.kit.signal_event import SignalEvent
from duespark.observability.logging import configure_logging
from duespark.ops import migrations
from duespark.worker.main import DEFAULT_INTERVAL_SECONDS, Worker


def worker(
    once: bool = typer.Option(False, "--once", help="Run one full pass, then exit (for cron)."),
    interval: float = typer.Option(
        DEFAULT_INTERVAL_SECONDS, min=0.1, help="Seconds to wait between passes."
    ),
) -> None:
    """Plan due reminders and send the outbox's emails, in a loop.

    Several workers may share one PostgreSQL database. SIGTERM finishes the email in hand,
    then exits.
    """
    settings = settings_or_exit()
    configure_logging()
    database = Database(settings)
    try:
        state = migrations.schema_state(database.engine)
    except SQLAlchemyError as exc:
        raise fail(f"cannot open {describe_database(settings)}: {exc}") from None
    if not state.is_current:
        raise fail(
            f"schema at {state.current or 'nothing'}, code needs {state.head}: "
            "run `duespark db upgrade` first"
        )
    stop = SignalEvent()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        # Nothing here may take a lock the interrupted main thread could hold: no
        # threading.Event, no buffered print (see kit/signal_event.py).
        message = f"received {signal.Signals(signum).name}; finishing the email in hand\n"
        with contextlib.suppress(OSError):
            os.write(sys.stdout.fileno(), message.encode())
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sender = sender_from_settings(settings)
    runner = Worker(database, settings, sender, stop_event=stop)
    console.print(
        f"worker {runner.worker_id} on {describe_database(settings)}, mail via {sender.describe()}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        if once:
            result = runner.run_once()
            console.print(
                f"pass done: {result.planned_invoices} invoices planned, {result.queued} queued, "
                f"{result.skipped} skipped, {result.sent} sent, {result.failed} failed, "
                f"{result.dead} dead, {result.cancelled} cancelled",
                highlight=False,
                soft_wrap=True,
            )
        else:
            runner.run_forever(interval)
    finally:
        database.dispose()
        stop.close()
