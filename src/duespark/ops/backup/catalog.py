"""The backup folder as a list (``backup list``) and its pruning (``backup prune``).

A backup is an archive with its manifest. Archives without a manifest (a crash during
``create``) and manifests that cannot be read are listed as problems and never deleted
by prune: they are outside what retention can reason about, so the operator decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from duespark.ops.backup.common import BackupError, fsync_directory, is_archive_name
from duespark.ops.backup.manifest import MANIFEST_SUFFIX, Manifest, load, manifest_path
from duespark.ops.backup.retention import BackupRecord, Plan, Policy, plan


@dataclass(frozen=True)
class Entry:
    archive: Path
    manifest: Manifest | None
    problem: str | None
    size: int | None

    @property
    def name(self) -> str:
        return self.archive.name


def scan(directory: Path) -> list[Entry]:
    """Every backup in ``directory``, oldest first, with the incomplete ones flagged."""
    if not directory.is_dir():
        return []
    entries: list[Entry] = []
    seen: set[str] = set()
    for manifest_file in sorted(directory.glob("*" + MANIFEST_SUFFIX)):
        archive = manifest_file.with_name(manifest_file.name.removesuffix(MANIFEST_SUFFIX))
        seen.add(archive.name)
        size = archive.stat().st_size if archive.is_file() else None
        try:
            manifest = load(archive) if archive.exists() else None
        except BackupError as exc:
            entries.append(Entry(archive, None, str(exc), size))
            continue
        problem = None if manifest is not None else "archive missing (manifest only)"
        entries.append(Entry(archive, manifest, problem, size))
    for archive in sorted(directory.iterdir()):
        if archive.name not in seen and is_archive_name(archive.name) and archive.is_file():
            entries.append(
                Entry(archive, None, "no manifest: incomplete backup", archive.stat().st_size)
            )
    return sorted(
        entries,
        key=lambda entry: (
            entry.manifest.created_at.isoformat() if entry.manifest else "",
            entry.name,
        ),
    )


def records(entries: list[Entry]) -> list[BackupRecord]:
    """What retention sees: only complete backups with a readable manifest."""
    result: list[BackupRecord] = []
    for entry in entries:
        if entry.manifest is None or entry.problem is not None:
            continue
        verified = entry.manifest.verified
        result.append(
            BackupRecord(
                name=entry.name,
                created_at=entry.manifest.created_at,
                verified_at=verified.at if verified else None,
                verified_ok=verified.ok if verified else None,
            )
        )
    return result


@dataclass(frozen=True)
class Pruned:
    plan: Plan
    deleted: list[str]
    skipped: list[Entry]  # incomplete or unreadable: left for the operator


def prune(directory: Path, policy: Policy, now: datetime, *, execute: bool) -> Pruned:
    """Apply retention; delete (archive first, then manifest) only when ``execute``."""
    entries = scan(directory)
    decided = plan(records(entries), now, policy)
    deleted: list[str] = []
    if execute and decided.blocked is None:
        for name in decided.delete:
            archive = directory / name
            archive.unlink(missing_ok=True)
            manifest_path(archive).unlink(missing_ok=True)
            deleted.append(name)
        if deleted:
            fsync_directory(directory)
    skipped = [entry for entry in entries if entry.manifest is None or entry.problem]
    return Pruned(decided, deleted, skipped)
