"""``duespark incident snapshot``: the facts of an incident, gathered in one go, safe to share.

The seed's runbook 4 collected logs by hand and ended with a heredoc template. Here one
command writes a folder named after the UTC minute (``incident-2026-11-28T0905Z``):

* ``status.txt`` / ``status.json``: ``duespark status`` at that moment;
* ``db-activity.txt`` / ``.json``: on PostgreSQL, connections against ``max_connections``,
  every session of the database with its state, wait event and age, idle-in-transaction
  sessions, and who blocks whom (``pg_blocking_pids``); on SQLite, the file and WAL sizes
  and ``PRAGMA quick_check``;
* ``errors.txt`` / ``.json``: the latest delivery errors, dead letters and failed reminders;
* ``metrics.prom``: a metrics sample (scraped from ``--url`` when given, else the
  database-derived metrics computed here);
* ``config.txt``: the configuration with secrets reduced to "set";
* ``incident-report.md``: a postmortem skeleton (Google SRE) pre-filled with the above.

Every section is collected on its own: one that fails (a locked table, a server that does
not answer) is recorded as such, and the rest is still written. Every file passes through
:mod:`duespark.ops.redaction` before it touches the disk. Diagnostic connections carry
statement and lock timeouts, so the snapshot cannot hang behind the lock it should report.
"""

from __future__ import annotations

import json
import platform
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from duespark import __version__
from duespark.config import Settings
from duespark.models import OutboxMessage, Reminder
from duespark.observability.metrics import database_metrics_text
from duespark.ops import perf
from duespark.ops.incident_report import render_report
from duespark.ops.redaction import redact_data, redact_text, redacted_settings, secret_values
from duespark.ops.status import StatusReport, diagnostic_engine, human_duration, run_checks

RECENT = 20


@dataclass
class Section:
    """One file pair of the snapshot: human text, and the same facts as JSON."""

    text: str
    data: Any = None
    problem: str | None = None


@dataclass
class Snapshot:
    folder: Path
    taken_at: datetime
    status: StatusReport
    sections: dict[str, Section] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return [f"{name}: {s.problem}" for name, s in self.sections.items() if s.problem]


def take_snapshot(
    settings: Settings, *, directory: Path, now: datetime, url: str | None = None
) -> Snapshot:
    """Gather everything and write the folder; returns what was written."""
    secrets = secret_values(settings)
    folder = _new_folder(directory, now)
    engine = diagnostic_engine(settings.database_url)
    try:
        status = run_checks(settings, engine, now=now)
        snapshot = Snapshot(folder=folder, taken_at=now, status=status)
        snapshot.sections["status"] = Section(
            "\n".join([*status.lines(), status.summary()]) + "\n", status.to_json()
        )
        snapshot.sections["db-activity"] = _collect(lambda: _db_activity(engine, settings))
        snapshot.sections["errors"] = _collect(lambda: _recent_errors(engine))
        snapshot.sections["metrics"] = _collect(lambda: _metrics(engine, settings, url))
    finally:
        engine.dispose()
    snapshot.sections["config"] = Section(_config_text(settings))
    _write_all(snapshot, secrets)
    return snapshot


def _collect(gather: Callable[[], Section]) -> Section:
    try:
        return gather()
    except (SQLAlchemyError, OSError) as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Section(f"could not collect: {problem}\n", {"error": problem}, problem)


def _db_activity(engine: Engine, settings: Settings) -> Section:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            return _postgres_activity(connection)
        return _sqlite_activity(connection, settings)


def _postgres_activity(connection: Connection) -> Section:
    report = perf.connection_report(connection, long_seconds=10)
    sessions = perf.sessions(connection)
    by_pid = {s.pid: s for s in sessions}
    usable = report.max_connections - report.reserved
    states = ", ".join(f"{state} {n}" for state, n in report.by_state.items()) or "none"
    lines = [
        f"Connections: {report.total} of {usable} usable (max_connections "
        f"{report.max_connections}, {report.reserved} reserved for superusers)",
        f"By state (whole server): {states}",
        f"Sessions on this database (besides this one): {len(sessions)}",
        "",
        "Who blocks whom:",
    ]
    blocked = [s for s in sessions if s.blocked_by]
    for s in blocked:
        for blocker_pid in s.blocked_by:
            blocker = by_pid.get(blocker_pid)
            held = (
                f"{blocker.state}, transaction open {_age(blocker.xact_seconds)}: {blocker.query}"
                if blocker
                else "another database"
            )
            lines.append(
                f"  pid {s.pid} ({s.wait or 'waiting'}, for {_age(s.query_seconds)}: {s.query})"
                f"\n    is blocked by pid {blocker_pid} ({held})"
            )
    if not blocked:
        lines.append("  nobody is waiting for a lock")
    idle = [s for s in sessions if (s.state or "").startswith("idle in transaction")]
    lines += ["", "Idle in transaction (holding locks and old snapshots; blocks vacuum, DDL):"]
    lines += [
        f"  pid {s.pid} {s.user or '?'}{f' ({s.application})' if s.application else ''}: idle for "
        f"{_age(s.state_seconds)} in a transaction open {_age(s.xact_seconds)}; last: {s.query}"
        for s in idle
    ] or ["  none"]
    lines += ["", "All sessions (oldest transaction first):"]
    lines += [
        f"  pid {s.pid:<7} {s.state or '-':<20} wait {s.wait or '-':<24} "
        f"xact {_age(s.xact_seconds):<9} query {_age(s.query_seconds):<9} {s.query}"
        for s in sessions
    ] or ["  none"]
    data = {
        "connections": report.to_json(),
        "sessions": [asdict(s) for s in sessions],
        "blocking": [{"pid": s.pid, "blocked_by": s.blocked_by} for s in blocked],
    }
    return Section("\n".join(lines) + "\n", data)


def _sqlite_activity(connection: Connection, settings: Settings) -> Section:
    path = settings.sqlite_path
    size = path.stat().st_size if path and path.exists() else None
    wal = Path(f"{path}-wal") if path else None
    wal_size = wal.stat().st_size if wal and wal.exists() else 0
    journal = connection.execute(text("PRAGMA journal_mode")).scalar()
    check = [row[0] for row in connection.execute(text("PRAGMA quick_check"))]
    data = {
        "path": str(path) if path else None,
        "size_bytes": size,
        "wal_bytes": wal_size,
        "journal_mode": journal,
        "quick_check": check,
    }
    lines = [
        f"SQLite file: {path} ({size if size is not None else '?'} bytes)",
        f"WAL: {wal_size} bytes (journal_mode {journal}); a WAL that keeps growing means a "
        "reader never lets a checkpoint finish",
        f"PRAGMA quick_check: {'; '.join(check)}",
        "SQLite has no session view: one writer at a time, others wait up to the busy timeout.",
    ]
    return Section("\n".join(lines) + "\n", data)


def _recent_errors(engine: Engine) -> Section:
    with engine.connect() as connection:
        outbox = connection.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.status,
                OutboxMessage.attempts,
                OutboxMessage.updated_at,
                OutboxMessage.last_error,
            )
            .where(
                OutboxMessage.last_error != "",
                OutboxMessage.status.in_(("pending", "sending", "dead")),
            )
            .order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc())
            .limit(RECENT)
        ).all()
        failed = connection.execute(
            select(Reminder.id, Reminder.invoice_id, Reminder.updated_at, Reminder.reason)
            .where(Reminder.state == "failed")
            .order_by(Reminder.updated_at.desc(), Reminder.id.desc())
            .limit(RECENT)
        ).all()
    deliveries = [
        {
            "id": row.id,
            "status": row.status,
            "attempts": row.attempts,
            "at": row.updated_at.isoformat(),
            "error": row.last_error,
        }
        for row in outbox
    ]
    reminders = [
        {"id": r.id, "invoice_id": r.invoice_id, "at": r.updated_at.isoformat(), "reason": r.reason}
        for r in failed
    ]
    lines = [f"Latest delivery errors (outbox, newest first, at most {RECENT}):"]
    lines += [
        f"  {d['at']}  message {d['id']} {d['status']} after {d['attempts']} attempt(s): "
        f"{d['error']}"
        for d in deliveries
    ] or ["  none"]
    lines += ["", f"Failed reminders (newest first, at most {RECENT}):"]
    lines += [
        f"  {r['at']}  reminder {r['id']} (invoice {r['invoice_id']}): {r['reason']}"
        for r in reminders
    ] or ["  none"]
    lines += [
        "",
        "Application logs are JSON lines on the server's and workers' stderr; filter them by "
        "request_id (the X-Request-ID a user quotes) or by level.",
    ]
    return Section("\n".join(lines) + "\n", {"deliveries": deliveries, "reminders": reminders})


def _metrics(engine: Engine, settings: Settings, url: str | None) -> Section:
    if url:
        request = urllib.request.Request(url.rstrip("/") + "/metrics")
        if settings.metrics_token:
            request.add_header("Authorization", f"Bearer {settings.metrics_token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read().decode()
            return Section(f"# scraped from {url}/metrics\n{body}")
        except (OSError, ValueError) as exc:  # unreachable, HTTP error, or not a URL
            note = f"# could not scrape {url}/metrics: {exc}; database metrics instead\n"
            return Section(note + database_metrics_text(engine), problem=f"scrape failed: {exc}")
    note = (
        "# computed from the database by the snapshot; HTTP request metrics live in the "
        "server process: pass --url to scrape them\n"
    )
    return Section(note + database_metrics_text(engine))


def _config_text(settings: Settings) -> str:
    lines = [f"{name:<32}{value}" for name, value in redacted_settings(settings).items()]
    lines += [
        "",
        f"{'duespark':<32}{__version__}",
        f"{'python':<32}{sys.version.split()[0]}",
        f"{'platform':<32}{platform.platform()}",
    ]
    return "\n".join(lines) + "\n"


def _write_all(snapshot: Snapshot, secrets: list[str]) -> None:
    names = {
        "status": ("status.txt", "status.json"),
        "db-activity": ("db-activity.txt", "db-activity.json"),
        "errors": ("errors.txt", "errors.json"),
        "metrics": ("metrics.prom", None),
        "config": ("config.txt", None),
    }
    written = []
    for key, (text_name, json_name) in names.items():
        section = snapshot.sections[key]
        _write(snapshot.folder / text_name, section.text, secrets)
        written.append(text_name)
        if json_name is not None and section.data is not None:
            data = json.dumps(redact_data(section.data, secrets), indent=2, ensure_ascii=False)
            _write(snapshot.folder / json_name, data + "\n", secrets)
            written.append(json_name)
    report = render_report(snapshot.status, snapshot.sections, snapshot.taken_at, written)
    _write(snapshot.folder / "incident-report.md", report, secrets)


def _write(path: Path, content: str, secrets: list[str]) -> None:
    path.write_text(redact_text(content, secrets), encoding="utf-8")
    path.chmod(0o600)


def _new_folder(directory: Path, now: datetime) -> Path:
    """``incident-<UTC minute>``, with ``-2``, ``-3``... when one exists already; private,
    because it describes the system in detail."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"incident-{now:%Y-%m-%dT%H%M}Z"
    for attempt in range(1, 1000):
        folder = directory / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"too many snapshots named {base} in {directory}")


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else human_duration(seconds)
