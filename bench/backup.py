"""Backup: ``duespark backup create`` + ``duespark backup verify`` of the 1,000,000-invoice
database, against a plain ``pg_dump -Fc`` + ``pg_restore`` of the same database.

``create`` dumps in an exported snapshot and fingerprints every table; ``verify``
checks the archive's checksum, restores it into a scratch database and compares every
table's row count and content hash, then checks the restored heap and indexes. The
baseline does the part every backup must do, without the proof: dump, then restore into
a fresh database.

Target: DueSpark takes at most 3 times as long as the baseline (``ratio`` is DueSpark's
time over the baseline's, so lower is better here).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    DUESPARK,
    admin_url,
    connect,
    database_name,
    database_url,
    emit_result,
    environ,
    libpq_url,
    parse_args,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
    stopwatch,
)
from psycopg import sql

NAME = "backup"
SIZES = {"smoke": {"invoices": 2000}, "full": {"invoices": 1_000_000}}
TARGET = 3.0


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    errors = 0
    restored_name = database_name("backup_restored")
    with scratch_database(NAME, keep=args.keep) as url, tempfile.TemporaryDirectory() as tmp:
        _seed(url, args.invoices)
        folder = Path(tmp)
        size = _database_size(url)
        say(f"seeded {args.invoices} invoices ({size / 2**20:.0f} MiB on disk)")

        dump = folder / "plain.dump"
        with stopwatch() as dumped:
            errors += _run(["pg_dump", "-Fc", "-f", str(dump), libpq_url(url)])
        _recreate(restored_name)
        with stopwatch() as restored:
            errors += _run(
                [
                    "pg_restore",
                    "--exit-on-error",
                    "-d",
                    libpq_url(database_url(restored_name)),
                    str(dump),
                ]
            )
        _drop(restored_name)
        plain = dumped[0] + restored[0]
        say(
            f"pg_dump -Fc {dumped[0]:.2f} s + pg_restore {restored[0]:.2f} s = {plain:.2f} s "
            f"({dump.stat().st_size / 2**20:.1f} MiB)"
        )

        env = environ(DATABASE_URL=url, DUESPARK_BACKUP_DIR=str(folder / "backups"))
        with stopwatch() as created:
            made = _duespark(["backup", "create"], env)
        archive = re.search(r" to (\S+)\n", made.stdout)
        if made.returncode != 0 or archive is None:
            say(f"backup create failed ({made.returncode}):\n{made.stdout}{made.stderr}")
            errors += 1
            verify_seconds = float("nan")
        else:
            with stopwatch() as verified:
                checked = _duespark(["backup", "verify", archive.group(1)], env)
            verify_seconds = verified[0]
            if checked.returncode != 0 or "verified" not in checked.stdout:
                say(f"backup verify failed ({checked.returncode}):\n{checked.stdout}")
                errors += 1
        total = created[0] + verify_seconds
        say(
            f"duespark backup create {created[0]:.2f} s + verify {verify_seconds:.2f} s = "
            f"{total:.2f} s"
        )
    ratio = total / plain if plain > 0 else float("nan")
    say(f"ratio: {ratio:.2f} times the baseline's time")
    emit_result(
        NAME,
        figures={
            "invoices": args.invoices,
            "create_seconds": round(created[0], 2),
            "verify_seconds": round(verify_seconds, 2),
            "total_seconds": round(total, 2),
        },
        baseline={
            "pg_dump_seconds": round(dumped[0], 2),
            "pg_restore_seconds": round(restored[0], 2),
            "total_seconds": round(plain, 2),
        },
        ratio=ratio,
        target=f"<= {TARGET:g} (time over the baseline's)",
        met=ratio <= TARGET,
        errors=errors,
    )
    return 0


def _seed(url: str, count: int) -> None:
    from _common import analyze

    with connect(url) as connection:
        user_id = seed_account(connection, email="backup-bench@example.com")
        clients = seed_clients(connection, user_id, 1000)
        seed_invoices(
            connection,
            user_id=user_id,
            clients=clients,
            count=count,
            due_date_sql="DATE '2030-01-16' - 60 + (g % 180)",
        )
        connection.commit()
    analyze(url)


def _database_size(url: str) -> int:
    with connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _recreate(name: str) -> None:
    _drop(name)
    with connect(admin_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop(name: str) -> None:
    with connect(admin_url(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _run(command: list[str]) -> int:
    """Run a PostgreSQL tool; 1 (an error) when it fails, with what it said."""
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        say(f"{command[0]} failed ({finished.returncode}): {finished.stderr}")
        return 1
    return 0


def _duespark(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUESPARK, *arguments], env=env, capture_output=True, text=True, check=False
    )


if __name__ == "__main__":
    sys.exit(main())
