"""May a reminder still go out? Asked in the transaction that claims its email.

"Never after payment" cannot rely on the payment code cancelling every queued email in
time: a reminder is written hours before it is sent, and the invoice can be paid, voided or
paused in between. So the relay asks again, with the rows it has just locked, and withdraws
the email instead of claiming it when the answer is no. Pure: the rows and ``today`` in,
a reason (or None) out.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

PAID_REASON = "invoice was paid before sending"
VOID_REASON = "invoice was voided before sending"
PAUSED_REASON = "reminders were paused"


class Pausable(Protocol):
    reminders_paused: bool
    reminders_paused_until: date | None


class InvoiceLike(Pausable, Protocol):
    status: str


class ReminderLike(Protocol):
    state: str
    reason: str


def reason_not_to_send(
    *,
    invoice: InvoiceLike,
    reminder: ReminderLike,
    pauses: tuple[Pausable, ...] = (),
    today: date,
) -> str | None:
    """Why this reminder must not be sent now, or None when it may.

    ``pauses`` are the other levels that can pause reminders (the client, the account);
    the invoice's own pause is always checked. A pause "until D" holds through D, judged in
    the client's time zone, exactly as planning judges it.
    The invoice's state is checked before the reminder's so the reason names the cause
    (paid) rather than its consequence (the reminder was cancelled).
    """
    if invoice.status == "paid":
        return PAID_REASON
    if invoice.status == "void":
        return VOID_REASON
    if invoice.status != "open":
        return f"invoice is {invoice.status}, not open"
    if reminder.state != "scheduled":
        detail = f": {reminder.reason}" if reminder.reason else ""
        return f"reminder is {reminder.state}{detail}"
    for row in (invoice, *pauses):
        if row.reminders_paused:
            return PAUSED_REASON
        if row.reminders_paused_until is not None and today <= row.reminders_paused_until:
            return f"reminders are paused until {row.reminders_paused_until.isoformat()}"
    return None
