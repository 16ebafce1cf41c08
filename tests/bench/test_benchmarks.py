"""Every benchmark still runs: each script at its smoke size, as a real subprocess against
the test PostgreSQL server, must end with a ``RESULT`` line that parses and reports no
errors. Whether a benchmark meets its speed target is not checked here: that is what the
full run in ``docs/benchmarks.md`` is for. The soak's other promise is checked, though: no
process's memory grows from its second window to its last (with the slack of
``no_growth``, which a short run's allocator noise stays well inside)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests import postgres

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _load_runner() -> ModuleType:
    """``bench/run.py``, for its list of benchmarks (with ``bench/`` on the import path
    only while it loads, so its modules shadow nothing for the rest of the session)."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


_runner = _load_runner()
BENCHMARKS: list[str] = _runner.BENCHMARKS
SCALE_ARGUMENTS: dict[str, dict[str, list[str]]] = _runner.SCALE_ARGUMENTS

# Several processes each (servers, wrk, an SMTP server): one at a time, never beside
# another load test on the machine's two cores.
pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("multiprocess")]
RESULT_KEYS = {"name", "figures", "baseline", "ratio", "target", "met", "errors"}
TIMEOUT_S = 120


def smoke_command(name: str) -> list[str]:
    arguments = SCALE_ARGUMENTS.get(name, {}).get("smoke", ["--scale", "smoke"])
    return [sys.executable, str(BENCH / f"{name}.py"), *arguments]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_at_smoke_size(name: str, postgres_admin_url: str) -> None:
    if not (BENCH / f"{name}.py").exists():
        pytest.skip(f"bench/{name}.py is not written yet")
    environ = {
        **os.environ,
        "DUESPARK_BENCH_POSTGRES_URL": postgres.database_url(postgres_admin_url, "postgres"),
        "DUESPARK_BENCH_DATABASE_PREFIX": f"duespark_benchtest_{secrets.token_hex(3)}",
    }
    finished = subprocess.run(
        smoke_command(name),
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = finished.stdout + finished.stderr
    # 1 may mean a missed target (a finding, not a failure); the RESULT line says the rest.
    assert finished.returncode in (0, 1), output
    assert finished.stdout.strip(), output
    last = finished.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), output
    record = json.loads(last.removeprefix("RESULT "))
    assert set(record) >= RESULT_KEYS, record
    assert record["name"] == name
    assert record["errors"] == 0, output
    assert isinstance(record["met"], bool)
    assert record["ratio"] is None or isinstance(record["ratio"], int | float)
    assert record["figures"], record
    assert record["baseline"], record
    if name == "soak":
        assert record["figures"]["grew"] == [], record["figures"]["memory"]


def test_runner_summarises_what_it_ran(postgres_admin_url: str) -> None:
    """``bench/run.py`` collects a benchmark's RESULT and prints the summary and machine."""
    environ = {
        **os.environ,
        "DUESPARK_BENCH_POSTGRES_URL": postgres.database_url(postgres_admin_url, "postgres"),
        "DUESPARK_BENCH_DATABASE_PREFIX": f"duespark_benchtest_{secrets.token_hex(3)}",
    }
    finished = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--scale",
            "smoke",
            "--only",
            "delivery",
            "--markdown",
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "| delivery |" in finished.stdout
    assert "| postgresql |" in finished.stdout
    assert "| cores |" in finished.stdout
