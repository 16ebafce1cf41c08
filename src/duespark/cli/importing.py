"""``duespark import invoices``: load a spreadsheet's invoices into an account.

The same use case as ``POST /invoices/import`` (``invoices/importing.py``), in one
transaction: all or nothing unless ``--skip-invalid``, and a file imported twice creates
nothing the second time. A progress bar goes to stderr, moved by the import after each
batch of rows to the bytes of the file it has consumed (it reaches 100% only when the
import has read the whole file).

``--user`` may be left out when the database holds exactly one account.

Exit codes: 0 every row imported or unchanged, 1 some rows were bad (nothing written
unless --skip-invalid) or the database failed, 2 bad usage (a missing file, an unknown
user, no ``--user`` with no account or several).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from duespark import clock
from duespark.auth import repository as auth_repository
from duespark.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    console,
    describe_database,
    errors,
    fail,
    settings_or_exit,
)
from duespark.db import Database
from duespark.errors import DueSparkError
from duespark.invoices.csv_format import COLUMNS, RowError
from duespark.invoices.importing import ImportRead, InvalidRows, import_invoices
from duespark.models import User

app = typer.Typer(help="Import data from CSV files.", no_args_is_help=True)


@app.command()
def invoices(
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        metavar="FILE.csv",
        help="A CSV file (UTF-8) with a header row.",
    ),
    email: str | None = typer.Option(
        None,
        "--user",
        metavar="EMAIL",
        help="The account to import into (its email); optional when there is only one.",
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows and report the others."
    ),
) -> None:
    """Import invoices, and the clients they name, from a CSV file.

    The header row names the columns, in any order (docs/api.md, "CSV import and export").
    """
    settings = settings_or_exit()
    database = Database(settings)
    try:
        with database.session_scope() as session:
            user = _account(session, email)
            with path.open("rb") as source, _progress() as progress:
                # The bar starts empty and moves only when the import says how far it got.
                task = progress.add_task("Importing", total=path.stat().st_size)
                report = import_invoices(
                    session,
                    user,
                    source,
                    now=clock.utc_now(),
                    skip_invalid=skip_invalid,
                    progress=lambda done: progress.update(task, completed=done),
                )
    except InvalidRows as exc:
        _list(exc.errors)
        raise fail(exc.message) from None
    except DueSparkError as exc:
        raise fail(f"{exc.message} Nothing was imported.") from None
    except SQLAlchemyError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise fail(f"cannot import into {describe_database(settings)}: {first_line}") from None
    finally:
        database.dispose()
    console.print(_summary(report), highlight=False)
    if report.skipped:
        _list([RowError(e.line, e.field, e.message) for e in report.errors])
        raise typer.Exit(EXIT_FAILED)


def _account(session: Session, email: str | None) -> User:
    """The account named by ``--user``, or without it the database's only account; exit 2
    when there is no such account, or no ``--user`` and not exactly one."""
    if email is not None:
        user = auth_repository.get_user_by_email(session, email.strip().lower())
        if user is None:
            raise fail(f"no user with the email address {email!r}", EXIT_USAGE)
        return user
    # Two rows at most: enough to know whether the choice is ours to make.
    only = session.scalars(select(User).order_by(User.id).limit(2)).all()
    if len(only) == 1:
        return only[0]
    if not only:
        raise fail(
            "the database has no account to import into; create one (sign up, or "
            "POST /auth/register), then run this again",
            EXIT_USAGE,
        )
    accounts = session.scalar(select(func.count()).select_from(User))
    raise fail(
        f"the database has {accounts} accounts; say which one to import into with --user EMAIL",
        EXIT_USAGE,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=errors,
    )


def _summary(report: ImportRead) -> str:
    parts = [
        f"{report.created} invoice(s) created",
        f"{report.unchanged} unchanged",
        f"{report.clients_created} client(s) created",
    ]
    if report.skipped:
        parts.append(f"{report.skipped} bad row(s) skipped")
    return "Imported: " + ", ".join(parts) + "."


def _list(problems: list[RowError]) -> None:
    for problem in problems:
        where = f"line {problem.line}" + (f", {problem.field}" if problem.field else "")
        errors.print(f"{where}: {problem.message}", highlight=False, soft_wrap=True, markup=False)
    if any(problem.line == 1 for problem in problems):
        errors.print(f"The columns are: {', '.join(COLUMNS)}.", highlight=False)
