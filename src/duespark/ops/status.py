"""``duespark status``: is DueSpark healthy right now, one line per part, ok/warn/fail.

This replaces the seed runbook's first incident step ("flyctl status, curl /healthz,
check the database"), which says whether a process answers but not whether reminders go
out. The checks follow the path of a reminder: the database answers, its schema is the
code's, a worker is alive to plan and send, mail is not piling up, nothing is dead, and
the configuration is not a development one wearing a production label.

A check never raises: a failure to look is itself reported, so the command always prints
the whole picture, which is what an operator needs in the middle of an incident.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from duespark.config import ConfigError, Environment, Settings
from duespark.db import build_engine
from duespark.email.sender import sender_from_settings
from duespark.email.smtp import SmtpSender
from duespark.ops import facts, migrations
from duespark.ops.redaction import redact_text, redact_url, secret_values
from duespark.worker.main import DEFAULT_INTERVAL_SECONDS

DEAD_LETTER_HINT = (
    "see `duespark outbox list --status dead`; requeue with `duespark outbox retry --all-dead`"
)
DIAGNOSTIC_STATEMENT_TIMEOUT = "10s"
DIAGNOSTIC_LOCK_TIMEOUT = "3s"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


class Level(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


_RANK = {Level.ok: 0, Level.warn: 1, Level.fail: 2}


def worst(levels: list[Level]) -> Level:
    return max(levels, key=_RANK.__getitem__, default=Level.ok)


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.level.value:<4}  {self.name:<13} {self.detail}"


@dataclass(frozen=True)
class Thresholds:
    """When a quiet worker or waiting mail becomes worth a warning, then an alarm.

    The worker beats at least every ``interval`` seconds (plus the length of a pass), so
    three missed beats is a warning; a long silence is a failure only while mail is due,
    because only then does anybody suffer from it.
    """

    worker_interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    worker_stale_factor: float = 3
    worker_down_seconds: float = 15 * 60
    backlog_warn_seconds: float = 10 * 60
    backlog_fail_seconds: float = 60 * 60

    @property
    def worker_stale_seconds(self) -> float:
        return self.worker_interval_seconds * self.worker_stale_factor


@dataclass(frozen=True)
class StatusReport:
    checked_at: datetime
    checks: list[Check]

    @property
    def level(self) -> Level:
        return worst([check.level for check in self.checks])

    def lines(self) -> list[str]:
        return [check.line() for check in self.checks]

    def summary(self) -> str:
        warnings = sum(check.level is Level.warn for check in self.checks)
        failures = sum(check.level is Level.fail for check in self.checks)
        return f"status: {self.level.value} ({warnings} warning(s), {failures} failure(s))"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.level.value,
            "checked_at": self.checked_at.isoformat(),
            "checks": [
                {"name": c.name, "level": c.level.value, "detail": c.detail, "data": c.data}
                for c in self.checks
            ],
        }


def diagnostic_engine(database_url: str) -> Engine:
    """An engine for looking, never for waiting or writing: on PostgreSQL each statement
    gives up after ``DIAGNOSTIC_STATEMENT_TIMEOUT`` and each lock wait after
    ``DIAGNOSTIC_LOCK_TIMEOUT``, so a status check in the middle of an incident (a table
    locked by a stuck migration, say) reports the problem instead of joining the queue."""
    if database_url.startswith("sqlite"):
        # Not db.build_engine: its transactions take SQLite's write lock up front, and a
        # diagnosis must neither wait for writers nor block them. Reads only, by pragma.
        engine = create_engine(database_url, connect_args={"timeout": 5})

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        return engine
    engine = build_engine(database_url)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect", insert=True)
        def _limits(dbapi_connection: Any, _record: Any) -> None:
            try:
                # First, so that our own statements stay out of `perf queries` (a setting
                # only superusers may change; others simply skip it).
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET pg_stat_statements.track = 'none'")
                dbapi_connection.commit()
            except Exception:
                dbapi_connection.rollback()
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = '{DIAGNOSTIC_STATEMENT_TIMEOUT}'")
                cursor.execute(f"SET lock_timeout = '{DIAGNOSTIC_LOCK_TIMEOUT}'")
                cursor.execute("SET application_name = 'duespark-diagnostics'")
            # Committed, or the pool's rollback on return would undo the SETs.
            dbapi_connection.commit()

    return engine


def run_checks(
    settings: Settings, engine: Engine, *, now: datetime, thresholds: Thresholds | None = None
) -> StatusReport:
    """Every check, in the order a reminder travels through the system."""
    limits = thresholds or Thresholds()
    secrets = secret_values(settings)
    checks = [check_database(engine, secrets, settings)]
    if checks[0].level is Level.fail:
        checks.append(Check("schema", Level.warn, "not checked: the database is unreachable"))
        checks += _skipped("not checked: the database is unreachable")
    else:
        schema = check_schema(engine, secrets)
        checks.append(schema)
        if "current" not in schema.data:
            checks += _skipped("not checked: the schema could not be read")
        elif schema.data["current"] is None:
            checks += _skipped("not checked: the database has no schema yet")
        else:
            checks += check_mail_flow(engine, now=now, limits=limits, secrets=secrets)
    checks.append(check_configuration(settings))
    return StatusReport(checked_at=now, checks=checks)


def _skipped(reason: str) -> list[Check]:
    return [Check(name, Level.warn, reason) for name in ("worker", "outbox", "dead letters")]


def check_database(engine: Engine, secrets: list[str], settings: Settings) -> Check:
    path = settings.sqlite_path
    if path is not None and not path.exists():
        # Connecting would create an empty file and hide the real problem (wrong folder,
        # wrong DATABASE_URL, a lost volume).
        return Check("database", Level.fail, f"the SQLite file {path} does not exist")
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            version = _server_version(connection.dialect.name, connection)
    except SQLAlchemyError as exc:
        return Check("database", Level.fail, "unreachable: " + _first_line(exc, secrets))
    elapsed_ms = (time.perf_counter() - started) * 1000
    where = redact_url(engine.url.render_as_string(hide_password=False)) or ""
    return Check(
        "database",
        Level.ok,
        f"reachable in {elapsed_ms:.0f} ms ({version}, {where})",
        {"latency_ms": round(elapsed_ms, 1), "version": version},
    )


def check_schema(engine: Engine, secrets: list[str]) -> Check:
    try:
        state = migrations.schema_state(engine)
    except SQLAlchemyError as exc:
        return Check("schema", Level.fail, "cannot read: " + _first_line(exc, secrets))
    data = {"current": state.current, "head": state.head}
    if state.is_current:
        return Check("schema", Level.ok, f"current ({state.head})", data)
    if state.current is None:
        return Check("schema", Level.fail, "empty: run `duespark db upgrade`", data)
    return Check(
        "schema",
        Level.fail,
        f"at {state.current}, the code needs {state.head}: run `duespark db upgrade`",
        data,
    )


def check_mail_flow(
    engine: Engine, *, now: datetime, limits: Thresholds, secrets: list[str]
) -> list[Check]:
    """The worker, the outbox backlog and the dead letters, from one connection."""
    try:
        with engine.connect() as connection:
            outbox = facts.outbox_facts(connection, now)
            beat = facts.heartbeat_facts(connection)
    except SQLAlchemyError as exc:
        problem = "cannot read: " + _first_line(exc, secrets)
        return [Check(name, Level.fail, problem) for name in ("worker", "outbox", "dead letters")]
    return [
        _worker_check(beat, outbox, now=now, limits=limits),
        _backlog_check(outbox, now=now, limits=limits),
        _dead_letter_check(outbox),
    ]


def _worker_check(
    beat: facts.HeartbeatFacts, outbox: facts.OutboxFacts, *, now: datetime, limits: Thresholds
) -> Check:
    age = beat.age_seconds(now)
    data = {
        "workers_seen": beat.workers,
        "last_seen_at": beat.last_seen_at.isoformat() if beat.last_seen_at else None,
        "age_seconds": None if age is None else round(age, 1),
        "due_messages": outbox.due,
    }
    start = "start `duespark worker` (or `duespark serve` with its embedded worker)"
    if age is None:
        if outbox.due:
            detail = f"no worker has ever reported, and {outbox.due} email(s) are due: {start}"
            return Check("worker", Level.fail, detail, data)
        return Check("worker", Level.warn, f"no worker has reported yet: {start}", data)
    last = f"last beat {human_duration(age)} ago ({beat.last_worker_id})"
    if age <= limits.worker_stale_seconds:
        return Check("worker", Level.ok, last, data)
    expected = f"expected every {human_duration(limits.worker_interval_seconds)}"
    if age > limits.worker_down_seconds and outbox.due:
        detail = f"{last}, and {outbox.due} email(s) are due: the worker looks down; {start}"
        return Check("worker", Level.fail, detail, data)
    return Check("worker", Level.warn, f"{last}; {expected}", data)


def _backlog_check(outbox: facts.OutboxFacts, *, now: datetime, limits: Thresholds) -> Check:
    age = outbox.oldest_due_age_seconds(now)
    sending = outbox.counts.get("sending", 0)
    data = {
        "pending": outbox.pending,
        "due": outbox.due,
        "sending": sending,
        "oldest_due_age_seconds": round(age, 1),
    }
    detail = f"{outbox.pending} pending ({outbox.due} due now), {sending} sending"
    if outbox.due:
        detail += f"; the oldest due email has waited {human_duration(age)}"
    if age > limits.backlog_fail_seconds:
        return Check("outbox", Level.fail, detail + ": mail is not going out", data)
    if age > limits.backlog_warn_seconds:
        return Check("outbox", Level.warn, detail + ": mail is going out slowly", data)
    return Check("outbox", Level.ok, detail, data)


def _dead_letter_check(outbox: facts.OutboxFacts) -> Check:
    data = {"dead": outbox.dead}
    if outbox.dead:
        detail = f"{outbox.dead} dead message(s): {DEAD_LETTER_HINT}"
        return Check("dead letters", Level.warn, detail, data)
    return Check("dead letters", Level.ok, "none", data)


def check_configuration(settings: Settings) -> Check:
    """The settings that start fine but betray a development setup in production (or the
    reverse). Refusals happen at start-up (config.py); these are the judgement calls."""
    notes = configuration_notes(settings)
    level = worst([note_level for note_level, _ in notes])
    backend = "SQLite" if settings.is_sqlite else "PostgreSQL"
    try:
        mail = sender_from_settings(settings).describe()
    except ConfigError as exc:
        mail = f"invalid ({exc})"
    summary = f"{settings.env.value}, {backend}, mail via {mail}, base URL {settings.base_url}"
    details = [summary, *(message for note_level, message in notes if note_level is not Level.ok)]
    data = {"environment": settings.env.value, "notes": [message for _, message in notes]}
    return Check("configuration", level, "; ".join(details), data)


def configuration_notes(settings: Settings) -> list[tuple[Level, str]]:
    notes: list[tuple[Level, str]] = []
    base = urlsplit(settings.base_url)
    local_base = (base.hostname or "") in LOCAL_HOSTS
    email_scheme = urlsplit(settings.email_url or "").scheme
    if settings.env is Environment.production:
        if email_scheme in {"file", "console"}:
            notes.append(
                (Level.fail, f"DUESPARK_EMAIL_URL is {email_scheme}: reminders are never sent")
            )
        if settings.is_sqlite:
            notes.append(
                (Level.warn, "SQLite in production: one server process only; use PostgreSQL")
            )
        if local_base:
            notes.append((Level.warn, "DUESPARK_BASE_URL is local: links in emails cannot work"))
        elif base.scheme == "http":
            notes.append((Level.warn, "DUESPARK_BASE_URL is http://: serve and link over https"))
        if _plaintext_smtp_password(settings):
            notes.append(
                (Level.warn, "the SMTP password travels unencrypted: use smtps:// or ?starttls=1")
            )
        if settings.metrics_token is None:
            notes.append((Level.ok, "GET /metrics is refused: set DUESPARK_METRICS_TOKEN"))
    elif base.scheme == "https" and not local_base:
        notes.append(
            (
                Level.warn,
                "DUESPARK_ENV is development on a public https base URL: set "
                "DUESPARK_ENV=production (development skips production safety checks)",
            )
        )
    if settings.secret_key_fallbacks:
        notes.append((Level.ok, f"{len(settings.secret_key_fallbacks)} fallback key(s) accepted"))
    return notes


def human_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``: precise enough to act on."""
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _plaintext_smtp_password(settings: Settings) -> bool:
    try:
        sender = sender_from_settings(settings)
    except ConfigError:
        return False
    if not isinstance(sender, SmtpSender) or sender.implicit_tls or sender.starttls:
        return False
    return bool(sender.password) and sender.host not in LOCAL_HOSTS


def _server_version(dialect: str, connection: Any) -> str:
    if dialect == "postgresql":
        return "PostgreSQL " + str(connection.execute(text("SHOW server_version")).scalar_one())
    return "SQLite " + str(connection.execute(text("SELECT sqlite_version()")).scalar_one())


def _first_line(exc: Exception, secrets: list[str]) -> str:
    """The driver's message without the SQL SQLAlchemy appends, and without secrets."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return redact_text(lines[0], secrets)
