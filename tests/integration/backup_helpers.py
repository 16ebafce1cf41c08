"""Shared by the backup tests: seeding, a concurrent writer, fingerprints of a restored copy."""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from duespark.db import Database
from duespark.models import Client, Invoice
from duespark.ops.backup import postgres, sqlite
from duespark.ops.backup.common import NullReporter, Step, sha256_file
from duespark.ops.backup.manifest import TableFingerprint, manifest_path
from duespark.ops.backup.pgtools import PgTarget
from tests.factories import add_client, add_user

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MARKER = "MARKER-7777777"


def seed(database: Database, invoices: int = 300) -> tuple[int, int]:
    """One account, one client whose notes carry :data:`MARKER`, and ``invoices`` invoices."""
    with database.session_scope() as session:
        user = add_user(session, now=T0)
        client = add_client(session, user, now=T0, notes=f"pays late; {MARKER}")
        session.flush()
        if invoices:
            session.execute(
                insert(Invoice),
                [invoice_row(user.id, client.id, f"INV-{index:05d}") for index in range(invoices)],
            )
        return user.id, client.id


def invoice_row(user_id: int, client_id: int, number: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "client_id": client_id,
        "number": number,
        "amount_minor": 125_000 + len(number),
        "currency": "USD",
        "issue_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 31),
        "status": "open",
        "notes": f"invoice {number}",
        "created_at": T0,
        "updated_at": T0,
    }


def seed_more_invoices(database: Database, count: int) -> None:
    """Invoices for the first client: data written after a backup."""
    with database.session_scope() as session:
        user_id, client_id = session.execute(select(Client.user_id, Client.id).limit(1)).one()
        session.execute(
            insert(Invoice),
            [invoice_row(user_id, client_id, f"MORE-{secrets.token_hex(4)}") for _ in range(count)],
        )


def count_invoices(database: Database) -> int:
    with database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Invoice)) or 0)


def table_key(database: Database, table: str) -> str:
    return table if database.url.startswith("sqlite") else f"public.{table}"


class Writer(threading.Thread):
    """Inserts invoices, one transaction each, until stopped: the application at work."""

    def __init__(self, database: Database, user_id: int, client_id: int) -> None:
        super().__init__(daemon=True)
        self.database, self.user_id, self.client_id = database, user_id, client_id
        self.inserted = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                with self.database.session_scope() as session:
                    session.execute(
                        insert(Invoice),
                        [invoice_row(self.user_id, self.client_id, f"LIVE-{self.inserted}")],
                    )
                self.inserted += 1
                time.sleep(0.002)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.inserted < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"writer stuck at {self.inserted} rows"
            time.sleep(0.005)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


class WritesDuringFingerprinting(NullReporter):
    """When ``create`` starts fingerprinting (the snapshot is taken, the dump is running),
    wait until the writer has committed more rows: rows the backup must not contain."""

    def __init__(self, writer: Writer) -> None:
        super().__init__()
        self.writer = writer
        self.rows_written_after_snapshot = 0

    def step(self, description: str, total: int | None = None) -> Step:
        if description == "fingerprint tables" and not self.rows_written_after_snapshot:
            before = self.writer.inserted
            self.writer.wait_for(before + 5)
            self.rows_written_after_snapshot = self.writer.inserted - before
        return super().step(description, total)


def restored_fingerprints(database_url: str, location: str) -> dict[str, TableFingerprint]:
    """Fingerprints of a restored copy, computed independently of ``restore``."""
    if database_url.startswith("sqlite"):
        tables, problems = sqlite.check_copy(Path(location), NullReporter())
        assert problems == []
        return tables
    target = PgTarget.from_url(database_url).with_database(location)
    return postgres.fingerprint_database(target, NullReporter())


def drop_restored(database_url: str, location: str) -> None:
    if database_url.startswith("sqlite"):
        Path(location).unlink(missing_ok=True)
    else:
        postgres.drop(PgTarget.from_url(database_url), location)


def edit_manifest(archive: Path, change: Any) -> None:
    """Rewrite the manifest JSON by hand (``change`` mutates the parsed document)."""
    path = manifest_path(archive)
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def recompute_checksum(archive: Path) -> None:
    """What an attacker or a buggy copy tool could do: make the manifest agree with the
    damaged file, so only the deeper checks remain."""

    def change(document: dict[str, Any]) -> None:
        document["archive"]["sha256"] = sha256_file(archive)
        document["archive"]["size"] = archive.stat().st_size

    edit_manifest(archive, change)
