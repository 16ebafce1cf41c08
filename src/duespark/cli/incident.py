"""``duespark incident``: gather an incident's facts into a folder and a report skeleton."""

from __future__ import annotations

from pathlib import Path

import typer

from duespark.cli._common import console, fail, settings_or_exit
from duespark.clock import utc_now
from duespark.ops.incident import take_snapshot

app = typer.Typer(
    help="Incident response: snapshot the system's state and start the postmortem.",
    no_args_is_help=True,
)


@app.command()
def snapshot(
    directory: Path = typer.Option(
        Path("."), "--dir", help="Where to create the incident-<UTC time> folder."
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="A running server's base URL, to scrape its /metrics (request rates and "
        "latencies live in the server process).",
    ),
) -> None:
    """Write status, database activity, recent errors, a metrics sample, the redacted
    configuration and a pre-filled incident-report.md into a new dated folder.

    Secrets (SECRET_KEY, fallbacks, passwords in DATABASE_URL and DUESPARK_EMAIL_URL,
    the metrics token) never reach the folder. Exit code 0 when the folder was written,
    even if the system is unhealthy (that is what the folder is for); 1 when it could not
    be written.
    """
    settings = settings_or_exit()
    try:
        result = take_snapshot(settings, directory=directory, now=utc_now(), url=url)
    except OSError as exc:
        raise fail(f"cannot write the snapshot in {directory}: {exc}") from None
    for line in result.status.lines():
        console.print(line, highlight=False, soft_wrap=True)
    for problem in result.problems:
        console.print(f"[yellow]not collected:[/] {problem}", highlight=False, soft_wrap=True)
    console.print(f"Snapshot written to {result.folder}", highlight=False, soft_wrap=True)
    console.print(
        f"Next: fill in {result.folder / 'incident-report.md'} (summary, impact, root cause).",
        highlight=False,
        soft_wrap=True,
    )
