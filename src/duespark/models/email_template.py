"""An account's own wording for one tone of reminder (subject and body)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps


class EmailTemplate(Timestamps, Base):
    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("user_id", "tone", name="uq_email_template_user_id_tone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    tone: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
