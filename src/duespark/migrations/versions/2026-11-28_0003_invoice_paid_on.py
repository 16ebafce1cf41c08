"""invoice.paid_on: the payment's date in the account's time zone, and two indexes

Analytics does date arithmetic in SQL (days late, aging, payments in the last 30 days),
which needs the payment as a date: ``paid_at`` is a UTC instant, and which calendar day it
fell on depends on the account's time zone. The backfill derives each paid invoice's date
from ``paid_at`` in its account's zone, as ``invoices.service.mark_paid`` does from now on.
Analytics also reads an account's payments of a window and its sales of a window, hence
the indexes on (user_id, paid_on) and (user_id, issue_date).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000

invoice = sa.table(
    "invoice",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("paid_at", sa.DateTime(timezone=True)),
    sa.column("paid_on", sa.Date()),
)
user_account = sa.table(
    "user_account", sa.column("id", sa.Integer()), sa.column("time_zone", sa.String())
)


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_user_id_paid_on", ["user_id", "paid_on"], unique=False)
        batch_op.create_index(
            "ix_invoice_user_id_issue_date", ["user_id", "issue_date"], unique=False
        )


def _backfill(connection: sa.Connection) -> None:
    """Set paid_on for every invoice with a paid_at, in batches of ids (so memory stays flat
    on a large table). Each account's zone is read once, and the date is computed by Python's
    zoneinfo, the same code that computes it for new payments."""
    zones = {
        user_id: ZoneInfo(zone)
        for user_id, zone in connection.execute(
            sa.select(user_account.c.id, user_account.c.time_zone)
        )
    }
    after = 0
    while True:
        rows = connection.execute(
            sa.select(invoice.c.id, invoice.c.user_id, invoice.c.paid_at)
            .where(invoice.c.paid_at.is_not(None), invoice.c.id > after)
            .order_by(invoice.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(invoice)
            .where(invoice.c.id == sa.bindparam("invoice_id"))
            .values(paid_on=sa.bindparam("local_date")),
            [
                {"invoice_id": row.id, "local_date": _local_date(row.paid_at, zones[row.user_id])}
                for row in rows
            ],
        )
        after = rows[-1].id


def _local_date(paid_at: datetime, zone: ZoneInfo) -> date:
    # SQLite hands back the stored UTC instant without its zone; PostgreSQL with it.
    if paid_at.tzinfo is None:
        paid_at = paid_at.replace(tzinfo=UTC)
    return paid_at.astimezone(zone).date()


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_user_id_issue_date")
        batch_op.drop_index("ix_invoice_user_id_paid_on")
        batch_op.drop_column("paid_on")
