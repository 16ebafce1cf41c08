"""Soak: mixed API traffic plus the worker for a bounded time; errors, latency and memory over time.

Deployed as on PostgreSQL: ``duespark serve --workers 2 --no-worker`` and a separate
``duespark worker`` that delivers to an SMTP server on loopback. Eight client threads keep
one connection each and cycle through what a freelancer's day looks like: list and filter
invoices, read a client, create an invoice (with an ``Idempotency-Key``), read its reminder
timeline, mark it paid; and once in a while an overdue invoice that the worker must remind.

The run is cut into ten equal windows. For each it prints requests, errors, p50/p99
latency and the peak RSS of every server process and of the worker. The baseline is the
second window (the first includes warm-up: first queries, connection pools, caches): the
ratio is the last window's p99 over the second's, and no process's RSS may grow from the
second window to the last.

Targets: 0 errors; no RSS growth in any process; last p99 within 2x the second window's.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, timedelta
from typing import Any

import httpx2
from _common import (
    BENCH_DIR,
    DUESPARK,
    RssSampler,
    Service,
    connect,
    emit_result,
    environ,
    mib,
    no_growth,
    parse_args,
    percentile,
    ratio_of,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
    service,
)
from _servers import duespark_server, login

NAME = "soak"
SIZES = {"smoke": {"seconds": 12, "threads": 4}, "full": {"seconds": 180, "threads": 8}}
WINDOWS = 10
TARGET_P99_RATIO = 2.0
EMAIL = "soak@bench.example"


class Tally:
    """Latencies and errors per window, shared by the client threads."""

    def __init__(self, started: float, seconds: float) -> None:
        self.started = started
        self.window_seconds = seconds / WINDOWS
        self.latencies: list[list[float]] = [[] for _ in range(WINDOWS)]
        self.errors: list[list[str]] = [[] for _ in range(WINDOWS)]
        self.lock = threading.Lock()

    def window(self) -> int:
        return min(WINDOWS - 1, int((time.monotonic() - self.started) / self.window_seconds))

    def record(self, seconds: float, error: str | None) -> None:
        index = self.window()
        with self.lock:
            self.latencies[index].append(seconds)
            if error:
                self.errors[index].append(error)


def _day(
    http: httpx2.Client, token: str, client_ids: list[int], serial: Callable[[], int]
) -> Iterator[tuple[str, httpx2.Response, int]]:
    """One freelancer's round of requests; yields (label, response or exception)."""
    headers = {"Authorization": f"Bearer {token}"}
    number = serial()
    client_id = client_ids[number % len(client_ids)]
    today = date.today()
    overdue = number % 10 == 0
    due = today - timedelta(days=9) if overdue else today + timedelta(days=20)
    body = {
        "client_id": client_id,
        "number": f"SOAK-{number:07d}",
        "amount": f"{100 + number % 900}.00",
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
    }
    yield "list", http.get("/invoices", params={"limit": 50}, headers=headers), 200
    yield "overdue", http.get("/invoices", params={"overdue": "true"}, headers=headers), 200
    yield "client", http.get(f"/clients/{client_id}", headers=headers), 200
    keyed = {**headers, "Idempotency-Key": f"soak-{number}"}
    created = http.post("/invoices", json=body, headers=keyed)
    yield "create", created, 201
    if created.status_code != 201:
        return
    invoice_id = created.json()["id"]
    yield "timeline", http.get(f"/invoices/{invoice_id}/reminders", headers=headers), 200
    if not overdue:  # overdue ones stay open for the worker to remind
        yield "pay", http.post(f"/invoices/{invoice_id}/mark-paid", headers=headers), 200


def _client_thread(
    url: str,
    token: str,
    client_ids: list[int],
    serial: Callable[[], int],
    tally: Tally,
    deadline: float,
) -> None:
    with httpx2.Client(base_url=url, timeout=30) as http:
        while time.monotonic() < deadline:
            rounds = _day(http, token, client_ids, serial)
            while True:
                started = time.perf_counter()
                try:
                    label, response, expected = next(rounds)
                except StopIteration:
                    break
                except httpx2.HTTPError as exc:
                    tally.record(time.perf_counter() - started, f"transport: {exc!r}")
                    break
                error = None
                if response.status_code != expected:
                    error = f"{label}: {response.status_code} {response.text[:200]}"
                tally.record(response.elapsed.total_seconds(), error)


def _sink() -> AbstractContextManager[Service]:
    command = [sys.executable, str(BENCH_DIR / "_smtp_sink.py")]
    return service(command, env=environ(), ready=r"listening on (\d+)")


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    with scratch_database(NAME, keep=args.keep) as url:
        with connect(url) as connection:
            user_id = seed_account(connection, email=EMAIL)
            clients = seed_clients(connection, user_id, 50)
            seed_invoices(
                connection, user_id=user_id, clients=clients, count=2_000,
                due_date_sql="current_date - 60 + (g % 120)", prefix="SEED",
            )  # fmt: skip
            connection.commit()
        client_ids = list(range(clients[0], clients[1] + 1))
        with _sink() as sink:
            assert sink.match is not None
            worker_env = environ(
                DATABASE_URL=url,
                DUESPARK_EMAIL_URL=f"smtp://127.0.0.1:{sink.match.group(1)}",
                DUESPARK_EMAIL_FROM="reminders@bench.example",
            )
            worker = service(
                [DUESPARK, "worker", "--interval", "2"], env=worker_env, ready=r"worker"
            )
            with duespark_server(url, workers=2) as server, worker as running_worker:
                return _soak(args, server, running_worker, client_ids)


def _soak(args: Any, server: Any, worker: Service, client_ids: list[int]) -> int:
    token = login(server.url, EMAIL)
    counter = itertools.count(1)
    lock = threading.Lock()

    def serial() -> int:
        with lock:
            return next(counter)

    samplers = {f"server {pid}": RssSampler(pid) for pid in server.worker_pids()}
    samplers["worker"] = RssSampler(worker.pid)
    started = time.monotonic()
    tally = Tally(started, args.seconds)
    deadline = started + args.seconds
    threads = [
        threading.Thread(
            target=_client_thread,
            args=(server.url, token, client_ids, serial, tally, deadline),
        )
        for _ in range(args.threads)
    ]
    for sampler in samplers.values():
        sampler.__enter__()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sampler in samplers.values():
        sampler.__exit__()

    peaks = {name: sampler.peaks(WINDOWS) for name, sampler in samplers.items()}
    say(
        f"{'window':>6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} "
        + " ".join(f"{name + ' MiB':>16}" for name in peaks)
    )
    for index in range(WINDOWS):
        values = tally.latencies[index]
        say(
            f"{index + 1:>6} {len(values):>9} {len(tally.errors[index]):>7} "
            f"{percentile(values, 0.5) * 1000:>8.1f} {percentile(values, 0.99) * 1000:>8.1f} "
            + " ".join(f"{mib(series[index]):>16}" for series in peaks.values())
        )
    errors = sum(len(window) for window in tally.errors)
    for window in tally.errors:
        for message in window[:3]:
            say(f"  error: {message}")
    memory: dict[str, Any] = {}
    grew = []
    for name, series in peaks.items():
        settled, last = series[1], series[-1]
        memory[name] = {
            "second_window_mib": mib(settled),
            "last_window_mib": mib(last),
            "peak_mib": mib(max(series)),
            "windows_mib": [mib(value) for value in series],
        }
        if not no_growth(settled, last):
            grew.append(name)
    worker_log = worker.text()
    worker_failures = len(re.findall(r"worker pass failed", worker_log))
    errors += worker_failures
    settled_p99 = percentile(tally.latencies[1], 0.99)
    last_p99 = percentile(tally.latencies[-1], 0.99)
    ratio = ratio_of(last_p99, settled_p99)
    total = sum(len(values) for values in tally.latencies)
    say(f"{total} requests in {args.seconds} s, {errors} errors; last/second p99 {ratio:.2f}")
    emit_result(
        NAME,
        figures={
            "requests": total,
            "seconds": args.seconds,
            "last_p99_ms": round(last_p99 * 1000, 1),
            "worker_pass_failures": worker_failures,
            "memory": memory,
            "grew": grew,
        },
        baseline={"second_window_p99_ms": round(settled_p99 * 1000, 1)},
        ratio=ratio,
        target=f"errors == 0, no RSS growth, last p99 <= {TARGET_P99_RATIO} x second window",
        met=errors == 0 and not grew and ratio <= TARGET_P99_RATIO,
        errors=errors,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
