"""The manifest: a JSON file beside each archive that says what the archive must contain.

It is written last (an archive without one is incomplete) and holds everything ``verify``
needs to prove the archive right without trusting it: the stored file's sha256 and size,
and each table's row count and content hash taken from the very snapshot that was dumped.
``verify`` adds a ``verified`` record; ``prune`` reads it. Named ``<archive>.manifest.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from duespark.ops.backup.common import (
    BackupError,
    BackupUsageError,
    atomic_write_text,
    isoformat,
    parse_isoformat,
)

FORMAT = "duespark-backup"
FORMAT_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
BACKENDS = ("postgresql", "sqlite")


@dataclass(frozen=True)
class TableFingerprint:
    """A table's row count and a hash of its content (see ``fingerprint.py``)."""

    rows: int
    hash: str


@dataclass(frozen=True)
class Verification:
    """The outcome of the latest ``backup verify``: prune relies on it."""

    at: datetime
    ok: bool
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    duespark_version: str = ""


@dataclass(frozen=True)
class Manifest:
    backend: str
    created_at: datetime
    duespark_version: str
    schema_revision: str | None
    archive_name: str
    archive_sha256: str
    archive_size: int
    encrypted: bool
    tables: dict[str, TableFingerprint]
    fingerprint_method: str
    recipients: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    label: str = "manual"
    duration_seconds: float = 0.0
    verified: Verification | None = None

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables.values())

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "backend": self.backend,
            "created_at": isoformat(self.created_at),
            "label": self.label,
            "duespark_version": self.duespark_version,
            "schema_revision": self.schema_revision,
            "source": self.source,
            "tools": self.tools,
            "duration_seconds": round(self.duration_seconds, 3),
            "archive": {
                "name": self.archive_name,
                "sha256": self.archive_sha256,
                "size": self.archive_size,
                "encrypted": self.encrypted,
                "recipients": self.recipients,
            },
            "fingerprint_method": self.fingerprint_method,
            "tables": {
                name: {"rows": table.rows, "hash": table.hash}
                for name, table in sorted(self.tables.items())
            },
            "verified": None
            if self.verified is None
            else {
                "at": isoformat(self.verified.at),
                "ok": self.verified.ok,
                "problems": self.verified.problems,
                "checks": self.verified.checks,
                "duespark_version": self.verified.duespark_version,
            },
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str = "manifest") -> Manifest:
        try:
            document = json.loads(text)
            if document.get("format") != FORMAT:
                raise ValueError(
                    f"not a DueSpark backup manifest (format {document.get('format')!r})"
                )
            if document.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"manifest format version {document.get('format_version')!r} is not "
                    f"supported by this DueSpark (it reads version {FORMAT_VERSION})"
                )
            if document["backend"] not in BACKENDS:
                raise ValueError(f"unknown backend {document['backend']!r}")
            archive = document["archive"]
            verified = document.get("verified")
            return cls(
                backend=document["backend"],
                created_at=parse_isoformat(document["created_at"]),
                label=str(document.get("label", "manual")),
                duespark_version=str(document["duespark_version"]),
                schema_revision=document.get("schema_revision"),
                source=dict(document.get("source") or {}),
                tools=dict(document.get("tools") or {}),
                duration_seconds=float(document.get("duration_seconds", 0.0)),
                archive_name=str(archive["name"]),
                archive_sha256=str(archive["sha256"]),
                archive_size=int(archive["size"]),
                encrypted=bool(archive["encrypted"]),
                recipients=[str(item) for item in archive.get("recipients", [])],
                fingerprint_method=str(document["fingerprint_method"]),
                tables={
                    str(name): TableFingerprint(rows=int(table["rows"]), hash=str(table["hash"]))
                    for name, table in document["tables"].items()
                },
                verified=None
                if verified is None
                else Verification(
                    at=parse_isoformat(verified["at"]),
                    ok=bool(verified["ok"]),
                    problems=[str(item) for item in verified.get("problems", [])],
                    checks=[str(item) for item in verified.get("checks", [])],
                    duespark_version=str(verified.get("duespark_version", "")),
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{origin} is not a valid backup manifest: {exc}") from None


def manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


def archive_path(path: Path) -> Path:
    """Accept either the archive or its manifest on the command line."""
    if path.name.endswith(MANIFEST_SUFFIX):
        return path.with_name(path.name.removesuffix(MANIFEST_SUFFIX))
    return path


def load(archive: Path) -> Manifest:
    """The manifest of ``archive``; an archive without one cannot be trusted or verified."""
    path = manifest_path(archive)
    if not path.exists():
        if not archive.exists():
            raise BackupUsageError(f"no backup at {archive}")
        raise BackupError(
            f"{archive.name} has no manifest ({path.name}): the backup is incomplete or the "
            "manifest was lost, so there are no fingerprints to verify it against"
        )
    manifest = Manifest.from_json(path.read_text(encoding="utf-8"), origin=path.name)
    if manifest.archive_name != archive.name:
        raise BackupError(
            f"{path.name} describes {manifest.archive_name}, not {archive.name}: "
            "the manifest was copied or renamed"
        )
    return manifest


def save(archive: Path, manifest: Manifest) -> None:
    atomic_write_text(manifest_path(archive), manifest.to_json())


def record_verification(archive: Path, verification: Verification) -> Manifest:
    """Store the outcome of a verification in the manifest (re-read first: the archive's
    manifest may have been rewritten since it was loaded)."""
    updated = replace(load(archive), verified=verification)
    save(archive, updated)
    return updated
