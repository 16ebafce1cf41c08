"""invoice (user_id, due_date, id): the invoice list's default order, read from an index

``GET /invoices`` and the pages list an account's invoices earliest due first, then by id.
Without an index in that order every page sorted all of the account's invoices: 0.7 s for
a page of 50 out of 1,000,000 on PostgreSQL, 0.2 ms with it. The same index, read
backwards, serves the latest-due-first order.

On PostgreSQL the index is built ``CONCURRENTLY`` (outside the migration's transaction),
so writes to the invoices go on while it builds, as docs/deploy.md asks of new indexes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 17:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_invoice_user_id_due_date_id"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            NAME,
            "invoice",
            ["user_id", "due_date", "id"],
            unique=False,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name="invoice", postgresql_concurrently=True)
