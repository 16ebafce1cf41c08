"""``backup create``: archive, fingerprints from the same snapshot, checksum, manifest.

Order matters for what a crash can leave behind: the archive is written under a hidden
``.partial`` name, renamed into place, and only then is the manifest written. A backup
with a manifest is therefore always complete; an archive without one is reported by
``backup list`` as incomplete and never trusted.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from duespark import __version__
from duespark.clock import utc_now
from duespark.config import Settings
from duespark.ops.backup import postgres, sqlite
from duespark.ops.backup.common import (
    BackupError,
    BackupUsageError,
    Reporter,
    fsync_directory,
    fsync_file,
    private_temporary_directory,
    reserve_archive_path,
    sha256_file,
    step,
)
from duespark.ops.backup.encryption import encrypt_file, parse_recipients
from duespark.ops.backup.fingerprint import METHOD_POSTGRES, METHOD_SQLITE
from duespark.ops.backup.manifest import Manifest, save
from duespark.ops.backup.pgtools import PgTarget


@dataclass(frozen=True)
class Created:
    archive: Path
    manifest: Manifest


def backend_of(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


def live_sqlite_path(settings: Settings) -> Path:
    """The SQLite file as an absolute path (the original DueSpark stripped the leading
    slash of absolute paths and backed up the wrong file)."""
    path = settings.sqlite_path
    if path is None:
        raise BackupUsageError("an in-memory SQLite database cannot be backed up or restored")
    return path.resolve()


def create_backup(
    settings: Settings,
    directory: Path,
    reporter: Reporter,
    *,
    recipients: list[str] | None = None,
    label: str = "manual",
    now: datetime | None = None,
    compression: int | None = None,
) -> Created:
    """Back up the configured database into ``directory``.

    ``compression`` is pg_dump's ``--compress`` level (None: its default). Tests use 0 so
    that a value can be changed inside the dump and only the content hash can notice.
    """
    recipient_keys = parse_recipients(recipients or [])
    encrypting = bool(recipient_keys)
    directory = directory.resolve()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # backups hold every row
    except OSError as exc:
        raise BackupError(f"cannot use {directory} for backups: {exc.strerror or exc}") from None
    created_at = now or utc_now()
    started = time.monotonic()
    backend = backend_of(settings)
    extension = "sqlite3" if backend == "sqlite" else "pgdump"
    archive = reserve_archive_path(
        directory, created_at, extension + (".age" if encrypting else "")
    )
    partial = directory / f".{archive.name}.partial"
    work = private_temporary_directory() if encrypting else None
    plain = (work / f"archive.{extension}") if work is not None else partial
    try:
        if backend == "sqlite":
            source = live_sqlite_path(settings)
            tables, revision = sqlite.snapshot(source, plain, reporter)
            origin = {"database": str(source), "sqlite_version": sqlite3.sqlite_version}
            tools = {"sqlite": sqlite3.sqlite_version}
            method = METHOD_SQLITE
        else:
            target = PgTarget.from_url(settings.database_url)
            dumped = postgres.dump(target, plain, reporter, compression=compression)
            tables, revision, origin, tools = (
                dumped.tables,
                dumped.schema_revision,
                dumped.source,
                dumped.tools,
            )
            method = METHOD_POSTGRES
        if encrypting:
            with step(reporter, "encrypt (age)"):
                encrypt_file(plain, partial, recipient_keys)
        os.chmod(partial, 0o600)  # pg_dump and sqlite3 create files with the umask's mode
        fsync_file(partial)
        checksum = sha256_file(partial, reporter, archive.name)
        size = partial.stat().st_size
        os.replace(partial, archive)
        fsync_directory(directory)
        manifest = Manifest(
            backend=backend,
            created_at=created_at,
            duespark_version=__version__,
            schema_revision=revision,
            archive_name=archive.name,
            archive_sha256=checksum,
            archive_size=size,
            encrypted=encrypting,
            recipients=[str(key) for key in recipient_keys],
            tables=tables,
            fingerprint_method=method,
            source=origin,
            tools=tools,
            label=label,
            duration_seconds=time.monotonic() - started,
        )
        save(archive, manifest)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        archive.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BackupError(
                f"cannot write the backup in {directory}: {exc.strerror or exc} "
                "(is the disk full?); nothing was kept"
            ) from None
        raise
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return Created(archive, manifest)
