"""``backup restore``: into a new database by default; over the live one only on request.

Restoring over a live database is the one step of the runbook that destroys data, so it
is fenced: the operator must name the database (``confirm``), the archive is restored and
checked *beside* the live database first, a safety backup of the live database is taken,
and only then is the restored copy swapped in (PostgreSQL: two renames in one
transaction; SQLite: the backup API writing every page in one transaction). A failure at
any step leaves the live database as it was and removes the half-made copy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from duespark.clock import utc_now
from duespark.config import Settings
from duespark.ops import migrations
from duespark.ops.backup import postgres, sqlite
from duespark.ops.backup.common import BackupError, BackupUsageError, Reporter
from duespark.ops.backup.create import backend_of, create_backup, live_sqlite_path
from duespark.ops.backup.fingerprint import compare
from duespark.ops.backup.manifest import Manifest, archive_path, load
from duespark.ops.backup.pgtools import MAX_NAME, PgTarget, database_exists
from duespark.ops.backup.verify import identities_for, plaintext, stored_problems


@dataclass
class Restored:
    database_url: str  # password hidden
    location: str  # the PostgreSQL database name or the SQLite file
    replaced: bool
    old_database: str | None = None  # PostgreSQL --replace: the previous database, kept
    safety_backup: Path | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def live_name(settings: Settings) -> str:
    """What the operator must retype to replace the live database."""
    if settings.is_sqlite:
        return live_sqlite_path(settings).name
    return PgTarget.from_url(settings.database_url).dbname


def _check_archive(
    archive: Path, manifest: Manifest, settings: Settings, reporter: Reporter
) -> None:
    if manifest.backend != backend_of(settings):
        raise BackupUsageError(
            f"{archive.name} is a {manifest.backend} backup but DATABASE_URL is "
            f"{backend_of(settings)}: restore it on a {manifest.backend} database"
        )
    problems = stored_problems(archive, manifest, reporter)
    if problems:
        raise BackupError("refusing to restore: " + "; ".join(problems))


def _schema_note(manifest: Manifest) -> list[str]:
    head = migrations.head_revision()
    if manifest.schema_revision is None or manifest.schema_revision == head:
        return []
    return [
        f"the backup's schema is at revision {manifest.schema_revision}, this DueSpark's "
        f"newest is {head}: run `duespark db upgrade` against the restored database"
    ]


def _mismatch(problems: list[str], where: str) -> BackupError:
    return BackupError(f"the restored {where} does not match the manifest: " + "; ".join(problems))


def restore_backup(
    path: Path,
    settings: Settings,
    reporter: Reporter,
    *,
    identity: Path | None = None,
    replace: bool = False,
    confirm: str | None = None,
    to: str | None = None,
    safety_directory: Path | None = None,
    safety_recipients: list[str] | None = None,
    now: datetime | None = None,
) -> Restored:
    """Restore ``path``; see the module docstring for what ``replace`` does."""
    started = time.monotonic()
    moment = now or utc_now()
    archive = archive_path(path).resolve()
    manifest = load(archive)
    identities = identities_for(manifest, identity)
    if replace:
        expected = live_name(settings)
        if confirm != expected:
            raise BackupUsageError(
                f"replacing the live database needs its name retyped exactly: {expected!r}"
                + ("" if confirm is None else f" (got {confirm!r})")
                + "; nothing was changed"
            )
        if to is not None:
            raise BackupUsageError("--to and --replace exclude each other")
    _check_archive(archive, manifest, settings, reporter)
    stamp = moment.strftime("%Y%m%d%H%M%S")
    with plaintext(archive, manifest, identities, reporter) as plain:
        if settings.is_sqlite:
            result = _restore_sqlite(plain, manifest, settings, reporter, replace, to, stamp)
        else:
            result = _restore_postgres(plain, manifest, settings, reporter, replace, to, stamp)
        if replace:
            try:
                safety = create_backup(
                    settings,
                    safety_directory or archive.parent,
                    reporter,
                    recipients=safety_recipients,
                    label="pre-restore",
                    now=moment,
                )
            except BaseException:
                result.discard()
                raise
            result.restored.safety_backup = safety.archive
            result.swap()
    result.restored.seconds = time.monotonic() - started
    result.restored.notes.extend(_schema_note(manifest))
    return result.restored


class _Pending:
    """A checked restored copy, waiting to be swapped in (or discarded)."""

    def __init__(self, restored: Restored) -> None:
        self.restored = restored

    def swap(self) -> None:
        return None

    def discard(self) -> None:
        return None


def _restore_sqlite(
    plain: Path,
    manifest: Manifest,
    settings: Settings,
    reporter: Reporter,
    replace: bool,
    to: str | None,
    stamp: str,
) -> _Pending:
    live = live_sqlite_path(settings)
    if replace:
        destination = live.with_name(f".{live.name}.restore-{stamp}.tmp")
    elif to is not None:
        destination = Path(to).resolve()
    else:
        destination = live.with_name(f"{live.stem}-restored-{stamp}{live.suffix or '.db'}")
    sqlite.restore_copy(plain, destination, reporter)
    tables, problems = sqlite.check_copy(destination, reporter)
    problems = problems or compare(manifest.tables, tables)
    if problems:
        destination.unlink(missing_ok=True)
        raise _mismatch(problems, "copy")
    restored = Restored(
        database_url=f"sqlite:///{live if replace else destination}",
        location=str(live if replace else destination),
        replaced=replace,
    )

    class Pending(_Pending):
        def swap(self) -> None:
            try:
                sqlite.replace_live(destination, live, reporter)
            finally:
                destination.unlink(missing_ok=True)

        def discard(self) -> None:
            destination.unlink(missing_ok=True)

    return Pending(restored)


def _restore_postgres(
    plain: Path,
    manifest: Manifest,
    settings: Settings,
    reporter: Reporter,
    replace: bool,
    to: str | None,
    stamp: str,
) -> _Pending:
    target = PgTarget.from_url(settings.database_url)
    live = target.dbname
    if replace:
        name = f"{live[: MAX_NAME - 23]}_restore_{stamp}"
    else:
        name = to or f"duespark_restore_{stamp}"
    if database_exists(target, name):
        raise BackupUsageError(f"database {name!r} already exists; choose another with --to")
    postgres.restore(target, plain, name, manifest.source, reporter, len(manifest.tables))
    restored_target = target.with_database(name)
    try:
        problems = compare(
            manifest.tables, postgres.fingerprint_database(restored_target, reporter)
        )
        problems += postgres.check_sequences(restored_target)
    except BaseException:
        postgres.drop(target, name)
        raise
    if problems:
        postgres.drop(target, name)
        raise _mismatch(problems, "database")
    old = f"{live[: MAX_NAME - 27]}_pre_restore_{stamp}"
    restored = Restored(
        database_url=target.describe(live if replace else name),
        location=live if replace else name,
        replaced=replace,
        old_database=old if replace else None,
    )

    class Pending(_Pending):
        def swap(self) -> None:
            try:
                postgres.swap(target, live, name, old, reporter)
            except BaseException:
                postgres.drop(target, name)
                raise

        def discard(self) -> None:
            postgres.drop(target, name)

    return Pending(restored)
