"""A PostgreSQL server of the test's own, which the test may stop and start at will.

Fault tests stop the database under a running DueSpark. They cannot stop the shared server
the rest of the suite uses, so they create a throwaway cluster (``initdb``) in a temporary
folder, on a free loopback port, with trust authentication. PostgreSQL refuses to run as
root, so under root the cluster belongs to the ``postgres`` system user.

Without PostgreSQL's server programs the tests that need one are skipped with the reason,
unless ``DUESPARK_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import postgres
from tests.smtp import free_port

START_TIMEOUT_S = 30


def _bin_dir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(found.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class PrivatePostgres:
    """One cluster: ``stop()`` it mid-traffic, ``start()`` it again, same port and data."""

    def __init__(self, bin_dir: Path, data_dir: Path, port: int, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.data_dir = data_dir
        self.port = port
        self.run_as = run_as

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        self._run(
            "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(self.data_dir),
            "-o", options, "-l", str(self.data_dir / "server.log"),
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash as far as clients can tell."""
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data_dir))


@contextmanager
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
        if postgres.required():
            pytest.fail(f"{reason}, and DUESPARK_REQUIRE_POSTGRES=1 requires this test")
        pytest.skip(reason)
    run_as = "postgres" if os.geteuid() == 0 else None
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    if run_as:
        # The data folder, and every folder above it, must be reachable by that user.
        shutil.chown(data_dir, user=run_as)
        for parent in data_dir.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    server = PrivatePostgres(bin_dir, data_dir, free_port(), run_as)
    server.init()
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped by the test
            server.stop("immediate")
