"""``duespark status``: one line per part of the system, ok/warn/fail; exit 1 on any fail."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from duespark.cli._common import EXIT_FAILED, console, settings_or_exit
from duespark.clock import utc_now
from duespark.ops.status import Level, diagnostic_engine, run_checks

_COLOURS = {Level.ok: "green", Level.warn: "yellow", Level.fail: "bold red"}


def status(
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON (for scripts)."),
) -> None:
    """Check the database, migrations, worker heartbeat, outbox and configuration.

    Each line reads `ok|warn|fail  <check>  <detail>`. Exit code 1 when any check fails,
    0 otherwise (warnings included), 2 when the configuration cannot be loaded.
    """
    settings = settings_or_exit()
    engine = diagnostic_engine(settings.database_url)
    try:
        report = run_checks(settings, engine, now=utc_now())
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for check in report.checks:
            colour = _COLOURS[check.level]
            console.print(
                f"[{colour}]{check.level.value:<4}[/]  {check.name:<13} {escape(check.detail)}",
                highlight=False,
                soft_wrap=True,
            )
        console.print(report.summary(), highlight=False)
    if report.level is Level.fail:
        raise typer.Exit(EXIT_FAILED)
