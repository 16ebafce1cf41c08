"""Idempotency keys: the answer to a create request, kept so a retry gets the same answer.

A client that is not sure its ``POST`` arrived (a timeout, a dropped connection) sends it
again with the same ``Idempotency-Key`` header. The first request stores its answer here in
the same transaction that creates the resource; the unique key makes concurrent duplicates
wait for that transaction and then replay its answer instead of creating a second resource.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "scope", "key", name="uq_idempotency_key_user_id_scope_key"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    # The operation, as "METHOD /route/{template}": a key means one thing per operation.
    scope: Mapped[str] = mapped_column(String(200), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    # SHA-256 of the concrete path and the parsed body: a reused key must carry the same request.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # Filled in the transaction that claimed the key, so no other transaction sees them empty.
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
