"""What every backup step shares: errors, progress reporting, checksums and safe file writes.

Progress is a small protocol rather than Rich itself, so the library stays usable (and
testable) without a terminal: the CLI passes a Rich implementation, tests pass
:class:`NullReporter` or one that records what happened.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
ARCHIVE_PREFIX = "duespark-"
_ARCHIVE_NAME = re.compile(r"^duespark-(\d{8}T\d{6}Z)(?:_(\d+))?\.(pgdump|sqlite3)(\.age)?$")

Advance = Callable[[int], None]


class BackupError(Exception):
    """The operation failed or found a problem (exit code 1): nothing was changed that
    the message does not mention."""


class BackupUsageError(BackupError):
    """The request cannot be carried out as given (exit code 2): a missing identity file,
    an archive of the other backend, a confirmation that does not match."""


class Reporter(Protocol):
    """Where long steps report progress and notices go."""

    def step(self, description: str, total: int | None = None) -> Step: ...

    def note(self, message: str) -> None: ...


class Step(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def close(self) -> None: ...


class _NullStep:
    def advance(self, amount: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


class NullReporter:
    """Reports nothing; collects notices so callers (and tests) can still read them."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def step(self, description: str, total: int | None = None) -> Step:
        return _NullStep()

    def note(self, message: str) -> None:
        self.notes.append(message)


@contextmanager
def step(reporter: Reporter, description: str, total: int | None = None) -> Iterator[Step]:
    """A progress step that is closed however the work inside ends."""
    handle = reporter.step(description, total)
    try:
        yield handle
    finally:
        handle.close()


def sha256_file(path: Path, reporter: Reporter | None = None, label: str | None = None) -> str:
    """The hex sha256 of a file, read in chunks (archives can be larger than memory)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as handle:
        if reporter is None:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        else:
            with step(reporter, f"sha256 {label or path.name}", size) as progress:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
                    progress.advance(len(chunk))
    return digest.hexdigest()


def fsync_directory(directory: Path) -> None:
    """Make a rename durable: the new directory entry must reach the disk too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a manifest."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_isoformat(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return value.astimezone(UTC)


def reserve_archive_path(directory: Path, moment: datetime, extension: str) -> Path:
    """Claim a new, sortable archive name (``duespark-20261128T101500Z.pgdump``).

    The name is created empty with O_EXCL, so two backups started in the same second get
    ``_2``, ``_3``... (which sort after the first) instead of overwriting each other.
    ``extension`` is the final one (``pgdump.age`` for an encrypted PostgreSQL dump).
    """
    stamp = format_timestamp(moment)
    for counter in range(1, 1000):
        stem = f"{ARCHIVE_PREFIX}{stamp}" + ("" if counter == 1 else f"_{counter}")
        if any(directory.glob(f"{stem}.*")):
            continue
        candidate = directory / f"{stem}.{extension}"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise BackupError(f"cannot find a free archive name in {directory}")


def is_archive_name(name: str) -> bool:
    return _ARCHIVE_NAME.match(name) is not None


def private_temporary_directory(parent: Path | None = None) -> Path:
    """A directory only this user can read: decrypted archives are plaintext."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="duespark-backup-", dir=parent))


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover
