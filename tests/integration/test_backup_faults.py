"""Every injected fault fails ``backup verify``, on SQLite and PostgreSQL (0 false passes).

Each fault is aimed at one layer, and where an outer layer would catch it first the test
also recomputes the manifest's checksum, so the deeper layer must catch it on its own:

* truncated / one flipped byte: the sha256 and size in the manifest;
* truncated with the checksum recomputed: the restore itself (pg_restore
  ``--exit-on-error --single-transaction``; SQLite's reader and ``integrity_check``);
* one changed value with the checksum recomputed: only the per-table content hash. On
  PostgreSQL the dump is uncompressed (``-Z0``) so the value can be changed in place and
  the archive still restores cleanly with the same row counts (ops.md, section 2.1);
* manifest edited (row count, checksum): the comparison with the restored copy;
* wrong age identity, and a flipped ciphertext byte with the checksum recomputed: age's
  authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from duespark.db import Database
from duespark.ops.backup import BackupError, NullReporter
from duespark.ops.backup.common import Step
from duespark.ops.backup.create import Created, create_backup
from duespark.ops.backup.manifest import load, manifest_path
from duespark.ops.backup.verify import verify_backup
from tests.conftest import make_settings
from tests.integration.backup_helpers import (
    MARKER,
    edit_manifest,
    recompute_checksum,
    seed,
    table_key,
)


def _truncate(archive: Path) -> None:
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])


def _flip_middle_byte(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))


def _change_marker(archive: Path) -> None:
    data = archive.read_bytes()
    assert data.count(MARKER.encode()) == 1, "the marker must be stored exactly once"
    archive.write_bytes(data.replace(MARKER.encode(), MARKER[:-1].encode() + b"8"))


def _more_rows(table: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["tables"][table]["rows"] += 1

    return change


def _other_sha(document: dict[str, Any]) -> None:
    document["archive"]["sha256"] = "0" * 64


FAULTS: dict[str, tuple[str, str]] = {
    # fault -> (text the SQLite failure must contain, text the PostgreSQL one must contain)
    "truncated": ("truncated or replaced",) * 2,
    "flipped byte": ("does not match the manifest",) * 2,
    "truncated, checksum recomputed": ("database disk image is malformed", "pg_restore failed"),
    "changed value, checksum recomputed": ("content hash differs",) * 2,
    "manifest row count edited": ("rows restored, the manifest says",) * 2,
    "manifest sha256 edited": ("does not match the manifest",) * 2,
}


def _apply(fault: str, created: Created, database: Database) -> None:
    archive = created.archive
    if fault == "truncated":
        _truncate(archive)
    elif fault == "flipped byte":
        _flip_middle_byte(archive)
    elif fault == "truncated, checksum recomputed":
        _truncate(archive)
        recompute_checksum(archive)
    elif fault == "changed value, checksum recomputed":
        _change_marker(archive)
        recompute_checksum(archive)
    elif fault == "manifest row count edited":
        edit_manifest(archive, _more_rows(table_key(database, "invoice")))
    elif fault == "manifest sha256 edited":
        edit_manifest(archive, _other_sha)
    else:  # pragma: no cover
        raise AssertionError(fault)


@pytest.fixture
def backup(database: Database, tmp_path: Path) -> Created:
    seed(database, invoices=200)
    # Uncompressed on PostgreSQL, so the marker is findable in the dump; SQLite stores it as is.
    return create_backup(
        make_settings(database.url), tmp_path / "backups", NullReporter(), compression=0
    )


def test_an_untouched_archive_passes(database: Database, backup: Created) -> None:
    """The control: without a fault the same harness passes, so failures below mean
    something."""
    report = verify_backup(backup.archive, make_settings(database.url), NullReporter())
    assert report.ok, report.problems


@pytest.mark.parametrize("fault", list(FAULTS))
def test_injected_fault_fails_verification(fault: str, database: Database, backup: Created) -> None:
    _apply(fault, backup, database)
    report = verify_backup(backup.archive, make_settings(database.url), NullReporter())
    assert not report.ok
    message = " | ".join(report.problems)
    expected = FAULTS[fault][0 if database.url.startswith("sqlite") else 1]
    assert expected in message, message
    recorded = load(backup.archive).verified
    assert recorded is not None and recorded.ok is False
    assert recorded.problems == report.problems


class StepNames(NullReporter):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def step(self, description: str, total: int | None = None) -> Step:
        self.names.append(description)
        return super().step(description, total)


def test_truncation_is_caught_by_the_restore_itself(database: Database, backup: Created) -> None:
    """With a matching checksum the restore must fail, not quietly restore half, and on
    PostgreSQL leave no half-restored scratch database behind."""
    _truncate(backup.archive)
    recompute_checksum(backup.archive)
    reporter = StepNames()
    report = verify_backup(backup.archive, make_settings(database.url), reporter)
    assert not report.ok
    if database.url.startswith("sqlite"):
        assert "not a readable SQLite database" in report.problems[0], report.problems
        return
    assert report.problems[0].startswith("pg_restore failed (exit 1): "), report.problems
    assert "fingerprint tables" not in reporter.names  # nothing was compared
    [scratch] = [name.split()[-1] for name in reporter.names if name.startswith("pg_restore into")]
    assert scratch.startswith("duespark_verify_")
    assert scratch not in _databases(database).split()


def test_changed_value_passes_row_counts_but_not_the_hash(
    database: Database, backup: Created
) -> None:
    """Row counts alone would have accepted this archive."""
    _change_marker(backup.archive)
    recompute_checksum(backup.archive)
    report = verify_backup(backup.archive, make_settings(database.url), NullReporter())
    assert not report.ok
    client = table_key(database, "client")
    assert report.problems == [
        problem for problem in report.problems if problem.startswith(f"table {client}:")
    ]
    assert "same 1 rows" in report.problems[0]


def test_missing_manifest_fails(database: Database, backup: Created) -> None:
    manifest_path(backup.archive).unlink()
    with pytest.raises(BackupError, match="has no manifest"):
        verify_backup(backup.archive, make_settings(database.url), NullReporter())


@pytest.fixture
def encrypted(database: Database, tmp_path: Path) -> tuple[Created, Path, Path]:
    seed(database, invoices=50)
    right, wrong = x25519.Identity.generate(), x25519.Identity.generate()
    right_file, wrong_file = tmp_path / "right.key", tmp_path / "wrong.key"
    right_file.write_text(f"{right}\n")
    wrong_file.write_text(f"# created by the test\n{wrong}\n")
    created = create_backup(
        make_settings(database.url),
        tmp_path / "backups",
        NullReporter(),
        recipients=[str(right.to_public())],
    )
    return created, right_file, wrong_file


def test_wrong_identity_fails_with_a_clear_message(
    database: Database, encrypted: tuple[Created, Path, Path]
) -> None:
    created, _right, wrong = encrypted
    report = verify_backup(
        created.archive, make_settings(database.url), NullReporter(), identity=wrong
    )
    assert not report.ok
    assert report.problems == [
        f"cannot decrypt {created.archive.name}: the identity file holds no key this archive "
        "was encrypted to (wrong --identity?)"
    ]


def test_flipped_ciphertext_fails_authentication(
    database: Database, encrypted: tuple[Created, Path, Path]
) -> None:
    created, right, _wrong = encrypted
    _flip_middle_byte(created.archive)
    recompute_checksum(created.archive)
    report = verify_backup(
        created.archive, make_settings(database.url), NullReporter(), identity=right
    )
    assert not report.ok
    assert "cannot decrypt" in " | ".join(report.problems), report.problems


def test_truncated_ciphertext_fails_authentication(
    database: Database, encrypted: tuple[Created, Path, Path]
) -> None:
    created, right, _wrong = encrypted
    _truncate(created.archive)
    recompute_checksum(created.archive)
    report = verify_backup(
        created.archive, make_settings(database.url), NullReporter(), identity=right
    )
    assert not report.ok
    assert "cannot decrypt" in " | ".join(report.problems), report.problems


def _databases(database: Database) -> str:
    with database.engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
    return " ".join(names)
