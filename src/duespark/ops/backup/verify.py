"""``backup verify``: prove an archive restores to exactly what was backed up.

Each layer catches what the others cannot: the sha256 and size catch storage rot and
truncation before anything is read; age's authenticated chunks catch tampering and the
wrong key; a full restore (``--exit-on-error --single-transaction``, or the SQLite backup
API plus ``PRAGMA integrity_check``) catches an archive that cannot be read; the per-table
count and content hash catch data that restores cleanly but differs; ``pg_amcheck`` checks
the restored heap and indexes. Every outcome is recorded in the manifest for ``prune``.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from duespark import __version__
from duespark.clock import utc_now
from duespark.config import Settings
from duespark.ops.backup import postgres, sqlite
from duespark.ops.backup.common import (
    BackupError,
    BackupUsageError,
    Reporter,
    private_temporary_directory,
    sha256_file,
    step,
)
from duespark.ops.backup.encryption import decrypt_file, load_identities
from duespark.ops.backup.fingerprint import compare
from duespark.ops.backup.manifest import (
    Manifest,
    Verification,
    archive_path,
    load,
    record_verification,
)
from duespark.ops.backup.pgtools import PgTarget


@dataclass
class VerifyReport:
    archive: Path
    manifest: Manifest
    ok: bool
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def stored_problems(archive: Path, manifest: Manifest, reporter: Reporter) -> list[str]:
    """The stored file against the manifest: present, same size, same sha256."""
    if not archive.is_file():
        return [f"{archive.name} is missing"]
    size = archive.stat().st_size
    if size != manifest.archive_size:
        return [
            f"{archive.name} is {size} bytes, the manifest says {manifest.archive_size}: "
            "the archive was truncated or replaced"
        ]
    checksum = sha256_file(archive, reporter)
    if checksum != manifest.archive_sha256:
        return [
            f"{archive.name}: sha256 {checksum[:16]}... does not match the manifest's "
            f"{manifest.archive_sha256[:16]}...: the archive was altered or damaged"
        ]
    return []


def identities_for(manifest: Manifest, identity: Path | None) -> list[Any] | None:
    if not manifest.encrypted:
        return None
    if identity is None:
        raise BackupUsageError(
            f"{manifest.archive_name} is encrypted: pass --identity FILE (an age identity file)"
        )
    return load_identities(identity)


@contextmanager
def plaintext(
    archive: Path, manifest: Manifest, identities: list[Any] | None, reporter: Reporter
) -> Iterator[Path]:
    """The archive itself, or a decrypted copy in a private temporary folder (removed
    afterwards: it is plaintext)."""
    if not manifest.encrypted:
        yield archive
        return
    assert identities is not None
    work = private_temporary_directory()
    try:
        decrypted = work / archive.name.removesuffix(".age")
        with step(reporter, "decrypt (age)"):
            decrypt_file(archive, decrypted, identities)
        yield decrypted
    finally:
        shutil.rmtree(work, ignore_errors=True)


def require_backend(manifest: Manifest, settings: Settings | None) -> PgTarget | None:
    """PostgreSQL archives are restored on the configured server; SQLite ones need none."""
    if manifest.backend == "sqlite":
        return None
    if settings is None or settings.is_sqlite:
        raise BackupUsageError(
            f"{manifest.archive_name} is a PostgreSQL backup: set DATABASE_URL to a "
            "PostgreSQL server to restore it on (a scratch database is created there)"
        )
    return PgTarget.from_url(settings.database_url)


def _verify_sqlite(
    plain: Path, manifest: Manifest, reporter: Reporter, report: VerifyReport
) -> None:
    work = private_temporary_directory()
    try:
        scratch = work / "scratch.sqlite3"
        sqlite.restore_copy(plain, scratch, reporter)
        tables, problems = sqlite.check_copy(scratch, reporter)
        report.problems.extend(problems)
        if not problems:
            report.checks.append("PRAGMA integrity_check: ok")
        if tables or not problems:
            report.problems.extend(compare(manifest.tables, tables))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _verify_postgres(
    target: PgTarget, plain: Path, manifest: Manifest, reporter: Reporter, report: VerifyReport
) -> None:
    name = f"duespark_verify_{utc_now().strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"
    postgres.restore(target, plain, name, manifest.source, reporter, len(manifest.tables))
    report.checks.append("pg_restore --exit-on-error --single-transaction: ok")
    scratch = target.with_database(name)
    try:
        tables = postgres.fingerprint_database(scratch, reporter)
        report.problems.extend(compare(manifest.tables, tables))
        report.problems.extend(postgres.check_sequences(scratch))
        check, problems = postgres.amcheck(scratch, reporter)
        report.checks.append(check)
        report.problems.extend(problems)
    finally:
        postgres.drop(target, name)


def verify_backup(
    path: Path,
    settings: Settings | None,
    reporter: Reporter,
    *,
    identity: Path | None = None,
    now: datetime | None = None,
    record: bool = True,
) -> VerifyReport:
    """Verify one archive; the result is recorded in its manifest unless ``record`` is
    false. Usage problems (no identity for an encrypted archive, no PostgreSQL server)
    raise :class:`BackupUsageError` and record nothing: the archive was not examined."""
    archive = archive_path(path).resolve()
    manifest = load(archive)
    identities = identities_for(manifest, identity)
    target = require_backend(manifest, settings)
    report = VerifyReport(archive, manifest, ok=False)
    try:
        report.problems.extend(stored_problems(archive, manifest, reporter))
        if not report.problems:
            report.checks.append("size and sha256: ok")
            with plaintext(archive, manifest, identities, reporter) as plain:
                if manifest.encrypted:
                    report.checks.append("age decryption and authentication: ok")
                if target is None:
                    _verify_sqlite(plain, manifest, reporter, report)
                else:
                    _verify_postgres(target, plain, manifest, reporter, report)
            if not report.problems:
                report.checks.append(
                    f"{len(manifest.tables)} tables, {manifest.total_rows} rows: counts and "
                    "content hashes match"
                )
    except BackupError as exc:
        report.problems.append(str(exc))
    report.ok = not report.problems
    if record:
        report.manifest = record_verification(
            archive,
            Verification(
                at=now or utc_now(),
                ok=report.ok,
                problems=report.problems,
                checks=report.checks,
                duespark_version=__version__,
            ),
        )
    return report
