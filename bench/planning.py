"""Planning at scale: one worker planning pass over 1,000,000 open invoices on PostgreSQL,
against one hand-written ``INSERT ... SELECT`` that creates the same rows.

The data is a daily steady state: one account on the default policy, 1,000 clients (half
in UTC, half in Europe/Berlin), invoices due from 3 to 102 days after the fixed instant
the pass runs at (a Wednesday, 10:00 UTC), so that 1 in 100 has its first step (the
friendly note three days before the due date) due now and every other one has nothing to
do yet. The pass must still look at every open invoice to know that.

The baseline is one SQL statement that, for this data, creates exactly the rows the pass
creates (a ``scheduled`` ledger row, an activity row and an outbox email per due invoice,
the email's text assembled with ``format()``). Its rows are deleted again before the
worker's pass; both must create the same numbers of rows.

Targets: the pass reaches at least 0.3 of the statement's invoices per second, and the
worker's resident memory does not grow from the first 10% of the pass to the last.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

from _common import (
    BENCH_DIR,
    RssSampler,
    analyze,
    connect,
    emit_result,
    environ,
    mib,
    no_growth,
    parse_args,
    ratio_of,
    say,
    scratch_database,
    seed_account,
    seed_clients,
    seed_invoices,
    service,
    stopwatch,
    table_count,
)

NAME = "planning"
SIZES = {"smoke": {"invoices": 5000}, "full": {"invoices": 1_000_000}}
TARGET_RATIO = 0.3
NOW = datetime(2030, 1, 16, 10, 0, tzinfo=UTC)
SENDER = "reminders@bench.example"

BASELINE_SQL = """
WITH due AS (
    SELECT i.id, i.user_id, i.number, i.amount_minor, i.due_date, c.email, c.name,
        c.time_zone, u.business_name, u.email AS owner
    FROM invoice i
    JOIN client c ON c.id = i.client_id
    JOIN user_account u ON u.id = i.user_id
    WHERE i.status = 'open'
      AND NOT i.reminders_paused AND NOT c.reminders_paused AND NOT u.reminders_paused
      AND i.due_date - 3 <= (%(now)s AT TIME ZONE c.time_zone)::date
      AND NOT EXISTS (SELECT 1 FROM reminder r WHERE r.invoice_id = i.id)
),
made AS (
    INSERT INTO reminder (user_id, invoice_id, offset_days, tone, state, reason,
        scheduled_for, created_at, updated_at)
    SELECT user_id, id, -3, 'friendly', 'scheduled', '',
        ((due_date - 3) + time '09:00') AT TIME ZONE time_zone, %(now)s, %(now)s
    FROM due
    RETURNING id, invoice_id, user_id
),
logged AS (
    INSERT INTO invoice_activity (user_id, invoice_id, kind, detail, created_at)
    SELECT user_id, invoice_id, 'reminder_scheduled', 'friendly reminder (-3 days)', %(now)s
    FROM made
)
INSERT INTO outbox_message (user_id, reminder_id, dedup_key, recipient, subject, text_body,
    html_body, headers, status, attempts, next_attempt_at, last_error, created_at, updated_at)
SELECT m.user_id, m.id, 'reminder-' || m.invoice_id || '--3', d.email,
    format('Invoice %%s: %%s EUR due on %%s', d.number, d.amount_minor / 100.0, d.due_date),
    format(E'Hello %%s,\\n\\nA friendly note that invoice %%s for %%s EUR is due on %%s.\\n'
        'If you have already paid, thank you, and please ignore this message.\\n\\n'
        'Kind regards,\\n%%s\\n', d.name, d.number, d.amount_minor / 100.0, d.due_date,
        d.business_name),
    format('<html><body><p>Hello %%s,</p><p>A friendly note that invoice <b>%%s</b> for '
        '%%s EUR is due on %%s.</p><p>If you have already paid, thank you, and please '
        'ignore this message.</p><p>Kind regards,<br>%%s</p></body></html>', d.name,
        d.number, d.amount_minor / 100.0, d.due_date, d.business_name),
    json_build_object('from_name', d.business_name, 'from_address', %(sender)s::text,
        'reply_to', d.owner, 'message_id', '<reminder-' || m.invoice_id || '--3@bench>'),
    'pending', 0, %(now)s, '', %(now)s, %(now)s
FROM made m JOIN due d ON d.id = m.invoice_id
"""


def main() -> int:
    args = parse_args(NAME, SIZES, __doc__ or "")
    errors = 0
    expected = len(range(0, args.invoices, 100))
    with scratch_database(NAME, keep=args.keep) as url:
        _seed(url, args.invoices)
        say(f"seeded {args.invoices} open invoices, {expected} of them due for a step")
        with connect(url) as connection, stopwatch() as plain:
            connection.execute(BASELINE_SQL, {"now": NOW, "sender": SENDER})
            connection.commit()
        base_rows = _rows(url)
        say(f"INSERT ... SELECT: {plain[0]:.2f} s, rows {base_rows}")
        errors += base_rows["outbox_message"] != expected
        with connect(url) as connection:
            for table in ("outbox_message", "invoice_activity", "reminder"):
                connection.execute(f"DELETE FROM {table}")
            connection.commit()
        analyze(url)
        command = [sys.executable, str(BENCH_DIR / "_plan_pass.py"), url, NOW.isoformat()]
        with service(command, env=environ(), ready=r"^planning", timeout=120) as child:
            with RssSampler(child.pid, interval=0.05) as sampler:
                child.process.wait()
            found = _done(child.text())
        if found is None:
            say(f"the planning pass failed:\n{child.text()[-3000:]}")
            emit_result(
                NAME,
                figures={},
                baseline={},
                ratio=None,
                target=">= 0.3",
                met=False,
                errors=errors + 1,
            )
            return 1
        rows = _rows(url)
        errors += rows != base_rows
    seconds = found["seconds"]
    rate, base_rate = ratio_of(args.invoices, seconds), ratio_of(args.invoices, plain[0])
    first, last = sampler.growth()
    steady = no_growth(first, last)
    peak = max(found["peak_rss_kib"], sampler.peak_kib)
    say(
        f"worker pass over {args.invoices} open invoices: {seconds:.2f} s ({rate:.0f}/s), "
        f"{found['invoices']} examined, {found['queued']} queued, {found['skipped']} skipped, "
        f"rows {rows}"
    )
    say(
        f"worker RSS: peak {mib(peak)} MiB; first 10% {mib(first)} MiB, last 10% {mib(last)} "
        f"MiB ({'no growth' if steady else 'GROWS'})"
    )
    ratio = ratio_of(rate, base_rate)
    say(f"ratio: {ratio:.3f} of the statement's rate")
    errors += found["queued"] != expected
    emit_result(
        NAME,
        figures={
            "invoices": args.invoices,
            "seconds": round(seconds, 2),
            "invoices_per_second": round(rate, 1),
            "invoices_examined": found["invoices"],
            "emails_queued": found["queued"],
            "worker_peak_rss_mib": mib(peak),
            "worker_rss_first_10pct_mib": mib(first),
            "worker_rss_last_10pct_mib": mib(last),
        },
        baseline={"seconds": round(plain[0], 3), "invoices_per_second": round(base_rate, 1)},
        ratio=ratio,
        target=f">= {TARGET_RATIO}, worker RSS flat",
        met=ratio >= TARGET_RATIO and steady,
        errors=int(errors),
    )
    return 0


def _seed(url: str, count: int) -> None:
    with connect(url) as connection:
        user_id = seed_account(connection, email="planning-bench@example.com")
        utc = seed_clients(connection, user_id, 500)
        berlin = seed_clients(connection, user_id, 500, time_zone="Europe/Berlin")
        half = count // 2
        due = f"DATE '{NOW.date().isoformat()}' + 3 + (g % 100)"
        seed_invoices(connection, user_id=user_id, clients=utc, count=half, due_date_sql=due)
        seed_invoices(
            connection,
            user_id=user_id,
            clients=berlin,
            count=count - half,
            due_date_sql=due,
            start=half + 1,
        )
        connection.commit()
    analyze(url)


def _rows(url: str) -> dict[str, int]:
    return {
        table: table_count(url, table)
        for table in ("reminder", "invoice_activity", "outbox_message")
    }


def _done(output: str) -> dict[str, float] | None:
    found = re.search(r"^done (\{.*\})$", output, re.MULTILINE)
    return None if found is None else json.loads(found.group(1))


if __name__ == "__main__":
    sys.exit(main())
