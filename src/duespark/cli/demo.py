"""``duespark demo``: load a demo account, so a first run shows a living dashboard.

The account ``demo@duespark.example`` gets clients in several currencies and time zones
and invoices in every state, with the reminders of their past already sent
(``ops/demo.py``). Running it again changes nothing and says so; ``--reset`` deletes the
demo account and loads it afresh, with dates relative to today. On SQLite the database is
created and migrated first, as ``duespark serve`` does; PostgreSQL must be migrated
already (``duespark db upgrade``).

Exit codes: 0 loaded (or already there), 1 the database failed or is not migrated, 2 bad
configuration.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from duespark import clock
from duespark.cli._common import console, describe_database, fail, settings_or_exit
from duespark.db import Database
from duespark.ops import migrations
from duespark.ops.demo import DEMO_EMAIL, DEMO_PASSWORD, DemoExists, DemoResult, load_demo


def demo(
    reset: bool = typer.Option(
        False, "--reset", help="Delete the demo account and load it again, dated from today."
    ),
) -> None:
    """Load a demo account with clients, invoices in every state and sent reminders."""
    settings = settings_or_exit()
    database = Database(settings)
    login_url = settings.base_url.rstrip("/") + "/app/login"
    try:
        if settings.is_sqlite:
            migrations.upgrade(database.engine)
        elif not migrations.schema_state(database.engine).is_current:
            raise fail(
                f"the schema of {describe_database(settings)} is not current: "
                "run `duespark db upgrade` first"
            )
        with database.session_scope() as session:
            result = load_demo(session, settings=settings, now=clock.utc_now(), reset=reset)
    except DemoExists:
        console.print(
            "The demo account is already loaded; nothing was changed. "
            "Run `duespark demo --reset` to load it again with dates from today.",
            highlight=False,
        )
        _print_login(login_url)
        return
    except SQLAlchemyError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise fail(
            f"cannot load the demo into {describe_database(settings)}: {first_line}"
        ) from None
    finally:
        database.dispose()
    console.print(_summary(result), highlight=False, soft_wrap=True)
    _print_login(login_url)


def _summary(result: DemoResult) -> str:
    invoices = result.invoices
    sent = result.reminders.get("sent", 0)
    return (
        f"Demo account loaded: {result.clients} clients, {sum(invoices.values())} invoices "
        f"({invoices.get('open', 0)} open, {result.overdue} of them overdue; "
        f"{invoices.get('paid', 0)} paid, {invoices.get('draft', 0)} drafts, "
        f"{invoices.get('void', 0)} void) and {sent} reminders sent."
    )


def _print_login(login_url: str) -> None:
    console.print(
        f"Log in at {login_url}\n  email:    {DEMO_EMAIL}\n  password: {DEMO_PASSWORD}",
        highlight=False,
        soft_wrap=True,
    )
