"""API throughput: authenticated ``GET /invoices`` (a page of 50 from 100,000 invoices) and
``POST /invoices``, 32 connections, against the bare ASGI baseline served the same way.

Both servers run against the same scratch PostgreSQL database with the same number of
processes; ``wrk`` (one thread) generates the load. Each endpoint is warmed up, then
measured for the same time on the baseline and on DueSpark, one right after the other.

Target: DueSpark reaches at least 0.4 of the baseline's requests per second on each
endpoint, and its p99 latency stays under 10 times its p50.
"""

from __future__ import annotations

import argparse
import sys

from _common import (
    analyze,
    connect,
    emit_result,
    parse_args,
    ratio_of,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
    table_count,
)
from _servers import Running, baseline_server, duespark_server, get_json, login
from _wrk import POST_SCRIPT, WrkMissing, WrkResult, run_wrk, wrk_path

NAME = "api"
SIZES = {
    "smoke": {"invoices": 2000, "seconds": 1, "warmup": 1, "connections": 32, "workers": 2},
    "full": {"invoices": 100_000, "seconds": 30, "warmup": 5, "connections": 32, "workers": 2},
}
TARGET_RATIO = 0.4
MAX_TAIL = 10.0
EMAIL = "api-bench@example.com"


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    try:
        wrk_path()
    except WrkMissing as exc:
        say(f"cannot run the API benchmark: {exc}")
        emit_result(NAME, figures={}, baseline={}, ratio=None, target=">= 0.4", met=False, errors=1)
        return 1
    with scratch_database(NAME, keep=args.keep) as url:
        with connect(url) as connection:
            user_id = seed_account(connection, email=EMAIL)
            clients = seed_clients(connection, user_id, 50)
            seed_invoices(
                connection,
                user_id=user_id,
                clients=clients,
                count=args.invoices,
                due_date_sql="current_date - 90 + (g % 180)",
            )
            connection.commit()
        analyze(url)
        say(
            f"seeded {args.invoices} invoices; {args.workers} server processes each, "
            f"{args.connections} connections, {args.seconds} s per run"
        )
        with (
            baseline_server(url, args.workers) as baseline,
            duespark_server(url, args.workers) as duespark,
        ):
            token = login(duespark.url, EMAIL)
            errors = _check_same_answer(baseline, duespark, token)
            runs: dict[str, WrkResult] = {}
            for endpoint in ("get", "post"):
                for label, server in (("baseline", baseline), ("duespark", duespark)):
                    prefix = f"{label[0].upper()}{endpoint[0].upper()}"
                    _load(server, endpoint, token, clients[0], prefix + "W", args, args.warmup)
                    result = _load(server, endpoint, token, clients[0], prefix, args, args.seconds)
                    runs[f"{label}_{endpoint}"] = result
                    say(
                        f"{label:8} {endpoint.upper():4} {result.rps:8.1f} req/s  "
                        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                        f"errors {result.errors}"
                    )
                    errors += result.errors
                    if endpoint == "post":
                        stored = table_count(url, "invoice", f"number LIKE '{prefix}-%'")
                        if stored < result.requests - result.non_2xx:
                            say(f"only {stored} invoices stored for {result.requests} answers")
                            errors += 1
    figures, baseline_figures, ratios = {}, {}, []
    tails_ok = True
    for endpoint in ("get", "post"):
        mine, theirs = runs[f"duespark_{endpoint}"], runs[f"baseline_{endpoint}"]
        ratio = ratio_of(mine.rps, theirs.rps)
        ratios.append(ratio)
        tail = ratio_of(mine.p99_ms, mine.p50_ms)
        tails_ok = tails_ok and tail < MAX_TAIL
        for key, value in mine.figures().items():
            figures[f"{endpoint}_{key}"] = value
        figures[f"{endpoint}_ratio"] = round(ratio, 3)
        figures[f"{endpoint}_p99_over_p50"] = round(tail, 2)
        for key, value in theirs.figures().items():
            baseline_figures[f"{endpoint}_{key}"] = value
        say(f"{endpoint.upper()}: {ratio:.2f} of the baseline's throughput, p99/p50 {tail:.1f}")
    worst = min(ratios)
    emit_result(
        NAME,
        figures=figures,
        baseline=baseline_figures,
        ratio=worst,
        target=f">= {TARGET_RATIO} on each endpoint, p99 < {MAX_TAIL:g}x p50",
        met=worst >= TARGET_RATIO and tails_ok,
        errors=errors,
    )
    return 0


def _load(
    server: Running,
    endpoint: str,
    token: str,
    client_id: int,
    prefix: str,
    args: argparse.Namespace,
    seconds: float,
) -> WrkResult:
    connections = int(args.connections)
    if endpoint == "get":
        return run_wrk(
            f"{server.url}/invoices?limit=50",
            seconds=seconds,
            connections=connections,
            headers={"Authorization": f"Bearer {token}"},
        )
    return run_wrk(
        f"{server.url}/invoices",
        seconds=seconds,
        connections=connections,
        script=POST_SCRIPT,
        script_args=[token, str(client_id), prefix],
    )


def _check_same_answer(baseline: Running, duespark: Running, token: str) -> int:
    """Both servers must answer the list with the same page, or the comparison is void."""
    path = "/invoices?limit=50"
    (status_a, page_a), (status_b, page_b) = (
        get_json(baseline.url + path, token),
        get_json(duespark.url + path, token),
    )
    if status_a != 200 or status_b != 200:
        say(f"list answered {status_a} (baseline) and {status_b} (DueSpark)")
        return 1
    assert isinstance(page_a, dict) and isinstance(page_b, dict)
    ids_a = [item["id"] for item in page_a["items"]]
    ids_b = [item["id"] for item in page_b["items"]]
    if ids_a != ids_b or page_a["total"] != page_b["total"]:
        say("the baseline and DueSpark answer different pages")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
