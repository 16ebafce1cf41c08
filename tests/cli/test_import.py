"""``duespark import invoices`` through the real command, on both databases: counts and a
progress bar, bad rows listed with their lines, exit codes, the account chosen without
``--user``, and a 100,000-row file."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from duespark.db import Database
from duespark.models import Client, Invoice, InvoiceActivity, User
from tests.api.test_invoice_import import HEADER, SPREADSHEET, csv_file
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY
from tests.factories import add_client, add_user

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def account(database: Database) -> str:
    """Ada's account (Europe/London) with her client Globex; returns her email."""
    with database.session_scope() as session:
        user = add_user(session, now=NOW)
        add_client(session, user, now=NOW, name="Globex Corporation")
        return user.email


def run_import(
    database: Database, cwd: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environ = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY)
    return run_cli("import", "invoices", *args, env=environ, cwd=cwd, timeout=timeout)


def numbers(database: Database) -> set[str]:
    with database.session_scope() as session:
        return set(session.scalars(select(Invoice.number)))


def client_emails(database: Database) -> set[str]:
    with database.session_scope() as session:
        return set(session.scalars(select(Client.email)))


def test_a_file_imports_with_counts_and_progress(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes(SPREADSHEET)
    first = run_import(database, tmp_path, str(path), "--user", account.upper())
    assert first.returncode == 0, first.stderr
    assert "Imported: 5 invoice(s) created, 0 unchanged, 2 client(s) created." in first.stdout
    # The bar starts at 0% and is moved only by the import's progress calls (see
    # test_progress_is_reported_after_every_batch_as_it_goes): 100% means they reached the
    # end of the file.
    assert "Importing" in first.stderr and "100%" in first.stderr
    assert numbers(database) == {"E-1", "E-2", "E-3", "E-4", "E-5"}
    assert client_emails(database) == {
        "accounts@globex.example",
        "hello@initech.example",
        "bill@umbrella.example",
    }

    again = run_import(database, tmp_path, str(path), "--user", account)
    assert again.returncode == 0, again.stderr
    assert "Imported: 0 invoice(s) created, 5 unchanged, 0 client(s) created." in again.stdout
    assert len(numbers(database)) == 5


BAD = csv_file(
    "G-1,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,",
    'B-1,accounts@globex.example,,"1,250.00",,2001-01-01,2001-01-31,open,,,',
    "G-2,accounts@globex.example,,2.00,,2001-01-01,2001-01-31,open,,,",
    "B-2,new@acme.example,,2.00,EUR,2001-01-01,2001-01-31,open,,,",
)


def test_bad_rows_are_listed_and_nothing_is_written(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD)
    result = run_import(database, tmp_path, str(path), "--user", account)
    assert result.returncode == 1
    assert "line 3, amount: must be written with a dot" in result.stderr
    assert "line 5, client_name: required: no client has the email new@acme.example" in (
        result.stderr
    )
    assert "2 rows are invalid; nothing was imported." in result.stderr
    assert "Imported" not in result.stdout
    assert numbers(database) == set()


def test_skip_invalid_imports_the_good_rows_and_still_says_so(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD)
    result = run_import(database, tmp_path, str(path), "--user", account, "--skip-invalid")
    assert result.returncode == 1
    assert "2 invoice(s) created, 0 unchanged, 0 client(s) created, 2 bad row(s) skipped" in (
        result.stdout
    )
    assert "line 3, amount" in result.stderr and "line 5, client_name" in result.stderr
    assert numbers(database) == {"G-1", "G-2"}
    assert client_emails(database) == {"accounts@globex.example"}


def test_an_unreadable_file_names_the_columns(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes(csv_file("1,a@example.com,1,2150-01-31", header="nr,email,amount,due"))
    result = run_import(database, tmp_path, str(path), "--user", account, "--skip-invalid")
    assert result.returncode == 1
    assert 'line 1, nr: unknown column "nr"' in result.stderr
    assert "The columns are: number, client_email, client_name, amount" in result.stderr


def test_usage_errors_exit_2_and_change_nothing(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes(SPREADSHEET)
    unknown = run_import(database, tmp_path, str(path), "--user", "nobody@example.com")
    assert unknown.returncode == 2 and "no user with the email address" in unknown.stderr
    missing = run_import(database, tmp_path, str(tmp_path / "nope.csv"), "--user", account)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert run_import(database, tmp_path, str(tmp_path), "--user", account).returncode == 2
    assert numbers(database) == set()


def test_without_user_the_only_account_is_the_one(
    database: Database, account: str, tmp_path: Path
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes(SPREADSHEET)
    result = run_import(database, tmp_path, str(path))
    assert result.returncode == 0, result.stderr
    assert "Imported: 5 invoice(s) created, 0 unchanged, 2 client(s) created." in result.stdout
    with database.session_scope() as session:
        owners = set(session.scalars(select(User.email).join(Invoice, Invoice.user_id == User.id)))
    assert owners == {account}


def test_without_user_no_account_or_several_is_a_usage_error(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes(SPREADSHEET)
    none = run_import(database, tmp_path, str(path))
    assert none.returncode == 2, none.stdout
    assert "no account to import into" in none.stderr

    with database.session_scope() as session:
        add_user(session, now=NOW, email="ada@engines.example")
        add_user(session, now=NOW, email="grace@navy.example")
    several = run_import(database, tmp_path, str(path))
    assert several.returncode == 2, several.stdout
    assert "the database has 2 accounts" in several.stderr and "--user" in several.stderr
    # Which accounts they are is not for this message to tell.
    assert "ada@" not in several.stderr and "grace@" not in several.stderr
    assert "Imported" not in several.stdout
    assert numbers(database) == set() and client_emails(database) == set()


def write_rows(path: Path, rows: int) -> None:
    """``rows`` invoices for 200 clients (created by the import); every 50th paid, every
    200th void, every 100th a draft."""
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER + "\r\n")
        for i in range(rows):
            status, paid_on = "open", ""
            if i % 50 == 0:
                status, paid_on = "paid", "2001-03-01"
            elif i % 200 == 1:
                status = "void"
            elif i % 100 == 2:
                status = "draft"
            file.write(
                f"R-{i:06d},client{i % 200}@example.com,Client {i % 200},{100 + i % 900}.25,"
                f'EUR,2001-01-01,2001-02-01,{status},{paid_on},,"Row {i}, imported"\r\n'
            )


@pytest.mark.xdist_group("multiprocess")
def test_a_hundred_thousand_rows_import(database: Database, account: str, tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    write_rows(path, 100_000)
    result = run_import(database, tmp_path, str(path), "--user", account, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Imported: 100000 invoice(s) created, 0 unchanged, 200 client(s) created." in (
        result.stdout
    )
    assert "100%" in result.stderr
    with database.session_scope() as session:
        by_status = dict(
            session.execute(select(Invoice.status, func.count()).group_by(Invoice.status)).all()
        )
        activities = session.scalar(select(func.count()).select_from(InvoiceActivity))
    assert by_status == {"paid": 2000, "void": 500, "draft": 1000, "open": 96_500}
    # One "created" entry each, plus one "paid" or "voided" entry for those rows.
    assert activities == 100_000 + 2000 + 500
