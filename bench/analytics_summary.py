"""Benchmark: GET /analytics/summary's service over one account's 1,000,000 invoices.

    .venv/bin/python bench/analytics_summary.py                   # 1,000,000 invoices
    .venv/bin/python bench/analytics_summary.py --invoices 2000   # a smoke run

It creates a scratch PostgreSQL database (``duespark_bench_analytics``, dropped at the end),
migrates it, bulk-loads one account with clients, invoices over three years (most paid,
some open and overdue, a few drafts and voids, several currencies) and sent reminders, all
with ``INSERT ... SELECT generate_series`` rather than the ORM, in issue-date order as a
real table grows. Then it times, alternately and each in its own transaction as a request
would run, the whole summary (``analytics.service.summary``: every figure, every currency)
and a single hand-written aggregate pass over the account's invoices that computes only
outstanding and overdue per currency, and prints both medians and their ratio (target
<= 2.0). The summary agrees with the baseline on the figures they share, or the run counts
an error. For the record it also times those two figures read through the indexes alone
(open invoices only), which no query needing a year of sales and payments can match.

The last line is ``RESULT {json}`` (keys name, figures, baseline, ratio, target, met,
errors). The exit code is 1 only for errors: a missed target is a finding, in RESULT. The
server comes from ``DUESPARK_BENCH_POSTGRES_URL`` (a SQLAlchemy URL), by default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; ``DUESPARK_BENCH_DATABASE_PREFIX``
replaces the database name's prefix.
"""
# ruff: noqa: T201 - a benchmark reports by printing

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from duespark.analytics import service
from duespark.config import load_settings
from duespark.db import Database
from duespark.models import User
from duespark.ops import migrations

NAME = "analytics_summary"
# The smoke test sets its own prefix, so it never meets a full run on the same server.
DATABASE = os.environ.get("DUESPARK_BENCH_DATABASE_PREFIX", "duespark_bench") + "_analytics"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCALES = {"smoke": 2_000, "full": 1_000_000}
TARGET = 2.0
AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
CLIENTS = 2_000
SECRET_KEY = "bench-signing-key-analytics-summary-not-for-production"

# The baseline: one hand-written aggregate pass over the account's invoices for the two
# headline figures, outstanding and overdue per currency, with the summary's meaning of
# "open at as_of". It is the query a dashboard would start from; the summary must stay
# within TARGET times its cost while computing every other figure too.
_OPEN = "(status = 'open' OR paid_on > :as_of)"
BASELINE = f"""
SELECT currency,
       COALESCE(SUM(amount_minor) FILTER (WHERE {_OPEN}), 0) AS outstanding,
       COUNT(*) FILTER (WHERE {_OPEN}) AS outstanding_count,
       COALESCE(SUM(amount_minor) FILTER (WHERE {_OPEN} AND due_date < :as_of), 0) AS overdue,
       COUNT(*) FILTER (WHERE {_OPEN} AND due_date < :as_of) AS overdue_count
FROM invoice
WHERE user_id = :user_id AND status IN ('open', 'paid') AND issue_date <= :as_of
GROUP BY currency
ORDER BY currency
"""
# For the record, not the ratio: the same two figures read through the indexes on status
# and paid_on, touching the open invoices only. No query that computes DSO (a year of
# sales) or payment behaviour (a year of payments) can be that narrow.
OPEN_ROWS_ONLY = """
SELECT currency, SUM(amount_minor), COUNT(*),
       COALESCE(SUM(amount_minor) FILTER (WHERE due_date < :as_of), 0),
       COUNT(*) FILTER (WHERE due_date < :as_of)
FROM invoice
WHERE user_id = :user_id AND issue_date <= :as_of
  AND (status = 'open' OR (status = 'paid' AND paid_on > :as_of))
GROUP BY currency
ORDER BY currency
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"bench/{NAME}.py", description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    if args.invoices is None:
        args.invoices = SCALES[args.scale]
    if args.invoices < 1 or args.runs < 1:
        parser.error("--invoices and --runs must be positive")
    return args


def server_url() -> str:
    return os.environ.get("DUESPARK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def scratch_url() -> str:
    url = make_url(server_url()).set(drivername="postgresql+psycopg", database=DATABASE)
    return url.render_as_string(hide_password=False)


def recreate_database(*, drop_only: bool = False) -> None:
    with psycopg.connect(libpq(server_url()), autocommit=True) as connection:
        name = sql.Identifier(DATABASE)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if not drop_only:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def load(invoices: int) -> int:
    """One account with its clients, invoices and reminders; the account's id.

    Invoice g is issued up to three years before as_of and due 14 to 59 days later. Issued
    more than 90 days ago it is paid (92 %), open (3 %: long overdue), void or draft;
    issued since, about half are still open. Payments land 10 days early to 30 days late,
    never after as_of. A third of the invoices have a sent reminder."""
    with psycopg.connect(libpq(scratch_url()), autocommit=True) as connection:
        user_id = connection.execute(
            """
            INSERT INTO user_account (email, password_hash, name, business_name, time_zone,
                                      token_version, reminders_paused, created_at, updated_at)
            VALUES ('bench@example.com', 'x', 'Bench', 'Bench Studio', 'Europe/Berlin', 1,
                    false, %(now)s, %(now)s)
            RETURNING id
            """,
            {"now": NOW},
        ).fetchone()[0]  # type: ignore[index]
        connection.execute(
            """
            INSERT INTO client (user_id, name, email, time_zone, locale, default_currency,
                                notes, reminders_paused, created_at, updated_at)
            SELECT %(user)s, 'Client ' || g, 'c' || g || '@example.com', 'Europe/Berlin',
                   'en', 'EUR', '', false, %(now)s, %(now)s
            FROM generate_series(1, %(clients)s) AS g
            """,
            {"user": user_id, "now": NOW, "clients": CLIENTS},
        )
        connection.execute(
            """
            INSERT INTO invoice (user_id, client_id, number, amount_minor, currency,
                                 issue_date, due_date, status, paid_at, paid_on,
                                 amount_paid_minor, notes, reminders_paused,
                                 created_at, updated_at)
            SELECT %(user)s, first_client + (g %% %(clients)s), 'B-' || g, amount, currency,
                   issued, due, status,
                   CASE WHEN status = 'paid' THEN paid::timestamp AT TIME ZONE 'UTC' END,
                   CASE WHEN status = 'paid' THEN paid END,
                   CASE WHEN status = 'paid' AND g %% 9 = 0 THEN amount / 2 END,
                   '', false, %(now)s, %(now)s
            FROM (
                SELECT g, first_client, issued, due, amount, currency,
                       LEAST(due + ((g * 31) %% 41 - 10)::int, %(as_of)s::date) AS paid,
                       CASE
                           WHEN %(as_of)s::date - issued > 90 THEN
                               CASE WHEN r < 92 THEN 'paid' WHEN r < 95 THEN 'open'
                                    WHEN r < 98 THEN 'void' ELSE 'draft' END
                           ELSE CASE WHEN r < 45 THEN 'paid' WHEN r < 96 THEN 'open'
                                     ELSE 'draft' END
                       END AS status
                FROM (
                    SELECT g, (SELECT min(id) FROM client) AS first_client,
                           %(as_of)s::date - ((g * 7919) %% 1095)::int AS issued,
                           %(as_of)s::date - ((g * 7919) %% 1095)::int
                               + (14 + 15 * (g %% 4))::int AS due,
                           1000 + (g * 104729) %% 500000 AS amount,
                           (ARRAY['EUR','EUR','EUR','EUR','EUR','EUR','USD','USD','USD','GBP'])
                               [1 + g %% 10] AS currency,
                           (g * 2654435761) %% 100 AS r
                    FROM generate_series(1::bigint, %(invoices)s) AS g
                ) AS drawn
            ) AS shaped
            ORDER BY issued, g
            """,
            {
                "user": user_id,
                "now": NOW,
                "clients": CLIENTS,
                "invoices": invoices,
                "as_of": AS_OF,
            },
        )
        connection.execute(
            """
            INSERT INTO reminder (user_id, invoice_id, offset_days, tone, state, reason,
                                  scheduled_for, sent_at, created_at, updated_at)
            SELECT user_id, id, 3, 'neutral', 'sent', '', sent, sent, sent, sent
            FROM (
                SELECT user_id, id,
                       (due_date + 3)::timestamp AT TIME ZONE 'UTC' + interval '9 hours' AS sent
                FROM invoice
                WHERE id %% 3 = 0 AND status IN ('open', 'paid') AND due_date + 3 <= %(as_of)s
            ) AS due
            """,
            {"as_of": AS_OF},
        )
        connection.execute("ANALYZE")
        return int(user_id)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> int:
    args = parse_args()
    print(f"{NAME}: {args.invoices:,} invoices on {make_url(server_url()).host}")
    recreate_database()
    database: Database | None = None
    try:
        settings = load_settings({"DATABASE_URL": scratch_url(), "SECRET_KEY": SECRET_KEY})
        database = Database(settings)
        migrations.upgrade(database.engine)
        seconds, user_id = timed(lambda: load(args.invoices))
        print(f"loaded in {seconds:.1f} s")
        with database.sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            parameters = {"as_of": AS_OF, "user_id": user_id}

            def run(work: Callable[[], Any]) -> tuple[float, Any]:
                """One request's worth: its own transaction, as the API runs it."""
                session.rollback()
                return timed(work)

            def run_summary() -> Any:
                return service.summary(session, user, as_of=AS_OF, now=NOW)

            def run_baseline() -> Any:
                return session.execute(text(BASELINE), parameters).all()

            def run_open_rows() -> Any:
                return session.execute(text(OPEN_ROWS_ONLY), parameters).all()

            for work in (run_summary, run_baseline, run_open_rows):
                run(work)  # warm the caches
            summary_times, baseline_times, open_times = [], [], []
            for _ in range(args.runs):
                seconds, summary = run(run_summary)
                summary_times.append(seconds)
                seconds, baseline = run(run_baseline)
                baseline_times.append(seconds)
                seconds, open_rows = run(run_open_rows)
                open_times.append(seconds)
            session.rollback()
        errors = _disagreements(summary, baseline) + _disagreements(summary, open_rows)
    finally:
        if database is not None:
            database.dispose()
        if not args.keep:
            recreate_database(drop_only=True)

    summary_ms = statistics.median(summary_times) * 1000
    baseline_ms = statistics.median(baseline_times) * 1000
    ratio = summary_ms / baseline_ms if baseline_ms > 0 else float("inf")
    print(f"summary  (every figure):          median {summary_ms:9.1f} ms over {args.runs} runs")
    print(f"baseline (outstanding + overdue): median {baseline_ms:9.1f} ms over {args.runs} runs")
    open_ms = statistics.median(open_times) * 1000
    print(f"(open invoices only, by index:    median {open_ms:9.1f} ms; not the baseline)")
    print(f"ratio {ratio:.2f} (target <= {TARGET}); disagreements: {errors}")
    met = ratio <= TARGET and errors == 0
    record = {
        "name": NAME,
        "figures": {
            "invoices": args.invoices,
            "runs": args.runs,
            "summary_ms_median": round(summary_ms, 2),
            "summary_ms_all": [round(t * 1000, 2) for t in summary_times],
            "currencies": [c.currency for c in summary.currencies],
        },
        "baseline": {
            "query": "outstanding and overdue per currency, one aggregate query",
            "ms_median": round(baseline_ms, 2),
            "ms_all": [round(t * 1000, 2) for t in baseline_times],
            "open_rows_only_ms_median": round(open_ms, 2),
        },
        "ratio": round(ratio, 4),
        "target": f"<= {TARGET}",
        "met": met,
        "errors": errors,
    }
    print("RESULT " + json.dumps(record, sort_keys=True), flush=True)
    # Missing the target is a finding, reported in RESULT; only wrong figures fail the run.
    return 1 if errors else 0


def _disagreements(summary: Any, baseline: list[Any]) -> int:
    """Currencies where the summary's outstanding or overdue differ from the baseline's."""
    expected = {row[0]: tuple(int(value) for value in row[1:]) for row in baseline if int(row[2])}
    got = {
        c.currency: (c.outstanding.amount, c.outstanding.count, c.overdue.amount, c.overdue.count)
        for c in summary.currencies
        if c.outstanding.count
    }
    return sum(
        1
        for currency in expected.keys() | got.keys()
        if expected.get(currency) != got.get(currency)
    )


if __name__ == "__main__":
    sys.exit(main())
