"""``duespark outbox``: inspect email deliveries and requeue the ones that failed.

Exit codes: 0 done, 1 the operation failed (an unknown id, a message that cannot be
retried, an unreachable database), 2 bad usage.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from duespark.cli._common import EXIT_USAGE, console, describe_database, fail, settings_or_exit
from duespark.clock import utc_now
from duespark.db import Database
from duespark.errors import DueSparkError
from duespark.outbox import repository

app = typer.Typer(
    help="The email outbox: list deliveries, retry failed or dead ones.", no_args_is_help=True
)


class Status(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    dead = "dead"
    cancelled = "cancelled"


@app.command(name="list")
def list_messages(
    status: Status | None = typer.Option(None, "--status", help="Only messages in this state."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Show at most this many."),
) -> None:
    """List outbox messages, with a count of every state.

    Waiting messages come in the order they will be tried, the others newest first.
    """
    settings = settings_or_exit()
    database = Database(settings)
    try:
        with database.session_scope() as session:
            rows = repository.list_messages(
                session, status=status.value if status else None, limit=limit
            )
            counts = repository.count_by_status(session)
    except SQLAlchemyError as exc:
        raise fail(
            f"cannot read the outbox in {describe_database(settings)}: {_first_line(exc)}"
        ) from None
    finally:
        database.dispose()
    table = Table(title="Outbox", title_justify="left")
    for column in ("id", "status", "attempts", "next attempt", "recipient", "subject"):
        table.add_column(column, no_wrap=column in {"id", "status", "next attempt"})
    table.add_column("last error", overflow="fold")
    for row in rows:
        waiting = row.status in {"pending", "sending"}
        table.add_row(
            str(row.id),
            row.status,
            str(row.attempts),
            _when(row.next_attempt_at) if waiting else "-",
            row.recipient,
            row.subject,
            row.last_error or "-",
        )
    if rows:
        console.print(table)
    else:
        shown = f"{status.value} " if status else ""
        console.print(f"No {shown}messages in the outbox.")
    console.print(" · ".join(f"{name} {count}" for name, count in counts.items()), highlight=False)


@app.command()
def retry(
    ids: list[int] | None = typer.Argument(None, help="Ids of dead or pending messages."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Requeue every dead message."),
) -> None:
    """Requeue dead messages, or make pending ones due now.

    A dead message starts again with no attempts counted. Nothing changes unless every id
    can be retried. Sent and cancelled messages are never resent.
    """
    if bool(ids) == all_dead:
        raise fail("give message ids or --all-dead (one or the other)", EXIT_USAGE)
    settings = settings_or_exit()
    database = Database(settings)
    try:
        with database.session_scope() as session:
            if all_dead:
                requeued = repository.requeue_dead(session, now=utc_now())
            else:
                requeued = repository.requeue(session, ids or [], now=utc_now())
            requeued_ids = [message.id for message in requeued]
    except DueSparkError as exc:
        raise fail(f"{exc.message} Nothing was requeued.") from None
    except SQLAlchemyError as exc:
        raise fail(
            f"cannot update the outbox in {describe_database(settings)}: {_first_line(exc)}"
        ) from None
    finally:
        database.dispose()
    if not requeued_ids:
        console.print("No dead messages to requeue.")
        return
    listed = ", ".join(str(message_id) for message_id in requeued_ids)
    console.print(f"Requeued {len(requeued_ids)} message(s): {listed}.", highlight=False)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _first_line(exc: Exception) -> str:
    """The driver's message without the SQL statement SQLAlchemy appends."""
    return str(exc).strip().splitlines()[0]
