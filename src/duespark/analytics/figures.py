"""The figures as the service returns them, and how they are assembled from the aggregate
rows the repository returns. Amounts stay integer minor units of one currency here; the
schemas turn them into decimal strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from duespark.analytics import ratios
from duespark.analytics.aging import BUCKETS
from duespark.analytics.dso import Dso, MonthSales, countback
from duespark.analytics.history import ClientLateness
from duespark.analytics.periods import Periods
from duespark.analytics.ratios import WEIGHT_SPLIT


@dataclass(frozen=True)
class Total:
    """An amount of one currency, in minor units, and how many invoices make it."""

    amount: int = 0
    count: int = 0


@dataclass(frozen=True)
class Timing:
    """Average days over the payments of the history window; None without payments."""

    invoices: int
    average: Decimal | None
    weighted_average: Decimal | None


@dataclass(frozen=True)
class Week:
    start: date
    end: date
    total: Total


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    outstanding: Total
    overdue: Total
    paid_last_30_days: Total
    paid_last_90_days: Total
    aging: dict[str, Total]
    dso: Dso
    days_to_pay: Timing
    days_late: Timing
    expected_weeks: list[Week]
    expected_later: Total


@dataclass(frozen=True)
class LatePayer:
    client_id: int
    name: str
    paid_invoices: int
    average_days_late: Decimal


@dataclass(frozen=True)
class StepEffectiveness:
    offset_days: int
    sent: int
    paid_within_7_days: int
    share: Decimal | None


@dataclass(frozen=True)
class Summary:
    as_of: date
    history_start: date
    currencies: list[CurrencySummary]
    latest_payers: list[LatePayer]
    reminder_effectiveness: list[StepEffectiveness]


@dataclass(frozen=True)
class LastPayment:
    invoice_id: int
    number: str
    paid_on: date
    amount: int
    currency: str


@dataclass(frozen=True)
class ClientStats:
    client_id: int
    as_of: date
    history_start: date
    open_balance: dict[str, Total]
    paid_invoices: int
    on_time_rate: Decimal | None
    average_days_late: Decimal | None
    last_payment: LastPayment | None


def currency_summary(
    currency: str,
    opened: Mapping[str, int],
    paid: Mapping[str, int],
    sales: Mapping[str, int],
    periods: Periods,
) -> CurrencySummary:
    """One currency's figures from its rows of the three per-currency queries (an empty
    mapping where the currency has no row: nothing open, paid or sold)."""

    def total(row: Mapping[str, int], name: str) -> Total:
        return Total(row.get(f"{name}_amount", 0), row.get(f"{name}_count", 0))

    months = [
        MonthSales(sales=sales.get(f"sales_{number}", 0), days=month.days)
        for number, month in enumerate(periods.months)
    ]
    count, weight = paid.get("paid", 0), paid.get("paid_weight", 0)
    return CurrencySummary(
        currency=currency,
        outstanding=total(opened, "outstanding"),
        overdue=total(opened, "overdue"),
        paid_last_30_days=total(paid, "paid_30"),
        paid_last_90_days=total(paid, "paid_90"),
        aging={bucket.key: total(opened, bucket.key) for bucket in BUCKETS},
        dso=countback(opened.get("outstanding_amount", 0), months),
        days_to_pay=Timing(
            count,
            ratios.average(paid.get("to_pay_total", 0), count),
            ratios.average(_weighted(paid, "to_pay_weighted"), weight),
        ),
        days_late=Timing(
            count,
            ratios.average(paid.get("late_total", 0), count),
            ratios.average(_weighted(paid, "late_weighted"), weight),
        ),
        expected_weeks=[
            Week(start, start + timedelta(days=6), total(opened, f"week_{number}"))
            for number, start in enumerate(periods.week_starts)
        ],
        expected_later=total(opened, "later"),
    )


def _weighted(row: Mapping[str, int], name: str) -> int:
    """Reassemble a weighted sum split by the repository (``WEIGHT_SPLIT``)."""
    return row.get(f"{name}_high", 0) * WEIGHT_SPLIT + row.get(f"{name}_low", 0)


def currency_summaries(
    opened: Iterable[Mapping[str, Any]],
    paid: Iterable[Mapping[str, Any]],
    sales: Iterable[Mapping[str, Any]],
    periods: Periods,
) -> list[CurrencySummary]:
    """Every currency that has an invoice open at as_of, a payment in the history window or
    a sale in the DSO months, in code order."""
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for position, rows in enumerate((opened, paid, sales)):
        for row in rows:
            by_currency.setdefault(row["currency"], [{}, {}, {}])[position] = dict(row)
    return [
        currency_summary(currency, *by_currency[currency], periods)
        for currency in sorted(by_currency)
    ]


def late_payer(client: ClientLateness) -> LatePayer:
    average = ratios.average(client.late_total, client.paid)
    assert average is not None  # a client has lateness only with at least one payment
    return LatePayer(client.client_id, client.name, client.paid, average)


def step_effectiveness(row: tuple[int, int, int]) -> StepEffectiveness:
    offset_days, sent, paid_within = row
    return StepEffectiveness(offset_days, sent, paid_within, ratios.share(paid_within, sent))
