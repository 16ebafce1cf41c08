"""``duespark backup create`` when the disk will not take the archive.

A full disk is simulated with a file-size limit (``RLIMIT_FSIZE``) on the command's process,
which makes writes fail part-way exactly as ENOSPC does; an unusable directory is one whose
path runs through a regular file (which stops even root). Either way the command must fail
with a clear message and no traceback, and leave nothing that ``backup list`` shows as a
backup: no archive, no manifest, no partial file.
"""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

from duespark.db import Database
from tests.cli.conftest import DUESPARK, run_cli
from tests.cli.test_backup import seeded  # noqa: F401 (fixture)
from tests.conftest import make_settings
from tests.integration.backup_helpers import seed_more_invoices

LIMIT_BYTES = 32 * 1024
# How each writer words a refused write: SQLite ("disk I/O error"), pg_dump stopped by the
# limit, or a failed write of DueSpark's own.
SPACE_WORDS = ("disk", "file-size limit", "space")


def _create_with_file_size_limit(
    environ: dict[str, str], directory: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))

    return subprocess.run(
        [DUESPARK, "backup", "create", "--dir", str(directory)],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limit,
    )


def test_full_disk_fails_clearly_and_lists_nothing(
    seeded: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    database = Database(make_settings(seeded["DATABASE_URL"]))
    try:
        seed_more_invoices(database, 3_000)  # an archive well over the limit
    finally:
        database.dispose()
    backups = tmp_path / "backups"
    created = _create_with_file_size_limit(seeded, backups, tmp_path)

    assert created.returncode != 0, created.stdout
    assert "Traceback" not in created.stderr
    assert "error: " in created.stderr
    assert any(word in created.stderr for word in SPACE_WORDS), created.stderr
    leftovers = sorted(path.name for path in backups.iterdir()) if backups.exists() else []
    assert leftovers == []
    listed = run_cli("backup", "list", "--dir", str(backups), env=seeded, cwd=tmp_path)
    assert "duespark-" not in listed.stdout


def test_unusable_directory_fails_clearly(
    seeded: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    created = run_cli(
        "backup", "create", "--dir", str(blocker / "backups"), env=seeded, cwd=tmp_path
    )
    assert created.returncode != 0
    assert "Traceback" not in created.stderr
    assert str(blocker) in created.stderr, created.stderr
