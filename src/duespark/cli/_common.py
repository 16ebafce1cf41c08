"""What every command shares: loading settings, and turning errors into exit codes."""

from __future__ import annotations

import typer
from rich.console import Console

from duespark.config import ConfigError, Settings, load_settings

EXIT_FAILED = 1
EXIT_USAGE = 2

console = Console()
errors = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Load the configuration, or explain what is wrong and exit with code 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def describe_database(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)
