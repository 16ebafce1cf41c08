"""Analytics use cases: the account's summary and one client's payment record.

Read-only. Every figure describes the books as they stood at the end of ``as_of`` (by
default today in the account's time zone), so the same request gives the same answer
tomorrow. The database does the aggregating (``repository.py``); this module checks the
date, asks for the few aggregate rows and assembles them (``history.py``, ``figures.py``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from duespark.analytics import figures, ratios
from duespark.analytics import repository as analytics_repository
from duespark.analytics.history import PaymentHistory
from duespark.analytics.periods import EARLIEST_AS_OF, Periods
from duespark.clients import service as client_service
from duespark.clock import local_today
from duespark.errors import InvalidInput
from duespark.models import User


def resolve_as_of(as_of: date | None, user: User, now: datetime) -> date:
    """``as_of``, or today in the account's zone. The books of a day that has not ended yet
    in the account's zone do not exist, and nothing is dated before 1970."""
    today = local_today(now, user.time_zone)
    if as_of is None:
        return today
    if as_of > today:
        raise InvalidInput(
            f"as_of cannot be after today ({today.isoformat()} in {user.time_zone}).",
            field="as_of",
        )
    if as_of < EARLIEST_AS_OF:
        raise InvalidInput(f"as_of cannot be before {EARLIEST_AS_OF.isoformat()}.", field="as_of")
    return as_of


def summary(session: Session, user: User, *, as_of: date | None, now: datetime) -> figures.Summary:
    periods = Periods(resolve_as_of(as_of, user, now))
    repository, user_id = analytics_repository, user.id
    history = PaymentHistory.from_rows(
        repository.payment_history(session, user_id=user_id, periods=periods)
    )
    currencies = figures.currency_summaries(
        repository.open_figures(session, user_id=user_id, periods=periods, shifts=history.shifts()),
        [{"currency": currency, **sums} for currency, sums in history.by_currency.items()],
        repository.monthly_sales(session, user_id=user_id, periods=periods),
        periods,
    )
    steps = repository.reminder_effectiveness(
        session, user_id=user_id, periods=periods, time_zone=user.time_zone
    )
    return figures.Summary(
        as_of=periods.as_of,
        history_start=periods.history_start,
        currencies=currencies,
        latest_payers=[figures.late_payer(client) for client in history.latest_payers()],
        reminder_effectiveness=[figures.step_effectiveness(row) for row in steps],
    )


def client_stats(
    session: Session, user: User, client_id: int, *, as_of: date | None, now: datetime
) -> figures.ClientStats:
    """The client's open balance, on-time rate, average days late and last payment.
    Another account's client is NotFound, as everywhere."""
    client = client_service.get_client(session, user, client_id)
    periods = Periods(resolve_as_of(as_of, user, now))
    balances = analytics_repository.client_open_balances(
        session, user_id=user.id, client_id=client.id, as_of=periods.as_of
    )
    history = analytics_repository.client_history(
        session, user_id=user.id, client_id=client.id, periods=periods
    )
    last = analytics_repository.client_last_payment(
        session, user_id=user.id, client_id=client.id, as_of=periods.as_of
    )
    return figures.ClientStats(
        client_id=client.id,
        as_of=periods.as_of,
        history_start=periods.history_start,
        open_balance={
            currency: figures.Total(amount, count) for currency, amount, count in balances
        },
        paid_invoices=history.paid,
        on_time_rate=ratios.share(history.on_time, history.paid),
        average_days_late=ratios.average(history.late_total, history.paid),
        last_payment=(
            figures.LastPayment(
                invoice_id=last.id,
                number=last.number,
                paid_on=last.paid_on,
                amount=(
                    last.amount_paid_minor
                    if last.amount_paid_minor is not None
                    else last.amount_minor
                ),
                currency=last.currency,
            )
            if last is not None and last.paid_on is not None
            else None
        ),
    )
