"""What needs the freelancer: the reminders of open invoices that could not be sent.

Read-only, for the dashboard. A reminder fails when its email cannot be made (an address
the sender refuses, a client's time zone it cannot read) or when every delivery attempt
failed; the worker records the reason and goes on with everyone else's reminders, and
the freelancer fixes the client and sends the step again from the invoice's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from duespark.models import User
from duespark.reminders import repository as reminder_repository
from duespark.reminders.policy import Tone

LIMIT = 10


@dataclass(frozen=True)
class FailedReminder:
    invoice_id: int
    invoice_number: str
    client_id: int
    client_name: str
    offset_days: int
    tone: Tone
    reason: str
    at: datetime


def failed_reminders(
    session: Session, user: User, *, limit: int = LIMIT
) -> tuple[list[FailedReminder], int]:
    """The latest failed reminders of the account's open invoices, and how many in all."""
    rows, total = reminder_repository.failed_on_open_invoices(session, user_id=user.id, limit=limit)
    found = [
        FailedReminder(
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            client_id=client.id,
            client_name=client.name,
            offset_days=reminder.offset_days,
            tone=Tone(reminder.tone),
            reason=reminder.reason,
            at=reminder.updated_at,
        )
        for reminder, invoice, client in rows
    ]
    return found, total
