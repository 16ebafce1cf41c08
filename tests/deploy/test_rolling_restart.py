"""``scripts/rolling_restart.py`` run for real: PostgreSQL-backed ``duespark serve``
instances behind HAProxy (from Debian's packages), 16 clients of mixed reads and writes,
the instances rolled one at a time.

The drain procedure must lose nothing: 0 failed requests and every acknowledged invoice in
the database. The control (SIGKILL, no drain) must report failures, which shows that the
harness can fail at all: a load generator that never hits a restarting server would pass
the drain test for the wrong reason.

CI runs the five consecutive rolls the release criterion asks for (``ROLLS_IN_CI``: about
3 minutes on 2 CPUs beside the rest of the suite, under the issue's ~5 minute budget; drop
it to 1 if it grows past that). ``DUESPARK_ROLLING_RESTART_ROLLS=N`` overrides it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import postgres

# Several processes each: run one such test at a time, so the machine's two cores are
# not shared between two load tests and their timings stay meaningful.
pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("multiprocess")]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rolling_restart.py"
ROLLS_IN_CI = 5
RUN_TIMEOUT_S = 600


@pytest.fixture
def haproxy(postgres_admin_url: str) -> str:
    """The PostgreSQL admin URL, once HAProxy is known to be installed (CI installs it;
    elsewhere a missing haproxy skips with the reason, unless PostgreSQL is required)."""
    if shutil.which("haproxy") is None:
        reason = "haproxy is not installed (apt-get install -y haproxy)"
        if postgres.required():
            pytest.fail(reason + "; DUESPARK_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(reason)
    return postgres_admin_url


def roll(admin_url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run the script; return its exit code, its RESULT record and its output."""
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--postgres-url", admin_url, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = completed.stdout + completed.stderr
    print(output)
    records = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert records, f"no RESULT line (exit {completed.returncode}):\n{output}"
    return completed.returncode, json.loads(records[-1].removeprefix("RESULT ")), output


def test_a_drained_rolling_restart_fails_no_request_and_loses_no_write(haproxy: str) -> None:
    rolls = int(os.environ.get("DUESPARK_ROLLING_RESTART_ROLLS", ROLLS_IN_CI))
    code, result, output = roll(haproxy, "--mode", "drain", "--rolls", str(rolls))
    assert result["drain_supported"], "duespark serve has no --drain-seconds"
    assert len(result["rolls"]) == rolls
    assert all(r["requests"] >= 3000 for r in result["rolls"]), output
    assert result["failures"] == 0, output
    assert result["acknowledged_writes"] > 1000
    assert result["lost_writes"] == 0, output
    assert result["min_servers_up"] >= 1
    assert code == 0, output


def test_the_control_without_draining_shows_failures(haproxy: str) -> None:
    code, result, output = roll(haproxy, "--mode", "kill", "--rolls", "1", "--min-requests", "500")
    assert code == 1, output
    assert result["failures"] > 0, "the harness saw no failure even when servers were killed"
    # A 201 is only sent after the commit, so even killed servers lose no acknowledged write.
    assert result["lost_writes"] == 0, output
    assert result["min_servers_up"] >= 1
