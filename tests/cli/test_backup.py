"""``duespark backup`` through the real command, on both databases: exit codes, messages,
the --replace fence (retyped name, safety backup), encryption keys, prune's dry run."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyrage import x25519

from duespark.db import Database
from duespark.ops import migrations
from duespark.ops.backup import postgres
from duespark.ops.backup.manifest import Manifest, TableFingerprint, Verification, save
from duespark.ops.backup.pgtools import PgTarget
from tests.cli.conftest import DUESPARK, base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.integration.backup_helpers import count_invoices, seed, seed_more_invoices


@pytest.fixture
def seeded(cli_environ: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated database with 40 invoices; the environment to run commands with."""
    database = Database(make_settings(cli_environ["DATABASE_URL"]))
    try:
        migrations.upgrade(database.engine)  # in-process: `db upgrade` has its own tests
        seed(database, invoices=40)
    finally:
        database.dispose()
    yield cli_environ
    _drop_leftovers(cli_environ["DATABASE_URL"])


@pytest.fixture
def seeded_sqlite(tmp_path: Path) -> dict[str, str]:
    """For what does not depend on the backend (encryption keys): SQLite only, to keep
    the number of (one-second) command starts down."""
    url = f"sqlite:///{tmp_path / 'only.db'}"
    database = Database(make_settings(url))
    try:
        migrations.upgrade(database.engine)
        seed(database, invoices=5)
    finally:
        database.dispose()
    return base_environ(DATABASE_URL=url, SECRET_KEY=TEST_SECRET_KEY)


def _drop_leftovers(url: str) -> None:
    """Databases the commands made beside the test's own (restores, replaced originals)."""
    if url.startswith("sqlite"):
        return
    target = PgTarget.from_url(url)
    with target.connect(autocommit=True) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (target.dbname + "\\_%",),
        ).fetchall()
    for (name,) in names:
        postgres.drop(target, name)


def _invoices(url: str) -> int:
    database = Database(make_settings(url))
    try:
        return count_invoices(database)
    finally:
        database.dispose()


def _add_invoice(url: str) -> None:
    database = Database(make_settings(url))
    try:
        seed_more_invoices(database, 1)
    finally:
        database.dispose()


def _archives(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("duespark-*") if not p.name.endswith(".json"))


def _run_with_input(
    text: str, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUESPARK, *args],
        env=env,
        cwd=cwd,
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _live_name(url: str) -> str:
    return (
        Path(url.removeprefix("sqlite:///")).name
        if url.startswith("sqlite")
        else (PgTarget.from_url(url).dbname)
    )


def test_create_list_verify(seeded: dict[str, str], tmp_path: Path) -> None:
    backups = str(tmp_path / "backups")
    created = run_cli("backup", "create", "--dir", backups, env=seeded, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    [archive] = _archives(tmp_path / "backups")
    assert f"to {archive}" in created.stdout
    assert "43 rows" in created.stdout  # 40 invoices, the account, its client, alembic_version
    assert "Not yet verified" in created.stdout

    verified = run_cli("backup", "verify", str(archive), env=seeded, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "counts and content hashes match" in verified.stdout
    assert f"{archive.name}: verified." in verified.stdout
    listed = run_cli("backup", "list", "--dir", backups, env=seeded, cwd=tmp_path)
    assert listed.returncode == 0 and archive.name in listed.stdout
    assert re.search(r"ok \d+m ago", listed.stdout), listed.stdout


def test_damaged_archive_fails_verify_and_blocks_prune(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    backups = str(tmp_path / "backups")
    assert run_cli("backup", "create", "--dir", backups, env=seeded, cwd=tmp_path).returncode == 0
    [archive] = _archives(tmp_path / "backups")
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0x40
    archive.write_bytes(bytes(data))

    verified = run_cli("backup", "verify", str(archive), env=seeded, cwd=tmp_path)
    assert verified.returncode == 1
    assert "FAIL" in verified.stdout and "sha256" in verified.stdout
    assert "FAILED verification" in verified.stderr
    assert "FAILED" in run_cli("backup", "list", "--dir", backups, env=seeded, cwd=tmp_path).stdout

    pruned = run_cli(
        "backup",
        "prune",
        "--dir",
        backups,
        "--keep-daily",
        "0",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
        "--execute",
        env=seeded,
        cwd=tmp_path,
    )
    assert pruned.returncode == 1
    assert "last verification" in pruned.stderr and "deleting nothing" in pruned.stderr
    assert archive.exists()


def test_restore_into_a_new_database_prints_its_url(seeded: dict[str, str], tmp_path: Path) -> None:
    url = seeded["DATABASE_URL"]
    backups = str(tmp_path / "backups")
    assert run_cli("backup", "create", "--dir", backups, env=seeded, cwd=tmp_path).returncode == 0
    [archive] = _archives(tmp_path / "backups")
    _add_invoice(url)  # after the backup: must not be in the restored copy

    if url.startswith("sqlite"):
        to = str(tmp_path / "restored.db")
    else:
        to = f"{PgTarget.from_url(url).dbname}_copy"
    restored = run_cli("backup", "restore", str(archive), "--to", to, env=seeded, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    [printed] = re.findall(r"^DATABASE_URL=(\S+)$", restored.stdout, re.M)
    assert printed.endswith(to)
    assert "Counts and content hashes match" in restored.stdout
    assert _invoices(printed) == 40
    assert _invoices(url) == 41


def test_replace_refuses_without_the_retyped_name(seeded: dict[str, str], tmp_path: Path) -> None:
    url = seeded["DATABASE_URL"]
    backups = tmp_path / "backups"
    assert (
        run_cli("backup", "create", "--dir", str(backups), env=seeded, cwd=tmp_path).returncode == 0
    )
    [archive] = _archives(backups)
    _add_invoice(url)

    attempts = [
        _run_with_input(
            "", "backup", "restore", str(archive), "--replace", env=seeded, cwd=tmp_path
        ),
        _run_with_input(
            "not-the-name\n",
            "backup",
            "restore",
            str(archive),
            "--replace",
            env=seeded,
            cwd=tmp_path,
        ),
        run_cli(
            "backup",
            "restore",
            str(archive),
            "--replace",
            "--confirm",
            "x",
            env=seeded,
            cwd=tmp_path,
        ),
    ]
    for attempt in attempts:
        assert attempt.returncode == 2, attempt.stderr
        assert "nothing was changed" in attempt.stderr
    assert f"Retype the database name ({_live_name(url)})" in attempts[1].stderr
    assert _invoices(url) == 41  # live data untouched
    assert _archives(backups) == [archive]  # no safety backup either: nothing started


def test_replace_takes_a_safety_backup_then_replaces(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    url = seeded["DATABASE_URL"]
    backups = tmp_path / "backups"
    assert (
        run_cli("backup", "create", "--dir", str(backups), env=seeded, cwd=tmp_path).returncode == 0
    )
    [archive] = _archives(backups)
    _add_invoice(url)

    replaced = _run_with_input(
        _live_name(url) + "\n",
        "backup",
        "restore",
        str(archive),
        "--replace",
        env=seeded,
        cwd=tmp_path,
    )
    assert replaced.returncode == 0, replaced.stderr
    assert _invoices(url) == 40  # the backup's data is live again
    [_, safety] = _archives(backups)
    assert f"Safety backup of the old data: {safety}" in replaced.stdout
    safety_manifest = json.loads(safety.with_name(safety.name + ".manifest.json").read_text())
    assert safety_manifest["label"] == "pre-restore"
    invoice_table = "invoice" if url.startswith("sqlite") else "public.invoice"
    assert safety_manifest["tables"][invoice_table]["rows"] == 41  # the replaced data
    check = run_cli("backup", "verify", str(safety), env=seeded, cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    if not url.startswith("sqlite"):
        assert "DROP DATABASE" in replaced.stdout
        assert "_pre_restore_" in replaced.stdout


def test_encrypted_backup_needs_the_right_identity(
    seeded_sqlite: dict[str, str], tmp_path: Path
) -> None:
    seeded = seeded_sqlite
    right, wrong = x25519.Identity.generate(), x25519.Identity.generate()
    (tmp_path / "right.key").write_text(f"{right}\n")
    (tmp_path / "wrong.key").write_text(f"{wrong}\n")
    backups = str(tmp_path / "backups")
    created = run_cli(
        "backup",
        "create",
        "--dir",
        backups,
        "--encrypt-to",
        str(right.to_public()),
        env=seeded,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    [archive] = _archives(tmp_path / "backups")
    assert archive.name.endswith(".age")

    no_key = run_cli("backup", "verify", str(archive), env=seeded, cwd=tmp_path)
    assert no_key.returncode == 2 and "--identity" in no_key.stderr
    wrong_key = run_cli(
        "backup", "verify", str(archive), "--identity", "wrong.key", env=seeded, cwd=tmp_path
    )
    assert wrong_key.returncode == 1
    assert "holds no key this archive was encrypted to" in wrong_key.stdout
    right_key = run_cli(
        "backup", "verify", str(archive), "-i", "right.key", env=seeded, cwd=tmp_path
    )
    assert right_key.returncode == 0, right_key.stdout
    bad = run_cli(
        "backup", "create", "--dir", backups, "--encrypt-to", "age1nope", env=seeded, cwd=tmp_path
    )
    assert bad.returncode == 2 and "not a valid recipient" in bad.stderr


def test_prune_is_a_dry_run_until_execute(tmp_path: Path) -> None:
    """Retention on a folder of 20 daily backups (made-up manifests: no database needed)."""
    folder = tmp_path / "backups"
    folder.mkdir()
    start = datetime.now(UTC) - timedelta(days=19)
    for offset in range(20):
        created = start + timedelta(days=offset)
        archive = folder / f"duespark-{created:%Y%m%dT%H%M%SZ}.sqlite3"
        archive.write_bytes(b"x")
        save(archive, _manifest(archive.name, created))
    orphan = folder / "duespark-20200101T000000Z.sqlite3"
    orphan.write_bytes(b"incomplete")
    environ = base_environ()
    args = [
        "backup",
        "prune",
        "--dir",
        str(folder),
        "--keep-daily",
        "3",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
    ]

    dry = run_cli(*args, env=environ, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would delete") == 17
    assert "Dry run: pass --execute" in dry.stdout
    assert f"skip    {orphan.name}" in dry.stdout
    assert len(_archives(folder)) == 21

    done = run_cli(*args, "--execute", env=environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("deleted") == 17
    remaining = _archives(folder)
    assert len(remaining) == 4 and orphan in remaining
    assert len(list(folder.glob("*.manifest.json"))) == 3


def _manifest(name: str, created: datetime) -> Manifest:
    return Manifest(
        backend="sqlite",
        created_at=created,
        duespark_version="0.1.0",
        schema_revision="0002",
        archive_name=name,
        archive_sha256="0" * 64,
        archive_size=1,
        encrypted=False,
        tables={"invoice": TableFingerprint(rows=1, hash="0" * 64)},
        fingerprint_method="test",
        verified=Verification(at=created + timedelta(minutes=5), ok=True),
    )
