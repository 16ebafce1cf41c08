"""What every benchmark shares: arguments, scratch databases, bulk loading, processes,
RSS sampling, percentiles and the ``RESULT`` line.

Each benchmark is a standalone script, ``bench/<name>.py --scale smoke|full``, that prints
human-readable figures and, as its last line, ``RESULT {json}`` with the keys ``name``,
``figures``, ``baseline``, ``ratio``, ``target``, ``met`` and ``errors``. ``bench/run.py``
runs them one after another and reads that line.

Absolute times on a shared two-core machine drift from run to run; a ratio to a baseline
measured in the same run, on the same machine, holds. So every benchmark measures its
own baseline, right before or after the real thing, on the same data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DUESPARK = str(Path(sys.executable).parent / "duespark")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Benchmark-only credentials: scratch databases on loopback, dropped afterwards.
SECRET_KEY = "bench-signing-key-4f9c2a7e1b8d3065-not-for-production"
PASSWORD = "bench passphrase for a scratch account"
PASSWORD_HASH_CACHE: dict[str, str] = {}


# ---------------------------------------------------------------- arguments and results


def parse_args(
    name: str, sizes: Mapping[str, Mapping[str, int]], description: str
) -> argparse.Namespace:
    """``--scale smoke|full`` picks a row of ``sizes``; ``--<size>`` overrides one value.

    ``sizes`` maps each scale to its sizes (``{"smoke": {"invoices": 2000}, ...}``)."""
    parser = argparse.ArgumentParser(prog=f"bench/{name}.py", description=description)
    parser.add_argument("--scale", choices=sorted(sizes), default="full")
    for key in sizes["full"]:
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database afterwards.")
    args = parser.parse_args()
    for key, value in sizes[args.scale].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def emit_result(
    name: str,
    *,
    figures: Mapping[str, Any],
    baseline: Mapping[str, Any],
    ratio: float | None,
    target: str,
    met: bool,
    errors: int,
) -> None:
    """Print the machine-readable last line (``bench/run.py`` parses it)."""
    record = {
        "name": name,
        "figures": dict(figures),
        "baseline": dict(baseline),
        "ratio": None if ratio is None or math.isnan(ratio) else round(ratio, 4),
        "target": target,
        "met": bool(met and errors == 0),
        "errors": int(errors),
    }
    say("RESULT " + json.dumps(record, sort_keys=True))


def say(message: str, end: str = "\n") -> None:
    """Print a line at once (the runner shows a benchmark's output as it comes)."""
    sys.stdout.write(message + end)
    sys.stdout.flush()


def ratio_of(value: float, reference: float) -> float:
    return value / reference if reference > 0 else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as elapsed:`` ... ``elapsed[0]`` holds the seconds afterwards."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


# ---------------------------------------------------------------------------- PostgreSQL


def admin_url() -> str:
    """The server's SQLAlchemy URL (``DUESPARK_BENCH_POSTGRES_URL`` or the local default)."""
    return os.environ.get("DUESPARK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def libpq_url(url: str) -> str:
    """The same URL for psycopg and the PostgreSQL tools (no ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the benchmark server."""
    parsed = make_url(admin_url()).set(drivername="postgresql+psycopg", database=name)
    return parsed.render_as_string(hide_password=False)


def database_name(name: str) -> str:
    """``duespark_bench_<name>``; ``DUESPARK_BENCH_DATABASE_PREFIX`` replaces the prefix
    (the smoke test uses its own, so it never meets a benchmark run on the same server)."""
    return f"{os.environ.get('DUESPARK_BENCH_DATABASE_PREFIX', 'duespark_bench')}_{name}"


def server_version() -> str:
    with psycopg.connect(libpq_url(admin_url()), connect_timeout=5) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _drop(name: str) -> None:
    with psycopg.connect(libpq_url(admin_url()), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_database(name: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated ``duespark_bench_<name>`` database; its URL; dropped afterwards.

    A database left by an interrupted run of the same benchmark is dropped first."""
    from duespark.db import build_engine
    from duespark.ops import migrations

    full = database_name(name)
    _drop(full)
    with psycopg.connect(libpq_url(admin_url()), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(full)))
    url = database_url(full)
    try:
        engine = build_engine(url)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        if not keep:
            _drop(full)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(libpq_url(url), autocommit=autocommit)


def password_hash(password: str = PASSWORD) -> str:
    if password not in PASSWORD_HASH_CACHE:
        from duespark.auth.passwords import hash_password

        PASSWORD_HASH_CACHE[password] = hash_password(password)
    return PASSWORD_HASH_CACHE[password]


def seed_account(
    connection: psycopg.Connection[Any],
    *,
    email: str,
    business_name: str = "Bench Studio",
    time_zone: str = "UTC",
    reminder_policy: Mapping[str, Any] | None = None,
) -> int:
    """One account (password :data:`PASSWORD`); its id."""
    row = connection.execute(
        """
        INSERT INTO user_account (email, password_hash, name, business_name, time_zone,
            token_version, reminder_policy, reminders_paused, created_at, updated_at)
        VALUES (%s, %s, 'Bench Owner', %s, %s, 1, %s, false, now(), now())
        RETURNING id
        """,
        (
            email,
            password_hash(),
            business_name,
            time_zone,
            None if reminder_policy is None else json.dumps(reminder_policy),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def seed_clients(
    connection: psycopg.Connection[Any],
    user_id: int,
    count: int,
    *,
    time_zone: str = "UTC",
    currency: str = "EUR",
) -> tuple[int, int]:
    """``count`` clients of the account, with one ``INSERT ... SELECT``; (first id, last id)."""
    row = connection.execute(
        """
        WITH made AS (
            INSERT INTO client (user_id, name, email, contact_name, time_zone, locale,
                default_currency, notes, reminders_paused, created_at, updated_at)
            SELECT %(user)s, 'Client ' || g, 'client' || g || '@example.com', 'Contact ' || g,
                %(zone)s, 'en', %(currency)s, '', false, now(), now()
            FROM generate_series(1, %(count)s::int) AS g
            RETURNING id
        )
        SELECT min(id), max(id) FROM made
        """,
        {"user": user_id, "zone": time_zone, "currency": currency, "count": count},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def seed_invoices(
    connection: psycopg.Connection[Any],
    *,
    user_id: int,
    clients: tuple[int, int],
    count: int,
    due_date_sql: str,
    status: str = "open",
    prefix: str = "INV",
    start: int = 1,
) -> None:
    """``count`` invoices with one ``INSERT ... SELECT`` over ``generate_series``.

    ``due_date_sql`` is an SQL date expression of ``g`` (the row's number, from ``start``),
    such as ``current_date + (g % 90)``; clients take turns; amounts vary by row."""
    first, last = clients
    due = due_date_sql.replace("%", "%%")
    query = f"""
        INSERT INTO invoice (user_id, client_id, number, amount_minor, currency, issue_date,
            due_date, status, notes, reminders_paused, created_at, updated_at)
        SELECT %(user)s, %(first)s + (g %% %(clients)s), %(prefix)s || '-' || lpad(g::text, 7, '0'),
            10000 + (g * 37) %% 500000, 'EUR', ({due}) - 30, ({due}),
            %(status)s, '', false, now(), now()
        FROM generate_series(%(start)s::int, %(stop)s::int) AS g
    """
    connection.execute(
        query,  # type: ignore[arg-type]
        {
            "user": user_id,
            "first": first,
            "clients": last - first + 1,
            "prefix": prefix,
            "status": status,
            "start": start,
            "stop": start + count - 1,
        },
    )


def analyze(url: str) -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would soon give."""
    with connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def table_count(url: str, table: str, where: str = "true") -> int:
    with connect(url) as connection:
        row = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table)) + sql.SQL(where)  # type: ignore[arg-type]
        ).fetchone()
    return int(row[0]) if row else 0


# ------------------------------------------------------------------------------ processes


def environ(**extra: str) -> dict[str, str]:
    """A clean environment for DueSpark processes: nothing inherited by accident."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {
        **keep,
        "SECRET_KEY": SECRET_KEY,
        "DUESPARK_DRAIN_SECONDS": "0",
        "DUESPARK_ACCESS_TOKEN_MINUTES": "240",
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


@dataclass
class Service:
    """A process started by a benchmark, with its output kept for error messages."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    match: re.Match[str] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return "".join(self.output)


@contextmanager
def service(
    command: Sequence[str], *, env: Mapping[str, str], ready: str, timeout: float = 60
) -> Iterator[Service]:
    """Start ``command``; wait for a line matching ``ready``; stop it (SIGTERM) afterwards."""
    process = subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started = Service(process)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
            if len(started.output) < 2000:
                started.output.append(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    pattern = re.compile(ready)
    try:
        deadline = time.monotonic() + timeout
        while started.match is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                message = f"{command[0]} not ready in {timeout} s:\n{started.text()}"
                raise RuntimeError(message) from None
            if line is None:
                raise RuntimeError(f"{command[0]} exited before it was ready:\n{started.text()}")
            started.match = pattern.search(line)
        yield started
    finally:
        stop(process)


def stop(process: subprocess.Popen[str], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (the ``--workers`` server processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(part) for part in path.read_text().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


# ------------------------------------------------------------------------------- memory


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` now (VmRSS), 0 once it is gone."""
    return _status_field(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The high-water mark of resident memory of ``pid`` (VmHWM), 0 once it is gone."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RssSampler:
    """Samples one process's RSS every ``interval`` seconds in a thread, so that the
    beginning of a run can be compared with its end."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            value = rss_kib(self.pid)
            if value:
                self.samples.append((time.monotonic() - started, value))
            self._stop.wait(self.interval)

    @property
    def peak_kib(self) -> int:
        return max((value for _, value in self.samples), default=0)

    def growth(self) -> tuple[int, int]:
        """(largest RSS in the first 10% of the run's time, largest in the last 10%), KiB."""
        if not self.samples:
            return 0, 0
        end = self.samples[-1][0] or 1.0
        first = [value for at, value in self.samples if at <= 0.1 * end]
        last = [value for at, value in self.samples if at >= 0.9 * end]
        return max(first, default=0), max(last, default=0)

    def peaks(self, windows: int) -> list[int]:
        """The largest RSS in each of ``windows`` equal slices of the run's time, KiB (0 for
        a slice without a sample): memory over time, a figure per slice."""
        end = (self.samples[-1][0] if self.samples else 0.0) or 1.0
        peaks = [0] * windows
        for at, value in self.samples:
            index = min(windows - 1, int(at / end * windows))
            peaks[index] = max(peaks[index], value)
        return peaks


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def no_growth(first_kib: int, last_kib: int, *, slack: float = 0.05, floor_kib: int = 4096) -> bool:
    """RSS did not grow from the first 10% of a run to the last: any increase stays within
    ``slack`` of the first value (or ``floor_kib``, for allocator noise on small processes)."""
    return last_kib - first_kib <= max(first_kib * slack, floor_kib)


# -------------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python and PostgreSQL versions, and the load right now."""
    model = "unknown"
    with _suppressed():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with _suppressed():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    try:
        postgres = server_version()
    except psycopg.Error as exc:
        postgres = f"unreachable ({str(exc).strip().splitlines()[0]})"
    load = os.getloadavg()
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": sys.version.split()[0],
        "postgresql": postgres,
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


def _suppressed() -> contextlib.suppress:
    return contextlib.suppress(OSError)
