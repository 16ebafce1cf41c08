"""The invoice state machine and the overdue rule, as pure functions.

::

    draft ──open──▶ open ──mark_paid──▶ paid
      │  ◀──draft──  │                    │
      │              │                    │
      └────void──────┴──void──▶ void      │
                                 │        │
               open ◀──reopen────┴────────┘

An invoice is overdue when it is open and its due date has passed in the account's time
zone; a paid, void or draft invoice is never overdue.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class InvoiceStatus(StrEnum):
    draft = "draft"
    open = "open"
    paid = "paid"
    void = "void"


class Action(StrEnum):
    open = "open"
    draft = "draft"
    mark_paid = "mark_paid"
    void = "void"
    reopen = "reopen"


TRANSITIONS: dict[tuple[InvoiceStatus, Action], InvoiceStatus] = {
    (InvoiceStatus.draft, Action.open): InvoiceStatus.open,
    (InvoiceStatus.open, Action.draft): InvoiceStatus.draft,
    (InvoiceStatus.open, Action.mark_paid): InvoiceStatus.paid,
    (InvoiceStatus.draft, Action.void): InvoiceStatus.void,
    (InvoiceStatus.open, Action.void): InvoiceStatus.void,
    (InvoiceStatus.paid, Action.reopen): InvoiceStatus.open,
    (InvoiceStatus.void, Action.reopen): InvoiceStatus.open,
}


class TransitionRefused(Exception):
    def __init__(self, status: InvoiceStatus, action: Action) -> None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == status)
        super().__init__(
            f"A {status.value} invoice cannot be {_PAST[action]}"
            + (f"; allowed: {', '.join(allowed)}." if allowed else ".")
        )


_PAST = {
    Action.open: "opened",
    Action.draft: "turned back into a draft",
    Action.mark_paid: "marked paid",
    Action.void: "voided",
    Action.reopen: "reopened",
}


def next_status(status: InvoiceStatus, action: Action) -> InvoiceStatus:
    """The status after ``action``, or TransitionRefused."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise TransitionRefused(status, action) from None


def days_overdue(*, status: InvoiceStatus, due_date: date, today: date) -> int:
    """Whole days past the due date for an open invoice; 0 otherwise."""
    if status is not InvoiceStatus.open:
        return 0
    return max(0, (today - due_date).days)


def is_overdue(*, status: InvoiceStatus, due_date: date, today: date) -> bool:
    return days_overdue(status=status, due_date=due_date, today=today) > 0
