"""``duespark serve`` as a real process: first run, readiness, a login, a clean stop."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.cli.conftest import DUESPARK, base_environ, run_cli
from tests.factories import PASSWORD

LISTENING = re.compile(r"DueSpark listening on (http://127\.0\.0\.1:\d+)")


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url


def start_server(environ: dict[str, str], cwd: Path) -> Iterator[Server]:
    process = subprocess.Popen(
        [DUESPARK, "serve", "--port", "0"],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # bounded: the server prints this within seconds
            lines.append(line)
            match = LISTENING.search(line)
            if match:
                yield Server(process, match.group(1))
                break
        else:
            pytest.fail("server exited before listening:\n" + "".join(lines))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    """A server on the default configuration: no DATABASE_URL, no SECRET_KEY."""
    yield from start_server(base_environ(), tmp_path)


def test_first_run_creates_and_migrates_sqlite(sqlite_server: Server, tmp_path: Path) -> None:
    assert (tmp_path / "duespark.db").exists()
    assert (tmp_path / "duespark.db.secret-key").exists()
    with httpx2.Client(base_url=sqlite_server.url, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200
        register = http.post(
            "/auth/register",
            json={"email": "ada@example.com", "password": PASSWORD, "name": "Ada"},
        )
        assert register.status_code == 201
        login = http.post(
            "/auth/login",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=f"username=ada@example.com&password={PASSWORD}",
        )
        assert login.status_code == 200
        token = login.json()["access_token"]
        clients = http.get("/clients", headers={"Authorization": f"Bearer {token}"})
        assert clients.status_code == 200 and clients.json()["total"] == 0


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    servers = start_server(base_environ(), tmp_path)
    server = next(servers)
    server.process.send_signal(signal.SIGTERM)
    rest, _ = server.process.communicate(timeout=15)
    # Shutdown runs to completion, then the process ends by the signal it was sent, as
    # uvicorn does, so supervisors see why it stopped.
    assert "Application shutdown complete." in rest
    assert server.process.returncode in (0, -signal.SIGTERM)
    servers.close()


def test_a_restart_keeps_users_logged_in(tmp_path: Path) -> None:
    """The development key is kept beside the database, so tokens outlive a restart."""
    servers = start_server(base_environ(), tmp_path)
    server = next(servers)
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        http.post(
            "/auth/register", json={"email": "ada@example.com", "password": PASSWORD, "name": "A"}
        )
        token = http.post(
            "/auth/login", data={"username": "ada@example.com", "password": PASSWORD}
        ).json()["access_token"]
    servers.close()
    restarted = start_server(base_environ(), tmp_path)
    server = next(restarted)
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        me = http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    restarted.close()


def test_serve_on_postgresql_after_upgrade(cli_environ: dict[str, str], tmp_path: Path) -> None:
    if "postgresql" not in cli_environ["DATABASE_URL"]:
        pytest.skip("the SQLite path is covered by the first-run test")
    assert run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path).returncode == 0
    servers = start_server(cli_environ, tmp_path)
    server = next(servers)
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/readyz").json()["checks"] == {"database": "ok", "schema": "current"}
    servers.close()


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli("serve", env=base_environ(DUESPARK_ENV="production"), cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr
    assert not (tmp_path / "duespark.db").exists()


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["db"], ["db", "upgrade"], ["db", "current"], ["db", "check"]],
)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = run_cli(*command, "--help", env=base_environ(), cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage:" in result.stdout
    assert len(result.stdout.splitlines()) > 4
