"""``duespark import invoices``: load a spreadsheet's invoices into an account.

The same use case as ``POST /invoices/import`` (``invoices/importing.py``), in one
transaction: all or nothing unless ``--skip-invalid``, and a file imported twice creates
nothing the second time. A progress bar (bytes read) goes to stderr.

Exit codes: 0 every row imported or unchanged, 1 some rows were bad (nothing written
unless --skip-invalid) or the database failed, 2 bad usage (a missing file, an unknown
user).
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
from sqlalchemy.exc import SQLAlchemyError

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
    email: str = typer.Option(..., "--user", help="The account to import into (its email)."),
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
            user = auth_repository.get_user_by_email(session, email.strip().lower())
            if user is None:
                raise fail(f"no user with the email address {email!r}", EXIT_USAGE)
            with path.open("rb") as source, _progress() as progress:
                task = progress.add_task("Importing", total=path.stat().st_size)
                report = import_invoices(
                    session,
                    user,
                    source,
                    now=clock.utc_now(),
                    skip_invalid=skip_invalid,
                    progress=lambda done: progress.update(task, completed=done),
                )
                progress.update(task, completed=path.stat().st_size)
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
