"""The Dockerfile and fly.toml cannot be built or deployed here (no container engine, no
Fly.io account), so their invariants are checked by reading them, and every command they
run is checked against the real CLI: a typo in an option would otherwise surface only in
production, as a crash loop or a deploy that never drains."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.cli.conftest import DUESPARK, base_environ
from tests.cli.serving import running_server
from tests.conftest import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
# `duespark serve --shutdown-timeout` default: after the drain, in-flight requests get this
# long, so the platform's kill timeout must cover drain + this.
SHUTDOWN_TIMEOUT_S = 30


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def only(instructions: list[tuple[str, str]], keyword: str) -> str:
    found = [rest for name, rest in instructions if name == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def fly() -> dict[str, Any]:
    with (ROOT / "fly.toml").open("rb") as handle:
        return tomllib.load(handle)


def seconds(value: str | int) -> float:
    if isinstance(value, int):
        return float(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", value)
    assert match, f"unreadable duration {value!r}"
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


def assert_real_command(command: list[str]) -> None:
    """The command exists with these options: ``--help`` appended parses every option
    before it (typer validates them) and exits 0."""
    assert command[0] == "duespark", command
    result = subprocess.run(
        [DUESPARK, *command[1:], "--help"],
        env=base_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def test_the_image_is_small_runs_as_a_user_and_serves_on_8000() -> None:
    instructions = dockerfile()
    assert only(instructions, "FROM") == "python:3.11-slim"
    users = [rest for name, rest in instructions if name == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}, "the image must not run as root"
    assert only(instructions, "EXPOSE") == "8000"
    assert only(instructions, "STOPSIGNAL") == "SIGTERM"
    command = json.loads(only(instructions, "CMD"))
    assert command == ["duespark", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert_real_command(command)
    assert any(name == "RUN" and "pip install ." in rest for name, rest in instructions)


def test_the_dockerignore_keeps_local_state_out_but_the_sources_in() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "*.db"} <= ignored
    assert not {"src", "pyproject.toml", "README.md"} & ignored


def test_the_image_health_check_probes_liveness(tmp_path: Path) -> None:
    """The HEALTHCHECK's own command, run against a real server (its port swapped in),
    exits 0; against a closed port it exits non-zero. /healthz, not /readyz: a database
    outage must not make the engine restart healthy containers."""
    healthcheck = only(dockerfile(), "HEALTHCHECK")
    options, _, exec_form = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    command = json.loads(exec_form)
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    database_url = f"sqlite:///{tmp_path / 'health.db'}"
    environ = base_environ(DATABASE_URL=database_url, SECRET_KEY=TEST_SECRET_KEY)
    with running_server(environ, tmp_path) as server:
        probe = command[2].replace("http://127.0.0.1:8000", server.url)
        healthy = subprocess.run([sys.executable, "-c", probe], timeout=30, check=False)
        assert healthy.returncode == 0
    closed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=30, check=False
    )
    assert closed.returncode != 0


def test_fly_rolls_after_migrating_and_routes_on_readiness() -> None:
    config = fly()
    deploy = config["deploy"]
    assert deploy["strategy"] == "rolling"
    assert deploy["release_command"] == "duespark db upgrade"
    assert_real_command(shlex.split(deploy["release_command"]))
    service = config["http_service"]
    assert service["internal_port"] == int(only(dockerfile(), "EXPOSE"))
    checks = service["checks"]
    assert any(check["path"] == "/readyz" and check["method"] == "GET" for check in checks)
    assert service["processes"] == ["app"], "only the HTTP processes take traffic"


def test_fly_process_groups_are_real_commands() -> None:
    processes = fly()["processes"]
    assert set(processes) == {"app", "worker"}
    app = shlex.split(processes["app"])
    assert app[:2] == ["duespark", "serve"] and "--no-worker" in app
    assert "--port" in app and app[app.index("--port") + 1] == "8000"
    assert shlex.split(processes["worker"])[:2] == ["duespark", "worker"]
    for command in processes.values():
        assert_real_command(shlex.split(command))


def test_fly_gives_the_drain_time_to_finish_before_killing() -> None:
    """Fly sends kill_signal, waits kill_timeout, then SIGKILLs: the drain (long enough for
    the proxy to see /readyz fail twice) plus the in-flight shutdown must fit inside."""
    config = fly()
    assert config["kill_signal"] == "SIGTERM"
    drain = float(config["env"]["DUESPARK_DRAIN_SECONDS"])
    assert seconds(config["kill_timeout"]) > drain + SHUTDOWN_TIMEOUT_S
    assert seconds(config["kill_timeout"]) <= 300, "Fly.io caps kill_timeout at 300 s"
    for check in config["http_service"]["checks"]:
        if check["path"] == "/readyz":
            assert drain >= 2 * seconds(check["interval"]), (
                "the proxy must see two failed checks before the drain ends"
            )
    assert config["env"]["DUESPARK_ENV"] == "production"
