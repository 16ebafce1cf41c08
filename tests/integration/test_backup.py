"""Backups end to end on SQLite and PostgreSQL: a round trip while the application keeps
writing, restores into new databases, encryption, and the password kept off command lines.

Fault injection (every damaged archive must fail ``verify``) is in test_backup_faults.py.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519
from sqlalchemy import insert

from duespark.db import Database
from duespark.models import Client, Invoice, User
from duespark.ops.backup import BackupUsageError, NullReporter, postgres
from duespark.ops.backup.create import create_backup
from duespark.ops.backup.manifest import load, manifest_path
from duespark.ops.backup.pgtools import PgTarget
from duespark.ops.backup.restore import restore_backup
from duespark.ops.backup.verify import verify_backup
from tests import postgres as test_postgres
from tests.conftest import make_settings
from tests.integration.backup_helpers import (
    MARKER,
    T0,
    Writer,
    WritesDuringFingerprinting,
    count_invoices,
    drop_restored,
    invoice_row,
    restored_fingerprints,
    seed,
    table_key,
)

SEEDED_INVOICES = 2000


def _new_location(database: Database, tmp_path: Path) -> str:
    if database.url.startswith("sqlite"):
        return str(tmp_path / f"restored-{secrets.token_hex(3)}.db")
    return f"duespark_test_restored_{secrets.token_hex(4)}"


def test_round_trip_under_concurrent_writes_matches_the_snapshot(
    database: Database, tmp_path: Path
) -> None:
    user_id, client_id = seed(database, invoices=SEEDED_INVOICES)
    settings = make_settings(database.url)
    writer = Writer(database, user_id, client_id)
    writer.start()
    try:
        writer.wait_for(20)  # the application is busy before the backup starts...
        reporter = WritesDuringFingerprinting(writer)  # ...and commits while it runs
        created = create_backup(settings, tmp_path / "backups", reporter)
        writer.wait_for(writer.inserted + 5)  # ...and after it
    finally:
        writer.stop()
    assert writer.error is None
    assert reporter.rows_written_after_snapshot >= 5

    backed_up = created.manifest.tables[table_key(database, "invoice")].rows
    live = count_invoices(database)
    # Rows committed before the snapshot are in the backup, those committed after are not.
    assert SEEDED_INVOICES + 20 <= backed_up <= live - reporter.rows_written_after_snapshot

    report = verify_backup(created.archive, settings, NullReporter())
    assert report.ok, report.problems
    assert load(created.archive).verified is not None
    assert load(created.archive).verified.ok is True  # type: ignore[union-attr]
    integrity = "PRAGMA integrity_check: ok" if settings.is_sqlite else "pg_amcheck"
    assert any(check.startswith(integrity) for check in report.checks), report.checks

    location = _new_location(database, tmp_path)
    restored = restore_backup(created.archive, settings, NullReporter(), to=location)
    try:
        assert restored.location.endswith(location)
        fingerprints = restored_fingerprints(database.url, restored.location)
        assert fingerprints == created.manifest.tables
        assert fingerprints[table_key(database, "invoice")].rows == backed_up
    finally:
        drop_restored(database.url, restored.location)


def test_restore_into_a_new_database_leaves_the_live_one_alone(
    database: Database, tmp_path: Path
) -> None:
    seed(database, invoices=50)
    settings = make_settings(database.url)
    created = create_backup(settings, tmp_path / "backups", NullReporter())
    seed_more(database)
    live_before = count_invoices(database)

    location = _new_location(database, tmp_path)
    restored = restore_backup(created.archive, settings, NullReporter(), to=location)
    try:
        assert not restored.replaced
        assert count_invoices(database) == live_before == 51
        assert restored_fingerprints(database.url, restored.location) == created.manifest.tables
        if settings.is_sqlite:
            assert restored.database_url == f"sqlite:///{restored.location}"
        else:
            assert restored.database_url.endswith("/" + location)
        with pytest.raises(BackupUsageError, match="already exists"):
            restore_backup(created.archive, settings, NullReporter(), to=location)
    finally:
        drop_restored(database.url, restored.location)


def seed_more(database: Database) -> tuple[int, int]:
    """A second account with one invoice: data written after the backup."""
    with database.session_scope() as session:
        user = User(
            email="grace@compilers.example",
            password_hash="x",
            name="Grace Hopper",
            time_zone="UTC",
            created_at=T0,
            updated_at=T0,
        )
        session.add(user)
        session.flush()
        client = Client(
            user_id=user.id,
            name="Navy",
            email="a@navy.example",
            time_zone="UTC",
            default_currency="USD",
            created_at=T0,
            updated_at=T0,
        )
        session.add(client)
        session.flush()
        session.execute(insert(Invoice), [invoice_row(user.id, client.id, "LATE-1")])
        return user.id, client.id


def test_encrypted_archive_holds_no_plaintext_and_needs_the_identity(
    database: Database, tmp_path: Path
) -> None:
    seed(database, invoices=20)
    settings = make_settings(database.url)
    identity = x25519.Identity.generate()
    identity_file = tmp_path / "backup.key"
    identity_file.write_text(f"# public key: {identity.to_public()}\n{identity}\n")

    created = create_backup(
        settings, tmp_path / "backups", NullReporter(), recipients=[str(identity.to_public())]
    )
    assert created.archive.name.endswith(".age")
    assert created.archive.stat().st_mode & 0o777 == 0o600
    stored = created.archive.read_bytes()
    assert stored.startswith(b"age-encryption.org/v1")
    assert MARKER.encode() not in stored
    assert MARKER not in manifest_path(created.archive).read_text()
    assert [path.name for path in created.archive.parent.iterdir() if "partial" in path.name] == []

    with pytest.raises(BackupUsageError, match="--identity"):
        verify_backup(created.archive, settings, NullReporter())
    assert load(created.archive).verified is None  # a usage error examines nothing

    report = verify_backup(created.archive, settings, NullReporter(), identity=identity_file)
    assert report.ok, report.problems
    assert "age decryption and authentication: ok" in report.checks


def test_unencrypted_archive_is_the_data_itself(database: Database, tmp_path: Path) -> None:
    """The control for the test above: the marker is findable when not encrypted."""
    seed(database, invoices=5)
    created = create_backup(
        make_settings(database.url), tmp_path / "backups", NullReporter(), compression=0
    )
    assert MARKER.encode() in created.archive.read_bytes()
    assert created.archive.stat().st_mode & 0o777 == 0o600  # readable by its owner only


def test_two_backups_in_one_second_get_distinct_names(database: Database, tmp_path: Path) -> None:
    settings = make_settings(database.url)
    first = create_backup(settings, tmp_path, NullReporter(), now=T0)
    second = create_backup(settings, tmp_path, NullReporter(), now=T0)
    assert first.archive != second.archive
    assert first.archive.name < second.archive.name  # still sorts by time, then order
    assert verify_backup(second.archive, settings, NullReporter()).ok


@pytest.mark.postgresql
def test_password_travels_in_the_environment_not_on_the_command_line(
    postgres_admin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original passed DATABASE_URL, password included, to pg_dump's command line."""
    name = test_postgres.create_database(postgres_admin_url, "duespark_test_pw")
    seen: list[tuple[list[str], dict[str, str]]] = []
    real = postgres.ToolRun

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, args: list[str], environ: dict[str, str], **kwargs: Any) -> None:
            seen.append((list(args), dict(environ)))
            super().__init__(args, environ, **kwargs)

    monkeypatch.setattr(postgres, "ToolRun", Recording)
    url = test_postgres.database_url(postgres_admin_url, name).replace(
        "postgres@", "postgres:hunter2secret@"
    )
    try:  # the test server trusts loopback, so the password is carried but not needed
        created = create_backup(make_settings(url), tmp_path, NullReporter())
        assert verify_backup(created.archive, make_settings(url), NullReporter()).ok
    finally:
        test_postgres.drop_database(postgres_admin_url, name)
    assert {Path(args[0]).name for args, _ in seen} >= {"pg_dump", "pg_restore"}
    for args, environ in seen:
        assert not any("hunter2secret" in arg for arg in args), args
        assert environ["PGPASSWORD"] == "hunter2secret"
    assert "hunter2secret" not in manifest_path(created.archive).read_text()


def test_a_sequence_behind_its_column_is_reported(database: Database) -> None:
    """A restored database whose id sequence lags would fail its first insert; verify and
    restore check every owned sequence against its column's largest value."""
    if database.url.startswith("sqlite"):
        pytest.skip("SQLite has no sequences (rowids follow the data)")
    seed(database, invoices=10)
    target = PgTarget.from_url(database.url)
    assert postgres.check_sequences(target) == []
    with database.engine.begin() as connection:
        connection.exec_driver_sql("SELECT setval('invoice_id_seq', 3)")
    try:
        problems = postgres.check_sequences(target)
    finally:
        with database.engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT setval('invoice_id_seq', (SELECT max(id) FROM invoice))"
            )
    assert len(problems) == 1
    assert problems[0].startswith("sequence invoice_id_seq would next give 4, but invoice.id")
