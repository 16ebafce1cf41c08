"""``duespark db``: migrations through the real command, on both databases."""

from __future__ import annotations

from pathlib import Path

from duespark.ops.migrations import head_revision
from tests.cli.conftest import run_cli


def test_check_fails_while_migrations_are_pending_then_passes(
    cli_environ: dict[str, str], tmp_path: Path
) -> None:
    pending = run_cli("db", "check", env=cli_environ, cwd=tmp_path)
    assert pending.returncode == 1
    assert "pending" in pending.stderr and "duespark db upgrade" in pending.stderr

    upgraded = run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"to {head_revision()}" in upgraded.stdout

    current = run_cli("db", "check", env=cli_environ, cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    assert "no migrations pending" in current.stdout


def test_upgrade_twice_is_harmless(cli_environ: dict[str, str], tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path).returncode == 0
    again = run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path)
    assert again.returncode == 0
    assert "Already at" in again.stdout


def test_current_shows_both_revisions(cli_environ: dict[str, str], tmp_path: Path) -> None:
    before = run_cli("db", "current", env=cli_environ, cwd=tmp_path)
    assert before.returncode == 0
    assert "(empty schema)" in before.stdout and head_revision() in before.stdout
    run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path)
    after = run_cli("db", "current", env=cli_environ, cwd=tmp_path)
    assert f"current:  {head_revision()}" in after.stdout


def test_password_is_never_printed(cli_environ: dict[str, str], tmp_path: Path) -> None:
    environ = {**cli_environ, "DATABASE_URL": "postgresql://duespark:hunter2secret@127.0.0.1:1/x"}
    result = run_cli("db", "check", env=environ, cwd=tmp_path)
    assert result.returncode == 1
    assert "hunter2secret" not in result.stdout + result.stderr
    assert "cannot read" in result.stderr
