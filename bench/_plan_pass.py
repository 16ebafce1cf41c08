"""One planning pass by the worker, in its own process, so its memory can be watched.

``python bench/_plan_pass.py DATABASE_URL NOW`` prints ``planning`` when the pass starts
and, when it ends, ``done {json}`` with the counts, the seconds the pass took (imports and
start-up excluded) and the process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime

from _common import SECRET_KEY, say

from duespark.config import load_settings
from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.worker.main import Worker


def main() -> None:
    url, now_text = sys.argv[1], sys.argv[2]
    now = datetime.fromisoformat(now_text)
    settings = load_settings(
        {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "DUESPARK_EMAIL_URL": "console:"}
    )
    database = Database(settings)
    worker = Worker(
        database, settings, sender_from_settings(settings), worker_id="bench", now_fn=lambda: now
    )
    say("planning")
    started = time.perf_counter()
    result = worker.plan_pass()
    seconds = time.perf_counter() - started
    database.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = {
        "invoices": result.planned_invoices,
        "queued": result.queued,
        "skipped": result.skipped,
        "seconds": seconds,
        "peak_rss_kib": peak_kib,
    }
    say("done " + json.dumps(record))


if __name__ == "__main__":
    main()
