"""Memory: the resident memory of one server process over 100,000 requests.

``duespark serve`` in one process (``--workers 1``, so the process measured is the one
that serves) takes a mix of list, read and create requests from ``wrk`` in slices until
100,000 have been answered, while its RSS is sampled. The run's own start is the
baseline: the largest RSS seen in the first 10% of the run against the largest in the
last 10%. The worker's memory over a planning pass is measured by ``bench/planning.py``.

Target: no growth, the last 10% within 5% of the first (``ratio`` = last / first).
"""

from __future__ import annotations

import sys
import time

from _common import (
    BENCH_DIR,
    RssSampler,
    analyze,
    connect,
    emit_result,
    mib,
    no_growth,
    parse_args,
    peak_rss_kib,
    rss_kib,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
)
from _servers import duespark_server, login
from _wrk import WrkMissing, run_wrk, wrk_path

NAME = "memory"
SIZES = {
    "smoke": {"requests": 1000, "slice_seconds": 1, "invoices": 1000},
    "full": {"requests": 100_000, "slice_seconds": 15, "invoices": 1000},
}
MIXED_SCRIPT = BENCH_DIR / "wrk_mixed.lua"
MAX_MINUTES = 30
EMAIL = "memory-bench@example.com"


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    try:
        wrk_path()
    except WrkMissing as exc:
        say(f"cannot run the memory benchmark: {exc}")
        emit_result(
            NAME, figures={}, baseline={}, ratio=None, target="<= 1.05", met=False, errors=1
        )
        return 1
    errors = 0
    with scratch_database(NAME, keep=args.keep) as url:
        with connect(url) as connection:
            user_id = seed_account(connection, email=EMAIL)
            clients = seed_clients(connection, user_id, 50)
            seed_invoices(
                connection,
                user_id=user_id,
                clients=clients,
                count=args.invoices,
                due_date_sql="DATE '2030-01-16' - 60 + (g % 180)",
            )
            connection.commit()
        analyze(url)
        with duespark_server(url, workers=1) as server:
            pid = server.service.pid
            token = login(server.url, EMAIL)
            started_kib = rss_kib(pid)
            answered, slices = 0, 0
            deadline = time.monotonic() + MAX_MINUTES * 60
            with RssSampler(pid, interval=0.5) as sampler:
                while answered < args.requests and time.monotonic() < deadline:
                    slices += 1
                    result = run_wrk(
                        f"{server.url}/invoices",
                        seconds=args.slice_seconds,
                        connections=32,
                        script=MIXED_SCRIPT,
                        script_args=[token, str(clients[0]), f"M{slices}", str(args.invoices)],
                    )
                    answered += result.requests
                    errors += result.errors
                    say(
                        f"slice {slices}: {result.requests} requests ({result.rps:.0f}/s), "
                        f"{answered} in all; RSS {mib(rss_kib(pid))} MiB"
                    )
            final_kib, peak_kib = rss_kib(pid), peak_rss_kib(pid)
    if answered < args.requests:
        say(f"only {answered} requests answered in {MAX_MINUTES} minutes")
        errors += 1
    first, last = sampler.growth()
    steady = no_growth(first, last)
    ratio = last / first if first else float("nan")
    say(
        f"server RSS: started {mib(started_kib)} MiB, after {answered} requests "
        f"{mib(final_kib)} MiB, peak {mib(peak_kib)} MiB; first 10% {mib(first)} MiB, "
        f"last 10% {mib(last)} MiB ({'no growth' if steady else 'GROWS'})"
    )
    emit_result(
        NAME,
        figures={
            "requests": answered,
            "server_rss_after_mib": mib(final_kib),
            "server_peak_rss_mib": mib(peak_kib),
            "server_rss_last_10pct_mib": mib(last),
        },
        baseline={
            "server_rss_start_mib": mib(started_kib),
            "server_rss_first_10pct_mib": mib(first),
        },
        ratio=ratio,
        target="<= 1.05 (no growth from the first 10% to the last)",
        met=steady,
        errors=errors,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
