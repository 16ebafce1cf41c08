"""``duespark smoke``: the checks every runbook ends with, in one command."""

from __future__ import annotations

import typer

from duespark.cli._common import EXIT_FAILED, EXIT_USAGE, console, fail
from duespark.ops.smoke import Step, check_base_url, passed, run_smoke

_MARK = {True: "[green]ok  [/]", False: "[bold red]FAIL[/]", None: "[yellow]skip[/]"}


def _report(step: Step) -> None:
    timing = f"{step.milliseconds:7.1f} ms" if step.ok is not None else "       -  "
    console.print(
        f"{_MARK[step.ok]}  {step.name:<15} {timing}  {step.detail}",
        highlight=False,
        soft_wrap=True,
    )


def smoke(
    url: str = typer.Option(..., "--url", help="The server's base URL, e.g. https://host."),
    email: str | None = typer.Option(
        None, "--email", envvar="DUESPARK_SMOKE_EMAIL", help="Account to log in with."
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="DUESPARK_SMOKE_PASSWORD",
        help="Its password; prefer the DUESPARK_SMOKE_PASSWORD variable, which stays out of "
        "shell history.",
        show_envvar=True,
    ),
    timeout: float = typer.Option(10, min=0.1, help="Seconds to wait for each request."),
) -> None:
    """Check a running server: health, readiness, login, a protected call, logout.

    One line per step with its time; exits 1 at the first failure. Without credentials
    only health and readiness run, and the login steps are reported as skipped.
    """
    try:
        check_base_url(url)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    if bool(email) != bool(password):
        raise fail(
            "give both an email and a password (--email/--password or DUESPARK_SMOKE_EMAIL/"
            "DUESPARK_SMOKE_PASSWORD), or neither",
            EXIT_USAGE,
        )
    steps = run_smoke(url, email=email, password=password, timeout=timeout, report=_report)
    if not passed(steps):
        raise typer.Exit(EXIT_FAILED)
    skipped = any(step.ok is None for step in steps)
    console.print(
        "Smoke test passed" + (" (login steps skipped: no credentials)." if skipped else "."),
        highlight=False,
    )
