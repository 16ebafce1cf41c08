"""Every analytics query: aggregates computed by the database, scoped to one account.

Each query returns one row per currency (and band: ``bands.py``), per client or per
reminder step, never one per invoice. Sums of money and of days come back as integers;
averages and shares are divided in Python from them (``ratios.py``), so both databases
agree exactly.

The books as they stood at the end of ``as_of``:

* counted: status open or paid (drafts and voids never count) and issued on or before as_of;
* open at as_of: status open, or paid after as_of; its open balance is its amount;
* paid by as_of: status paid with ``paid_on`` on or before as_of; its paid amount is
  ``amount_paid_minor`` when set, else its amount.

Each query reads only the rows its figures need, through an index: open invoices
(``status``), payments of the history window (``paid_on``), invoices issued in the DSO
months (``issue_date``). Window bounds are dates computed in Python (``periods.py``,
``aging.py``) and compared with plain ``<=``; only differences between two columns of a
row go through ``sql_dialect.days_between``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from duespark.analytics.aging import BUCKETS
from duespark.analytics.bands import Families
from duespark.analytics.periods import FORECAST_WEEKS, Periods, day_start
from duespark.analytics.ratios import WEIGHT_SPLIT
from duespark.analytics.sql_dialect import (
    date_value,
    days_between,
    integer_pairs,
    local_date,
    prepare,
    zone_value,
)
from duespark.models import Client, Invoice, Reminder


def _counted(user_id: int, as_of: date) -> list[ColumnElement[bool]]:
    return [
        Invoice.user_id == user_id,
        Invoice.status.in_(("open", "paid")),
        Invoice.issue_date <= date_value(as_of),
    ]


def _open_at(as_of: date) -> ColumnElement[bool]:
    return or_(
        Invoice.status == "open",
        and_(Invoice.status == "paid", Invoice.paid_on > date_value(as_of)),
    )


def _paid_between(first: date, last: date) -> ColumnElement[bool]:
    return and_(
        Invoice.status == "paid",
        Invoice.paid_on >= date_value(first),
        Invoice.paid_on <= date_value(last),
    )


def _paid_amount() -> ColumnElement[int]:
    return func.coalesce(Invoice.amount_paid_minor, Invoice.amount_minor)


def _sum(value: ColumnElement[Any], where: ColumnElement[bool] | None = None) -> Any:
    total = func.sum(value) if where is None else func.sum(value).filter(where)
    return func.coalesce(total, 0)


def _count(where: ColumnElement[bool] | None = None) -> Any:
    return func.count() if where is None else func.count().filter(where)


def _between(value: ColumnElement[Any], first: Any, last: Any) -> ColumnElement[bool]:
    bounds = []
    if first is not None:
        bounds.append(value >= first)
    if last is not None:
        bounds.append(value <= last)
    return and_(*bounds)


def _weighted(weight: ColumnElement[int], days: ColumnElement[int], name: str) -> list[Any]:
    """Two sums that make sum(weight x days) without overflowing: see WEIGHT_SPLIT."""
    return [
        _sum((weight // WEIGHT_SPLIT) * days).label(f"{name}_high"),
        _sum((weight % WEIGHT_SPLIT) * days).label(f"{name}_low"),
    ]


def open_figures(
    session: Session, *, user_id: int, periods: Periods, shifts: Mapping[int, int]
) -> list[dict[str, Any]]:
    """Per currency, over the invoices open at as_of: ``outstanding``, ``overdue``, each
    aging bucket and each forecast week (``week_<k>``, ``later``), as ``<name>_amount`` and
    ``<name>_count`` (absent: 0). The expected payment date is ``max(as_of, due_date +
    shift)``, where ``shifts`` maps a client to its usual lateness in whole days (absent:
    0); week k holds [as_of + 7k, as_of + 7k + 6].

    The invoices are grouped by which band of each family they fall in (see ``bands.py``),
    a few dozen rows, and the bands are summed here: one sum and one count per row instead
    of a filtered sum and count per figure, which cost more than reading the rows."""
    as_of = periods.as_of
    # Days from as_of to the expected date (0 or less: as_of itself, week 0).
    ahead: ColumnElement[int] = days_between(Invoice.due_date, date_value(as_of))
    shift_table = None
    if shifts:
        shift_table = integer_pairs(session, shifts, name="shifts", key="client_id", value="shift")
        ahead = ahead + func.coalesce(shift_table.c.shift, 0)
    overdue = {"overdue": Invoice.due_date < date_value(as_of)}
    aging = {}
    for bucket in BUCKETS:
        earliest, latest = bucket.due_dates(as_of)
        aging[bucket.key] = _between(
            Invoice.due_date,
            None if earliest is None else date_value(earliest),
            None if latest is None else date_value(latest),
        )
    weeks = {
        f"week_{week}": _between(ahead, None if week == 0 else 7 * week, 7 * week + 6)
        for week in range(FORECAST_WEEKS)
    }
    weeks["later"] = ahead >= 7 * FORECAST_WEEKS
    families = Families(overdue=overdue, aging=aging, weeks=weeks)
    keys = families.keys()
    query = select(
        Invoice.currency.label("currency"),
        *keys,
        _sum(Invoice.amount_minor).label("amount"),
        _count().label("count"),
    )
    if shift_table is not None:
        query = query.outerjoin(shift_table, shift_table.c.client_id == Invoice.client_id)
    query = query.where(*_counted(user_id, as_of), _open_at(as_of)).group_by(
        Invoice.currency, *keys
    )
    return families.fold(_rows(session, query), always=("outstanding",))


def monthly_sales(session: Session, *, user_id: int, periods: Periods) -> list[dict[str, Any]]:
    """Per currency, the credit sales (amounts of counted invoices, by issue date) of each
    DSO month: ``sales_0`` (the month of as_of, up to as_of) to ``sales_11`` (absent: 0).
    Grouped by month (``bands.py``) rather than one filtered sum per month."""
    months = periods.months
    families = Families(
        sales={
            f"sales_{number}": _between(
                Invoice.issue_date, date_value(month.start), date_value(month.end)
            )
            for number, month in enumerate(months)
        }
    )
    keys = families.keys()
    query = (
        select(
            Invoice.currency.label("currency"),
            *keys,
            _sum(Invoice.amount_minor).label("amount"),
            _count().label("count"),
        )
        .where(
            *_counted(user_id, periods.as_of),
            Invoice.issue_date >= date_value(months[-1].start),
        )
        .group_by(Invoice.currency, *keys)
    )
    return [
        {key.removesuffix("_amount"): value for key, value in row.items() if "_count" not in key}
        for row in families.fold(_rows(session, query))
    ]


def payment_history(session: Session, *, user_id: int, periods: Periods) -> list[dict[str, Any]]:
    """The payments of the history window, one row per currency and client (with the
    client's ``name``): ``paid`` (how many), ``paid_weight`` (their paid amounts),
    ``late_total``/``to_pay_total`` (days late, days to pay) with their amount-weighted sums
    (``late_weighted_high``/``_low`` ...: see ``_weighted``), and
    ``paid_<n>_amount``/``_count`` for the last 30 and 90 days. Per-currency figures and
    each client's lateness are both sums of these rows, so one pass serves both."""
    as_of = periods.as_of
    weight = _paid_amount()
    late = days_between(Invoice.paid_on, Invoice.due_date)
    to_pay = days_between(Invoice.paid_on, Invoice.issue_date)
    columns = [
        _count().label("paid"),
        _sum(weight).label("paid_weight"),
        _sum(late).label("late_total"),
        *_weighted(weight, late, "late_weighted"),
        _sum(to_pay).label("to_pay_total"),
        *_weighted(weight, to_pay, "to_pay_weighted"),
    ]
    for days in (30, 90):
        recent = Invoice.paid_on >= date_value(periods.paid_since(days))
        columns += [
            _sum(weight, recent).label(f"paid_{days}_amount"),
            _count(recent).label(f"paid_{days}_count"),
        ]
    per_client = (
        select(Invoice.currency.label("currency"), Invoice.client_id.label("client_id"), *columns)
        .where(*_counted(user_id, as_of), _paid_between(periods.history_start, as_of))
        .group_by(Invoice.currency, Invoice.client_id)
        .subquery()
    )
    query = select(per_client, Client.name.label("name")).join(
        Client, Client.id == per_client.c.client_id
    )
    return _rows(session, query)


def reminder_effectiveness(
    session: Session, *, user_id: int, periods: Periods, time_zone: str
) -> list[tuple[Any, ...]]:
    """(offset_days, sent, paid_within) per reminder step, over the reminders sent on a date
    (in the account's zone) from the history window's first day to as_of - 7, of counted
    invoices: how many, and how many invoices were paid 0 to 7 days after the send date.

    Shaped for the indexes: a payment within the week after a send in the window lies in
    the history window, so each reminder is joined to its invoice among those payments
    only; such an invoice is counted. Only for a reminder without one is its invoice looked
    up (by primary key) to see whether it is one of the few drafts, voids or invoices
    issued after as_of, which the query plans showed cheaper than collecting all of those
    for an anti-join."""
    prepare(session)
    # Sent on a date from history_start to last_effective_send, as instants: the first
    # instant of the one, up to (not including) the first instant of the day after the other.
    first = day_start(periods.history_start, time_zone)
    end = day_start(periods.last_effective_send + timedelta(days=1), time_zone)
    as_of = date_value(periods.as_of)
    uncounted = aliased(Invoice)
    payment = aliased(Invoice)
    after = days_between(payment.paid_on, local_date(Reminder.sent_at, zone_value(time_zone)))
    counted = or_(
        payment.id.is_not(None),
        ~exists().where(
            uncounted.id == Reminder.invoice_id,
            uncounted.user_id == user_id,
            or_(uncounted.status.in_(("draft", "void")), uncounted.issue_date > as_of),
        ),
    )
    query = (
        select(Reminder.offset_days, _count(counted), _count(and_(after >= 0, after <= 7)))
        .outerjoin(
            payment,
            and_(
                payment.id == Reminder.invoice_id,
                payment.user_id == user_id,
                payment.status == "paid",
                payment.issue_date <= as_of,
                payment.paid_on >= date_value(periods.history_start),
                payment.paid_on <= as_of,
            ),
        )
        .where(
            Reminder.user_id == user_id,
            Reminder.state == "sent",
            Reminder.sent_at >= first,
            Reminder.sent_at < end,
        )
        .group_by(Reminder.offset_days)
        .order_by(Reminder.offset_days)
    )
    # A step whose every reminder is of an uncounted invoice has no row in the original
    # sense (it sent nothing that counts): drop it.
    return [row for row in map(_ints, session.execute(query)) if row[1]]


@dataclass(frozen=True)
class ClientHistory:
    paid: int
    on_time: int
    late_total: int


def client_open_balances(
    session: Session, *, user_id: int, client_id: int, as_of: date
) -> list[tuple[Any, ...]]:
    """(currency, amount, count) of the client's invoices open at as_of."""
    query = (
        select(Invoice.currency, func.sum(Invoice.amount_minor), func.count())
        .where(*_counted(user_id, as_of), Invoice.client_id == client_id, _open_at(as_of))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    return [_ints(row) for row in session.execute(query)]


def client_history(
    session: Session, *, user_id: int, client_id: int, periods: Periods
) -> ClientHistory:
    """The client's payments in the history window: how many, how many on or before the due
    date, and their total days late."""
    late = days_between(Invoice.paid_on, Invoice.due_date)
    query = select(func.count(), _count(Invoice.paid_on <= Invoice.due_date), _sum(late)).where(
        *_counted(user_id, periods.as_of),
        Invoice.client_id == client_id,
        _paid_between(periods.history_start, periods.as_of),
    )
    paid, on_time, late_total = session.execute(query).one()
    return ClientHistory(int(paid), int(on_time), int(late_total))


def client_last_payment(
    session: Session, *, user_id: int, client_id: int, as_of: date
) -> Invoice | None:
    """The client's latest payment on or before as_of (the highest id among one day's)."""
    query = (
        select(Invoice)
        .where(
            *_counted(user_id, as_of),
            Invoice.client_id == client_id,
            Invoice.status == "paid",
            Invoice.paid_on <= date_value(as_of),
        )
        .order_by(Invoice.paid_on.desc(), Invoice.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _rows(session: Session, query: Any) -> list[dict[str, Any]]:
    """The rows as dicts of whole numbers (PostgreSQL sums integers as NUMERIC, Decimal),
    text (``currency``, ``name``) and NULL (a row in no band of a family)."""
    prepare(session)
    return [
        {
            key: value if value is None or isinstance(value, str) else int(value)
            for key, value in row.items()
        }
        for row in session.execute(query).mappings()
    ]


def _ints(row: Row[Any]) -> tuple[Any, ...]:
    return tuple(value if isinstance(value, str) else int(value) for value in row)
