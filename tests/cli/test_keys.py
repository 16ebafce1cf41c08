"""``duespark keys`` through the real command: generate, status, and the env-file phases."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from duespark.auth.tokens import key_id
from duespark.config import check_key_strength
from duespark.db import Database
from duespark.ops import keys as rotation
from tests.cli.conftest import base_environ, run_cli
from tests.cli.serving import closed_port_url, running_server
from tests.conftest import TEST_SECRET_KEY

OLD_KEY = TEST_SECRET_KEY
OTHER = "DUESPARK_BASE_URL=https://invoices.example.com"


def keys(*args: str, cwd: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return run_cli("keys", *args, env=base_environ(**environ), cwd=cwd)


def rotate(path: Path, phase: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return keys("rotate", "--env-file", str(path), "--phase", phase, *extra, cwd=path.parent)


@pytest.fixture
def env_path(tmp_path: Path) -> Path:
    path = tmp_path / "prod.env"
    path.write_text(f"# production\n{OTHER}\nSECRET_KEY={OLD_KEY}\n")
    path.chmod(0o600)
    return path


def file_keys(path: Path) -> tuple[str | None, str | None]:
    env = rotation.read_env_file(path)
    return env.get("SECRET_KEY"), env.get("SECRET_KEY_FALLBACKS")


def secrets_in(path: Path) -> list[str]:
    signing, fallbacks = file_keys(path)
    return [key for key in [signing, *(fallbacks or "").split(",")] if key]


def run_flyctl_lines(stdout: str) -> list[list[str]]:
    """Run the printed flyctl lines in a real shell, with flyctl a function that prints the
    arguments it would have received: what Fly.io would be told."""
    lines = [line for line in stdout.splitlines() if line.startswith("flyctl ")]
    fake = "flyctl() { printf '%s\\n' \"$@\"; echo --; }\n"
    ran = subprocess.run(
        ["sh", "-c", fake + "\n".join(lines)], capture_output=True, text=True, timeout=10
    )
    assert ran.returncode == 0, ran.stderr
    return [call.strip("\n").split("\n") for call in ran.stdout.split("--\n") if call]


def test_generate_prints_a_fresh_strong_key(tmp_path: Path) -> None:
    first, second = keys("generate", cwd=tmp_path), keys("generate", cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    key = first.stdout.strip()
    assert first.stdout == key + "\n"  # only the key on stdout: `$(duespark keys generate)`
    check_key_strength(key)
    assert len(key) == 64 and key != second.stdout.strip()
    assert key_id(key) in first.stderr and key not in first.stderr


def test_generate_into_an_env_file_creates_it_private_and_never_prints_the_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.env"
    result = keys("generate", "--env-file", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    key = rotation.read_env_file(path).get("SECRET_KEY")
    assert key and key not in result.stdout + result.stderr
    assert key_id(key) in result.stdout
    again = keys("generate", "--env-file", str(path), cwd=tmp_path)
    assert again.returncode == 1 and "keys rotate" in again.stderr
    assert rotation.read_env_file(path).get("SECRET_KEY") == key


def test_the_three_phases_end_to_end(env_path: Path) -> None:
    env_path.chmod(0o640)  # a group-readable file keeps its mode, with a warning

    prepared = rotate(env_path, "prepare")
    assert prepared.returncode == 0, prepared.stderr
    signing, new_key = file_keys(env_path)
    assert signing == OLD_KEY and new_key and new_key != OLD_KEY
    assert f"Prepared key {key_id(new_key)}" in prepared.stdout
    assert "flyctl secrets set SECRET_KEY_FALLBACKS=" in prepared.stdout
    assert "readable by others" in prepared.stderr
    after_prepare = env_path.read_text()
    assert after_prepare.startswith(f"# production\n{OTHER}\nSECRET_KEY={OLD_KEY}\n")
    assert f"SECRET_KEY_FALLBACKS={new_key}\n" in after_prepare
    assert f"next={key_id(new_key)}" in after_prepare

    assert rotate(env_path, "prepare").returncode == 0  # idempotent: nothing changes
    assert env_path.read_text() == after_prepare

    activated = rotate(env_path, "activate")
    assert activated.returncode == 0, activated.stderr
    assert file_keys(env_path) == (new_key, OLD_KEY)
    assert run_flyctl_lines(activated.stdout) == [
        ["secrets", "set", f"SECRET_KEY={new_key}", f"SECRET_KEY_FALLBACKS={OLD_KEY}"]
    ]

    early = rotate(env_path, "finish")
    assert early.returncode == 1 and "too early" in early.stderr
    assert file_keys(env_path) == (new_key, OLD_KEY)

    # Let the token lifetime pass by moving the recorded activation into the past.
    past = datetime.now(UTC) - timedelta(hours=1)
    env = rotation.read_env_file(env_path)
    record = {**(env.record() or {}), "activated_at": past.isoformat(), "retire_after": ""}
    record["retire_after"] = record["activated_at"]
    rotation.write_env_file(env_path, env.with_record(record))
    finished = rotate(env_path, "finish")
    assert finished.returncode == 0, finished.stderr
    assert file_keys(env_path) == (new_key, "")
    assert "flyctl secrets unset SECRET_KEY_FALLBACKS" in finished.stdout
    assert rotate(env_path, "finish").returncode == 0  # idempotent

    assert env_path.stat().st_mode & 0o777 == 0o640
    outputs = prepared.stdout + prepared.stderr + activated.stdout + finished.stdout
    assert OLD_KEY not in outputs and new_key not in outputs
    assert sorted(p.name for p in env_path.parent.iterdir()) == ["prod.env"]


@pytest.mark.parametrize(
    ("steps", "phase", "message"),
    [
        ([], "activate", "no key is prepared"),
        ([], "finish", "no rotation in progress"),
        (["prepare"], "finish", "run `--phase activate` first"),
        (["prepare", "activate"], "prepare", "run `--phase finish` before"),
    ],
)
def test_out_of_order_phases_exit_1_and_leave_the_file(
    env_path: Path, steps: list[str], phase: str, message: str
) -> None:
    for step in steps:
        assert rotate(env_path, step).returncode == 0
    before = env_path.read_text()
    result = rotate(env_path, phase)
    assert result.returncode == 1
    assert message in " ".join(result.stderr.split())
    assert env_path.read_text() == before


def test_a_missing_file_is_bad_usage(tmp_path: Path) -> None:
    result = rotate(tmp_path / "nope.env", "prepare")
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nope.env").exists()


def test_a_file_without_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.env"
    path.write_text(f"{OTHER}\n")
    result = rotate(path, "prepare")
    assert result.returncode == 1 and "no SECRET_KEY" in result.stderr
    assert path.read_text() == f"{OTHER}\n"


def test_status_of_the_environment_and_of_an_env_file(env_path: Path) -> None:
    fallback = "fallback-key-0123456789-abcdefghijklmnopqrst"
    shown = keys(
        "status", "--json", cwd=env_path.parent, SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=fallback
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "source": "environment",
        "signing_key_id": key_id(OLD_KEY),
        "accepted_key_ids": sorted([key_id(OLD_KEY), key_id(fallback)]),
    }
    assert rotate(env_path, "prepare").returncode == 0
    text = keys("status", "--env-file", str(env_path), cwd=env_path.parent)
    assert text.returncode == 0
    assert f"signing key id:   {key_id(OLD_KEY)}" in text.stdout
    assert "phase=prepared" in text.stdout
    assert not any(key in text.stdout for key in secrets_in(env_path))


def test_status_of_a_running_server(database: Database, tmp_path: Path) -> None:
    fallback = "fallback-key-0123456789-abcdefghijklmnopqrst"
    environ = base_environ(
        DATABASE_URL=database.url, SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=fallback
    )
    with running_server(environ, tmp_path) as server:
        shown = keys("status", "--url", server.url, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["signing_key_id"] == key_id(OLD_KEY)
    assert json.loads(shown.stdout)["accepted_key_ids"] == sorted(
        [key_id(OLD_KEY), key_id(fallback)]
    )


def test_status_of_a_server_that_is_down_exits_1(tmp_path: Path) -> None:
    result = keys("status", "--url", closed_port_url(), cwd=tmp_path)
    assert result.returncode == 1 and "cannot reach" in result.stderr


def test_status_refuses_two_sources(env_path: Path) -> None:
    result = keys(
        "status", "--url", "http://127.0.0.1:1", "--env-file", str(env_path), cwd=env_path.parent
    )
    assert result.returncode == 2


@pytest.mark.parametrize("command", [["keys"], ["keys", "rotate"], ["sessions"], ["smoke"]])
def test_help(command: list[str], tmp_path: Path) -> None:
    result = run_cli(*command, "--help", env=base_environ(), cwd=tmp_path)
    assert result.returncode == 0 and "Usage:" in result.stdout
