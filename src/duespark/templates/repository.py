"""Every query about email templates. Each one is scoped to an account."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duespark.models import EmailTemplate


def get(session: Session, *, user_id: int, tone: str) -> EmailTemplate | None:
    return session.scalar(
        select(EmailTemplate).where(EmailTemplate.user_id == user_id, EmailTemplate.tone == tone)
    )


def list_for_user(session: Session, *, user_id: int) -> list[EmailTemplate]:
    return list(session.scalars(select(EmailTemplate).where(EmailTemplate.user_id == user_id)))


def add(session: Session, template: EmailTemplate) -> None:
    session.add(template)
    session.flush()


def delete_for_tone(session: Session, *, user_id: int, tone: str) -> None:
    session.execute(
        delete(EmailTemplate).where(EmailTemplate.user_id == user_id, EmailTemplate.tone == tone)
    )
