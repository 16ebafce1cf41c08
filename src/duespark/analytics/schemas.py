"""Response bodies of the analytics endpoints.

Money is a decimal string in its currency's precision, one object per currency, never a sum
across currencies. Days and shares are JSON numbers rounded as ``ratios.py`` says, or null
when there is no data to compute them from.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from duespark.analytics import figures
from duespark.kit.money import format_amount


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class TotalRead(BaseModel):
    amount: str = Field(description="Decimal string in the currency's precision.")
    count: int = Field(description="How many invoices make the amount.")

    @classmethod
    def of(cls, total: figures.Total, currency: str) -> TotalRead:
        return cls(amount=format_amount(total.amount, currency), count=total.count)


class AgingRead(BaseModel):
    """Open balances by days past due at as_of (as_of - due_date)."""

    current: TotalRead = Field(description="Not yet due, or due on as_of.")
    days_1_30: TotalRead
    days_31_60: TotalRead
    days_61_90: TotalRead
    days_over_90: TotalRead


class DsoRead(BaseModel):
    days: float | None = Field(description="Countback DSO, one decimal place.")
    reason: str | None = Field(
        description='Why days is null: "no_sales" or "receivables_exceed_12_months_of_sales".'
    )


class TimingRead(BaseModel):
    invoices: int = Field(description="Payments in the history window.")
    average: float | None
    weighted_average: float | None = Field(description="Weighted by the amount paid.")

    @classmethod
    def of(cls, timing: figures.Timing) -> TimingRead:
        return cls(
            invoices=timing.invoices,
            average=_number(timing.average),
            weighted_average=_number(timing.weighted_average),
        )


class WeekRead(BaseModel):
    start: date
    end: date
    amount: str
    count: int


class ExpectedPaymentsRead(BaseModel):
    weeks: list[WeekRead] = Field(description="Eight weeks: [as_of + 7k, as_of + 7k + 6].")
    later: TotalRead = Field(description="Expected after the eighth week.")


class CurrencySummaryRead(BaseModel):
    currency: str
    outstanding: TotalRead
    overdue: TotalRead
    paid_last_30_days: TotalRead
    paid_last_90_days: TotalRead
    aging: AgingRead
    dso: DsoRead
    days_to_pay: TimingRead
    days_late: TimingRead
    expected_payments: ExpectedPaymentsRead

    @classmethod
    def of(cls, summary: figures.CurrencySummary) -> CurrencySummaryRead:
        currency = summary.currency

        def total(value: figures.Total) -> TotalRead:
            return TotalRead.of(value, currency)

        return cls(
            currency=currency,
            outstanding=total(summary.outstanding),
            overdue=total(summary.overdue),
            paid_last_30_days=total(summary.paid_last_30_days),
            paid_last_90_days=total(summary.paid_last_90_days),
            aging=AgingRead(**{key: total(value) for key, value in summary.aging.items()}),
            dso=DsoRead(days=_number(summary.dso.days), reason=summary.dso.reason),
            days_to_pay=TimingRead.of(summary.days_to_pay),
            days_late=TimingRead.of(summary.days_late),
            expected_payments=ExpectedPaymentsRead(
                weeks=[
                    WeekRead(
                        start=week.start,
                        end=week.end,
                        amount=format_amount(week.total.amount, currency),
                        count=week.total.count,
                    )
                    for week in summary.expected_weeks
                ],
                later=total(summary.expected_later),
            ),
        )


class LatePayerRead(BaseModel):
    client_id: int
    name: str
    average_days_late: float
    paid_invoices: int


class StepEffectivenessRead(BaseModel):
    offset_days: int
    sent: int
    paid_within_7_days: int
    share: float | None = Field(description="paid_within_7_days / sent, three decimal places.")


class AnalyticsSummary(BaseModel):
    as_of: date
    history_from: date = Field(
        description="First day of the 365-day window that payment behaviour is judged over."
    )
    currencies: list[CurrencySummaryRead]
    latest_payers: list[LatePayerRead]
    reminder_effectiveness: list[StepEffectivenessRead]

    @classmethod
    def of(cls, summary: figures.Summary) -> AnalyticsSummary:
        return cls(
            as_of=summary.as_of,
            history_from=summary.history_start,
            currencies=[CurrencySummaryRead.of(currency) for currency in summary.currencies],
            latest_payers=[
                LatePayerRead(
                    client_id=payer.client_id,
                    name=payer.name,
                    average_days_late=float(payer.average_days_late),
                    paid_invoices=payer.paid_invoices,
                )
                for payer in summary.latest_payers
            ],
            reminder_effectiveness=[
                StepEffectivenessRead(
                    offset_days=step.offset_days,
                    sent=step.sent,
                    paid_within_7_days=step.paid_within_7_days,
                    share=_number(step.share),
                )
                for step in summary.reminder_effectiveness
            ],
        )


class CurrencyTotalRead(TotalRead):
    currency: str


class LastPaymentRead(BaseModel):
    invoice_id: int
    number: str
    paid_on: date
    amount: str
    currency: str


class ClientStatsRead(BaseModel):
    client_id: int
    as_of: date
    history_from: date
    open_balance: list[CurrencyTotalRead] = Field(description="One entry per currency.")
    paid_invoices: int = Field(description="Payments in the history window.")
    on_time_rate: float | None = Field(
        description="Share of those paid on or before the due date, three decimal places."
    )
    average_days_late: float | None
    last_payment: LastPaymentRead | None

    @classmethod
    def of(cls, stats: figures.ClientStats) -> ClientStatsRead:
        last = stats.last_payment
        return cls(
            client_id=stats.client_id,
            as_of=stats.as_of,
            history_from=stats.history_start,
            open_balance=[
                CurrencyTotalRead(
                    currency=currency,
                    amount=format_amount(total.amount, currency),
                    count=total.count,
                )
                for currency, total in stats.open_balance.items()
            ],
            paid_invoices=stats.paid_invoices,
            on_time_rate=_number(stats.on_time_rate),
            average_days_late=_number(stats.average_days_late),
            last_payment=(
                LastPaymentRead(
                    invoice_id=last.invoice_id,
                    number=last.number,
                    paid_on=last.paid_on,
                    amount=format_amount(last.amount, last.currency),
                    currency=last.currency,
                )
                if last is not None
                else None
            ),
        )
