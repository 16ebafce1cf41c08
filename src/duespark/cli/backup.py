"""``duespark backup``: create, verify, restore, list and prune backups (runbook 2).

Exit codes: 0 done (a verification passed), 1 the operation failed or a verification found
a problem, 2 bad usage (no identity for an encrypted archive, a confirmation that does not
match, an archive of the other backend). Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from duespark.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    console,
    describe_database,
    errors,
    fail,
    settings_or_exit,
)
from duespark.clock import utc_now
from duespark.ops.backup import BackupError, BackupUsageError, catalog, manifest
from duespark.ops.backup.common import human_size
from duespark.ops.backup.create import create_backup
from duespark.ops.backup.restore import live_name, restore_backup
from duespark.ops.backup.retention import Policy
from duespark.ops.backup.verify import verify_backup

app = typer.Typer(
    help="Backups that prove themselves: create, verify (restore and compare), restore, "
    "list, prune.",
    no_args_is_help=True,
)

DIRECTORY = typer.Option(
    Path("backups"),
    "--dir",
    "-d",
    envvar="DUESPARK_BACKUP_DIR",
    help="The backup folder (created if missing).",
)
IDENTITY = typer.Option(
    None, "--identity", "-i", help="age identity file, for an encrypted archive."
)


class _RichStep:
    def __init__(self, progress: Progress, task: TaskID, total: int | None) -> None:
        self._progress, self._task, self._total = progress, task, total

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task, amount)

    def close(self) -> None:
        total = self._total or 1
        self._progress.update(self._task, total=total, completed=total)


class _RichReporter:
    """Progress bars on stderr; notices printed above them."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def step(self, description: str, total: int | None = None) -> _RichStep:
        return _RichStep(self._progress, self._progress.add_task(description, total=total), total)

    def note(self, message: str) -> None:
        self._progress.console.print(
            f"[yellow]notice:[/] {message}", highlight=False, soft_wrap=True
        )


@contextmanager
def _reporting() -> Iterator[_RichReporter]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=errors.is_terminal,
    )
    with progress:
        yield _RichReporter(progress)


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    try:
        yield
    except BackupUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except BackupError as exc:
        raise fail(str(exc), EXIT_FAILED) from None


@app.command()
def create(
    directory: Path = DIRECTORY,
    encrypt_to: list[str] = typer.Option(
        [], "--encrypt-to", help="Encrypt to this age recipient (age1...); repeatable."
    ),
) -> None:
    """Back up the configured database (PostgreSQL: pg_dump -Fc in an exported snapshot;
    SQLite: online backup API), with per-table fingerprints and a checksum manifest."""
    settings = settings_or_exit()
    with _errors_as_exit(), _reporting() as reporter:
        created = create_backup(settings, directory, reporter, recipients=encrypt_to)
    made = created.manifest
    console.print(
        f"Backed up {describe_database(settings)} to {created.archive}\n"
        f"  {human_size(made.archive_size)}, {len(made.tables)} tables, {made.total_rows} rows, "
        f"sha256 {made.archive_sha256[:16]}..., {made.duration_seconds:.1f}s"
        + (", encrypted (age)" if made.encrypted else "")
        + f"\n  manifest: {manifest.manifest_path(created.archive).name}\n"
        f"Not yet verified: run `duespark backup verify {created.archive}`.",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def verify(
    file: Path = typer.Argument(..., help="The archive (or its manifest)."),
    identity: Path | None = IDENTITY,
) -> None:
    """Check the checksum, restore into a scratch database, compare every table's row
    count and content hash, run an integrity check; record the result in the manifest."""
    with _errors_as_exit():
        described = manifest.load(manifest.archive_path(file).resolve())
    # Only PostgreSQL archives need a server (for the scratch database).
    settings = settings_or_exit() if described.backend == "postgresql" else None
    with _errors_as_exit(), _reporting() as reporter:
        report = verify_backup(file, settings, reporter, identity=identity)
    for check in report.checks:
        console.print(f"[green]ok[/]   {check}", highlight=False, soft_wrap=True)
    for problem in report.problems:
        console.print(f"[bold red]FAIL[/] {problem}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise fail(f"{report.archive.name} FAILED verification ({len(report.problems)} problem(s))")
    console.print(f"{report.archive.name}: verified.", highlight=False, soft_wrap=True)


def _confirmation(name: str, archive: Path, settings_url: str) -> str:
    errors.print(
        f"[bold red]This replaces the live database[/] {name} ({settings_url}) with "
        f"{archive.name}.\nA safety backup of the live database is taken first.",
        highlight=False,
        soft_wrap=True,
    )
    try:
        return str(typer.prompt(f"Retype the database name ({name}) to continue", err=True))
    except typer.Abort:
        raise fail("no confirmation given; nothing was changed", EXIT_USAGE) from None


@app.command()
def restore(
    file: Path = typer.Argument(..., help="The archive (or its manifest)."),
    identity: Path | None = IDENTITY,
    replace: bool = typer.Option(
        False, "--replace", help="Replace the live database (asks to retype its name)."
    ),
    confirm: str | None = typer.Option(
        None, "--confirm", help="The live database's name, for scripts (with --replace)."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Name of the new database (PostgreSQL) or file (SQLite)."
    ),
    directory: Path | None = typer.Option(
        None, "--dir", "-d", help="Where the safety backup goes (default: the archive's folder)."
    ),
    encrypt_to: list[str] = typer.Option(
        [], "--encrypt-to", help="Encrypt the safety backup to this age recipient."
    ),
) -> None:
    """Restore into a new database (default), or over the live one with --replace."""
    settings = settings_or_exit()
    if replace and confirm is None:
        with _errors_as_exit():
            name = live_name(settings)
        confirm = _confirmation(name, file, describe_database(settings))
    with _errors_as_exit(), _reporting() as reporter:
        restored = restore_backup(
            file,
            settings,
            reporter,
            identity=identity,
            replace=replace,
            confirm=confirm,
            to=to,
            safety_directory=directory,
            safety_recipients=encrypt_to,
        )
    if restored.replaced:
        console.print(
            f"Replaced {restored.location} in {restored.seconds:.1f}s.",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"Safety backup of the old data: {restored.safety_backup}",
            highlight=False,
            soft_wrap=True,
        )
        if restored.old_database:
            console.print(
                f"The replaced database is kept as {restored.old_database}; drop it when "
                f'satisfied: DROP DATABASE "{restored.old_database}";',
                highlight=False,
                soft_wrap=True,
            )
    else:
        console.print(
            f"Restored into a new database in {restored.seconds:.1f}s: {restored.location}\n"
            "Counts and content hashes match the manifest. To use it, set:\n"
            f"DATABASE_URL={restored.database_url}",
            highlight=False,
            soft_wrap=True,
        )
        if "***" in restored.database_url:
            console.print("(*** stands for the current password)", highlight=False, soft_wrap=True)
    for note in restored.notes:
        console.print(f"[yellow]notice:[/] {note}", highlight=False, soft_wrap=True)


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@app.command(name="list")
def list_backups(directory: Path = DIRECTORY) -> None:
    """List backups, newest last, with size, age and verification state."""
    entries = catalog.scan(directory.resolve())
    if not entries:
        console.print(f"No backups in {directory.resolve()}.", highlight=False, soft_wrap=True)
        return
    now = utc_now()
    table = Table(title=f"Backups in {directory.resolve()}", title_justify="left")
    for column in ("archive", "created (UTC)", "age", "size", "rows", "label", "verified"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        size = human_size(entry.size) if entry.size is not None else "-"
        made = entry.manifest
        if made is None or entry.problem:
            table.add_row(entry.name, "-", "-", size, "-", "-", f"[red]{entry.problem}[/]")
            continue
        if made.verified is None:
            state = "[yellow]never[/]"
        elif made.verified.ok:
            state = f"[green]ok[/] {_age(now, made.verified.at)} ago"
        else:
            state = f"[bold red]FAILED[/] {_age(now, made.verified.at)} ago"
        table.add_row(
            entry.name,
            made.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            _age(now, made.created_at),
            size,
            str(made.total_rows),
            made.label,
            state,
        )
    console.print(table)


@app.command()
def prune(
    directory: Path = DIRECTORY,
    keep_daily: int = typer.Option(7, "--keep-daily", min=0, help="Newest of the last N days."),
    keep_weekly: int = typer.Option(4, "--keep-weekly", min=0, help="...of the last N weeks."),
    keep_monthly: int = typer.Option(12, "--keep-monthly", min=0, help="...of N months."),
    execute: bool = typer.Option(False, "--execute", help="Delete (default: only show)."),
) -> None:
    """Apply retention (dry run unless --execute). Never deletes the newest verified
    backup; deletes nothing while the last verification failed."""
    policy = Policy(daily=keep_daily, weekly=keep_weekly, monthly=keep_monthly)
    result = catalog.prune(directory.resolve(), policy, utc_now(), execute=execute)
    for name in result.plan.kept:
        console.print(
            f"keep    {name}  ({', '.join(result.plan.keep[name])})",
            highlight=False,
            soft_wrap=True,
        )
    for entry in result.skipped:
        console.print(f"skip    {entry.name}  ({entry.problem})", highlight=False, soft_wrap=True)
    if result.plan.blocked is not None:
        raise fail(result.plan.blocked)
    verb = "deleted" if execute else "would delete"
    for name in result.plan.delete:
        console.print(f"{verb:<7} {name}", highlight=False, soft_wrap=True)
    if not result.plan.delete:
        console.print("Nothing to delete.")
    elif not execute:
        console.print("Dry run: pass --execute to delete.")
