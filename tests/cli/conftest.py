"""Helpers for running the real ``duespark`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.conftest import TEST_SECRET_KEY

DUESPARK = str(Path(sys.executable).parent / "duespark")


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUESPARK, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_environ(**extra: str) -> dict[str, str]:
    """A clean environment: only what the command needs, nothing inherited by accident."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    # Servers started by tests stop at once unless a test asks for a drain period.
    return {**keep, "COLUMNS": "200", "DUESPARK_DRAIN_SECONDS": "0", **extra}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = postgres.create_database(admin_url, "duespark_cli")
    try:
        yield postgres.database_url(admin_url, name)
    finally:
        postgres.drop_database(admin_url, name)


@pytest.fixture
def cli_environ(empty_database_url: str) -> dict[str, str]:
    return base_environ(DATABASE_URL=empty_database_url, SECRET_KEY=TEST_SECRET_KEY)
