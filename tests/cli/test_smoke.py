"""``duespark smoke`` against a real ``duespark serve`` on loopback, on both databases."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from duespark.db import Database
from duespark.models import RefreshToken
from tests.cli.conftest import base_environ, run_cli
from tests.cli.serving import Server, closed_port_url, register_and_login, running_server
from tests.conftest import TEST_SECRET_KEY
from tests.factories import PASSWORD

STEP = re.compile(r"^(ok|FAIL|skip)\s+(.+?)\s{2,}(?:(\d+\.\d) ms|-)\s+(.*)$")


@pytest.fixture
def server(database: Database, tmp_path: Path) -> Iterator[Server]:
    environ = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY)
    with running_server(environ, tmp_path) as running:
        register_and_login(running, "smoke@example.com")
        yield running


def smoke(cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return run_cli("smoke", *args, env=base_environ(**environ), cwd=cwd, timeout=60)


def steps(output: str) -> list[tuple[str, str, str | None]]:
    """(status, step, milliseconds) for each step line; fails on any other shape."""
    found = []
    for line in output.splitlines():
        match = STEP.match(line)
        if match:
            found.append((match.group(1), match.group(2).strip(), match.group(3)))
    return found


def live_sessions(database: Database) -> int:
    with database.session_scope() as session:
        query = select(func.count()).where(
            RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None)
        )
        return session.scalar(query) or 0


def test_every_step_passes_with_timings(server: Server, database: Database, tmp_path: Path) -> None:
    before = live_sessions(database)
    result = smoke(
        tmp_path,
        "--url",
        server.url,
        DUESPARK_SMOKE_EMAIL="smoke@example.com",
        DUESPARK_SMOKE_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = steps(result.stdout)
    assert [(status, name) for status, name, _ in found] == [
        ("ok", "health"),
        ("ok", "readiness"),
        ("ok", "login"),
        ("ok", "protected call"),
        ("ok", "logout"),
    ]
    assert all(ms is not None and 0 < float(ms) < 10_000 for _, _, ms in found)
    assert "Smoke test passed." in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert live_sessions(database) == before  # the smoke test's own session was closed


def test_a_wrong_password_fails_at_the_login_step(server: Server, tmp_path: Path) -> None:
    result = smoke(
        tmp_path, "--url", server.url, "--email", "smoke@example.com", "--password", "wrong-one!"
    )
    assert result.returncode == 1
    found = steps(result.stdout)
    assert [(status, name) for status, name, _ in found] == [
        ("ok", "health"),
        ("ok", "readiness"),
        ("FAIL", "login"),
    ]
    assert "401" in result.stdout and "Incorrect email or password" in result.stdout
    assert "wrong-one!" not in result.stdout


def test_a_server_that_is_down_fails_at_health(tmp_path: Path) -> None:
    result = smoke(tmp_path, "--url", closed_port_url(), "--timeout", "5")
    assert result.returncode == 1
    found = steps(result.stdout)
    assert [(status, name) for status, name, _ in found] == [("FAIL", "health")]
    assert "cannot reach" in result.stdout


def test_without_credentials_the_login_steps_are_skipped(server: Server, tmp_path: Path) -> None:
    result = smoke(tmp_path, "--url", server.url)
    assert result.returncode == 0, result.stdout
    assert [(status, name) for status, name, _ in steps(result.stdout)] == [
        ("ok", "health"),
        ("ok", "readiness"),
        ("skip", "login"),
        ("skip", "protected call"),
        ("skip", "logout"),
    ]
    assert "login steps skipped" in result.stdout


@pytest.mark.parametrize(
    ("args", "environ"),
    [
        (["--url", "ftp://example.com"], {}),
        (["--url", "http://127.0.0.1:9", "--email", "a@example.com"], {}),
        (["--url", "http://127.0.0.1:9"], {"DUESPARK_SMOKE_PASSWORD": "x"}),
    ],
)
def test_bad_usage_exits_2_without_a_request(
    args: list[str], environ: dict[str, str], tmp_path: Path
) -> None:
    result = smoke(tmp_path, *args, **environ)
    assert result.returncode == 2
    assert steps(result.stdout) == []
