"""Files that hold clients' data are private to the user who runs DueSpark.

The SQLite database (with its WAL and shared-memory files) and the development mail folder
are created owner-only, whatever the umask, like the key file and backups already are. The
database is created by the real ``duespark demo`` command, run with the common umask 022.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from duespark.db import build_engine
from duespark.email.local import FileSender
from duespark.email.message import EmailMessage, make_message_id
from tests.cli.conftest import DUESPARK, base_environ
from tests.conftest import TEST_SECRET_KEY


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def common_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_sqlite_database_and_its_wal_are_created_owner_only(
    tmp_path: Path, common_umask: None
) -> None:
    database = tmp_path / "data" / "duespark.db"
    database.parent.mkdir()
    environ = base_environ(DATABASE_URL=f"sqlite:///{database}", SECRET_KEY=TEST_SECRET_KEY)
    result = subprocess.run(
        [DUESPARK, "demo"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stderr
    assert mode(database) == 0o600

    # The WAL and shared-memory files exist while a connection is open.
    engine = build_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE user_account SET name = name"))
            wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
            assert wal.exists() and shm.exists()
            assert (mode(wal), mode(shm)) == (0o600, 0o600)
    finally:
        engine.dispose()


def test_an_existing_database_keeps_the_mode_its_operator_chose(
    tmp_path: Path, common_umask: None
) -> None:
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    engine = build_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
    assert mode(database) == 0o640


def test_the_development_mail_folder_and_its_messages_are_owner_only(
    tmp_path: Path, common_umask: None
) -> None:
    folder = tmp_path / "mail" / "outbox"
    message = EmailMessage(
        to="Hank Scorpio <accounts@globex.example>",
        subject="Invoice INV-0012 is due",
        text="Hello Hank, invoice INV-0012 for 1,250.00 EUR is due today.",
        html="<p>Hello Hank, invoice INV-0012 for 1,250.00 EUR is due today.</p>",
        from_address="Ada via DueSpark <reminders@duespark.example>",
        reply_to=None,
        message_id=make_message_id("reminder:12:0", "duespark.example"),
        headers={},
    )
    with FileSender(folder).connect() as connection:
        connection.send(message)
    files = list(folder.glob("*.eml"))
    assert len(files) == 1
    assert mode(folder) == 0o700
    assert mode(files[0]) == 0o600
