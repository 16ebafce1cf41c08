"""Every query of the reminder ledger and of what planning reads."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import JSON, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.kit.pagination import PageParams
from duespark.models import (
    Base,
    Client,
    EmailTemplate,
    Invoice,
    InvoiceActivity,
    OutboxMessage,
    Reminder,
    User,
)


@dataclass(frozen=True)
class ReminderFilters:
    state: str | None = None
    invoice_id: int | None = None
    client_id: int | None = None


def open_invoices_after(
    session: Session, *, after_id: int, limit: int
) -> Sequence[Row[tuple[Invoice, Client, User]]]:
    """The next batch of open invoices, with their client and account, in id order
    (keyset pagination keeps each batch's cost flat however many invoices there are)."""
    query = (
        select(Invoice, Client, User)
        .join(Client, Client.id == Invoice.client_id)
        .join(User, User.id == Invoice.user_id)
        .where(Invoice.status == "open", Invoice.id > after_id)
        .order_by(Invoice.id)
        .limit(limit)
    )
    return session.execute(query).all()


def recorded_offsets(session: Session, invoice_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    ids = list(invoice_ids)
    found: dict[int, set[int]] = defaultdict(set)
    if ids:
        query = select(Reminder.invoice_id, Reminder.offset_days).where(
            Reminder.invoice_id.in_(ids)
        )
        for invoice_id, offset in session.execute(query):
            found[invoice_id].add(offset)
    return {invoice_id: frozenset(found[invoice_id]) for invoice_id in ids}


def own_templates(
    session: Session, user_ids: Iterable[int]
) -> dict[tuple[int, str], EmailTemplate]:
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = session.scalars(select(EmailTemplate).where(EmailTemplate.user_id.in_(ids)))
    return {(row.user_id, row.tone): row for row in rows}


def insert_once(session: Session, reminder: Reminder) -> bool:
    """Record a step unless it is already recorded. The unique key on (invoice, step) decides
    between racing workers; the loser's savepoint is rolled back and it moves on."""
    try:
        with session.begin_nested():
            session.add(reminder)
            session.flush()
    except IntegrityError:
        return False
    return True


def add_activity(
    session: Session, *, user_id: int, invoice_id: int, kind: str, detail: str, now: datetime
) -> None:
    session.add(
        InvoiceActivity(
            user_id=user_id, invoice_id=invoice_id, kind=kind, detail=detail, created_at=now
        )
    )


def for_invoice(session: Session, invoice_id: int) -> list[Reminder]:
    query = select(Reminder).where(Reminder.invoice_id == invoice_id).order_by(Reminder.offset_days)
    return list(session.scalars(query))


def get(session: Session, *, user_id: int, reminder_id: int) -> Reminder | None:
    return session.scalar(
        select(Reminder).where(Reminder.id == reminder_id, Reminder.user_id == user_id)
    )


def list_page(
    session: Session, *, user_id: int, filters: ReminderFilters, page: PageParams
) -> tuple[list[Reminder], int]:
    query = select(Reminder).where(Reminder.user_id == user_id)
    if filters.state is not None:
        query = query.where(Reminder.state == filters.state)
    if filters.invoice_id is not None:
        query = query.where(Reminder.invoice_id == filters.invoice_id)
    if filters.client_id is not None:
        query = query.where(
            Reminder.invoice_id.in_(
                select(Invoice.id).where(
                    Invoice.client_id == filters.client_id, Invoice.user_id == user_id
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Reminder.scheduled_for.desc(), Reminder.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows), total


def cancel_scheduled(
    session: Session, *, invoice_id: int, reason: str, now: datetime
) -> list[Reminder]:
    """Withdraw every reminder of the invoice not yet sent, and its pending email."""
    reminders = list(
        session.scalars(
            select(Reminder).where(Reminder.invoice_id == invoice_id, Reminder.state == "scheduled")
        )
    )
    for reminder in reminders:
        cancel_one(session, reminder, reason=reason, now=now)
        add_activity(
            session,
            user_id=reminder.user_id,
            invoice_id=invoice_id,
            kind="reminder_cancelled",
            detail=f"{reminder.tone} reminder ({reminder.offset_days:+d} days): {reason}",
            now=now,
        )
    return reminders


def cancel_one(session: Session, reminder: Reminder, *, reason: str, now: datetime) -> None:
    reminder.state = "cancelled"
    reminder.reason = reason
    reminder.updated_at = now
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.reminder_id == reminder.id,
            OutboxMessage.status.in_(("pending", "dead")),
        )
        .values(status="cancelled", last_error=reason, updated_at=now)
    )
    session.flush()


def outbox_for(session: Session, reminder_id: int) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.reminder_id == reminder_id))


def activity_for(session: Session, invoice_id: int) -> list[InvoiceActivity]:
    query = (
        select(InvoiceActivity)
        .where(InvoiceActivity.invoice_id == invoice_id)
        .order_by(InvoiceActivity.id)
    )
    return list(session.scalars(query))


def cancel_scheduled_for_client(
    session: Session, *, client_id: int, reason: str, now: datetime
) -> None:
    invoice_ids = session.scalars(select(Invoice.id).where(Invoice.client_id == client_id))
    for invoice_id in list(invoice_ids):
        cancel_scheduled(session, invoice_id=invoice_id, reason=reason, now=now)


def cancel_scheduled_for_user(
    session: Session, *, user_id: int, reason: str, now: datetime
) -> None:
    invoice_ids = session.scalars(
        select(Reminder.invoice_id)
        .where(Reminder.user_id == user_id, Reminder.state == "scheduled")
        .distinct()
    )
    for invoice_id in list(invoice_ids):
        cancel_scheduled(session, invoice_id=invoice_id, reason=reason, now=now)


def scheduled_with_invoices(
    session: Session, *, user_id: int, limit: int
) -> Sequence[Row[tuple[Reminder, Invoice, Client]]]:
    """The account's reminders waiting to be sent (``scheduled``: their email is in the
    outbox), soonest first, with their invoice and client. Read-only."""
    query = (
        select(Reminder, Invoice, Client)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .join(Client, Client.id == Invoice.client_id)
        .where(Reminder.user_id == user_id, Reminder.state == "scheduled")
        .order_by(Reminder.scheduled_for, Reminder.id)
        .limit(limit)
    )
    return session.execute(query).all()


def failed_on_open_invoices(
    session: Session, *, user_id: int, limit: int
) -> tuple[Sequence[Row[tuple[Reminder, Invoice, Client]]], int]:
    """The account's reminders that could not be sent, on invoices still open, latest
    first, with their invoice and client (at most ``limit``), and how many there are."""
    where = (Reminder.user_id == user_id, Reminder.state == "failed", Invoice.status == "open")
    query = (
        select(Reminder, Invoice, Client)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .join(Client, Client.id == Invoice.client_id)
        .where(*where)
        .order_by(Reminder.updated_at.desc(), Reminder.id.desc())
        .limit(limit)
    )
    total = session.scalar(
        select(func.count())
        .select_from(Reminder)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .where(*where)
    )
    return session.execute(query).all(), total or 0


def open_invoices_due_between(
    session: Session, *, user_id: int, first: date, last: date, limit: int
) -> Sequence[Row[tuple[Invoice, Client]]]:
    """The account's open invoices due from ``first`` to ``last``, with their client,
    earliest due first (at most ``limit``). Read-only."""
    query = (
        select(Invoice, Client)
        .join(Client, Client.id == Invoice.client_id)
        .where(
            Invoice.user_id == user_id,
            Invoice.status == "open",
            Invoice.due_date >= first,
            Invoice.due_date <= last,
        )
        .order_by(Invoice.due_date, Invoice.id)
        .limit(limit)
    )
    return session.execute(query).all()


def client_policies(session: Session, *, user_id: int) -> list[dict]:
    """The account's clients' own reminder policies (most clients have none)."""
    query = select(Client.reminder_policy).where(
        Client.user_id == user_id, Client.reminder_policy.is_not(None)
    )
    return [policy for policy in session.scalars(query) if policy is not None]


def open_invoices_due_by(
    session: Session, *, after_id: int, limit: int, due_by: date
) -> Sequence[Row[tuple[Invoice, Client, User]]]:
    """Like ``open_invoices_after``, without the invoices due after ``due_by``: the database
    skips them, in the same id order, so a pass still reads each invoice at most once."""
    query = (
        select(Invoice, Client, User)
        .join(Client, Client.id == Invoice.client_id)
        .join(User, User.id == Invoice.user_id)
        .where(Invoice.status == "open", Invoice.id > after_id, Invoice.due_date <= due_by)
        .order_by(Invoice.id)
        .limit(limit)
    )
    return session.execute(query).all()


def insert_many(session: Session, model: type[Base], rows: list[dict[str, object]]) -> None:
    """Rows of one table, in the session's transaction. On PostgreSQL through ``COPY``:
    a multi-row ``INSERT`` spent most of a large pass having its parameters parsed, by
    psycopg and then by the server. Elsewhere (SQLite) a multi-row ``INSERT``. A unique
    key that refuses a row raises IntegrityError either way."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table = model.__table__
    names = list(rows[0])
    copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(table.name),
        psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(name) for name in names),
    )
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in json_columns else row[n] for n in names])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(str(copy_sql), None, exc) from exc
    finally:
        cursor.close()
