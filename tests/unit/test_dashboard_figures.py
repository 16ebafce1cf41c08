"""The dashboard's figures per currency: "expected this month" from the weekly forecast,
the charts' bars and labels, one currency per panel."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from duespark.analytics.dso import Dso
from duespark.analytics.figures import CurrencySummary, Summary, Timing, Total, Week
from duespark.web.dashboard import (
    AGING_BUCKETS,
    currency_panels,
    expected_this_month,
    month_end,
    week_label,
)


def weeks(as_of: date, amounts: list[int]) -> list[Week]:
    return [
        Week(
            as_of + timedelta(days=7 * k),
            as_of + timedelta(days=7 * k + 6),
            Total(amount, int(amount > 0)),
        )
        for k, amount in enumerate(amounts)
    ]


def currency(code: str, as_of: date, **overrides: object) -> CurrencySummary:
    values: dict = {
        "currency": code,
        "outstanding": Total(500_00, 3),
        "overdue": Total(200_00, 1),
        "paid_last_30_days": Total(),
        "paid_last_90_days": Total(),
        "aging": {key: Total() for key, _, _ in AGING_BUCKETS}
        | {"current": Total(300_00, 2), "days_over_90": Total(200_00, 1)},
        "dso": Dso(days=Decimal("12.0"), reason=None),
        "days_to_pay": Timing(0, None, None),
        "days_late": Timing(0, None, None),
        "expected_weeks": weeks(as_of, [100, 200, 300, 400, 500, 600, 700, 800]),
        "expected_later": Total(900, 2),
        **overrides,
    }
    return CurrencySummary(**values)


@pytest.mark.parametrize(
    ("as_of", "counted", "last_day"),
    [
        # 1 June: weeks start on 1, 8, 15, 22 and 29 June; the fifth runs to 5 July.
        (date(2026, 6, 1), 5, date(2026, 7, 5)),
        # 17 June: weeks start on 17 and 24 June; the second ends on 30 June exactly.
        (date(2026, 6, 17), 2, date(2026, 6, 30)),
        # The last day of a month: only the week starting today counts.
        (date(2026, 6, 30), 1, date(2026, 7, 6)),
        # February of a leap year ends on the 29th.
        (date(2028, 2, 23), 1, date(2028, 2, 29)),
    ],
)
def test_expected_this_month_counts_the_weeks_that_begin_this_month(
    as_of: date, counted: int, last_day: date
) -> None:
    amounts = [100, 200, 300, 400, 500, 600, 700, 800]
    total, first, last = expected_this_month(weeks(as_of, amounts), as_of)
    assert total == Total(sum(amounts[:counted]), counted)
    assert (first, last) == (as_of, last_day)


def test_expected_this_month_without_a_forecast_is_zero_for_today() -> None:
    as_of = date(2026, 6, 17)
    assert expected_this_month([], as_of) == (Total(0, 0), as_of, as_of)


def test_month_end() -> None:
    assert month_end(date(2026, 2, 3)) == date(2026, 2, 28)
    assert month_end(date(2026, 12, 31)) == date(2026, 12, 31)


def test_week_labels_name_both_months_only_across_a_month_end() -> None:
    assert week_label(date(2026, 6, 17), date(2026, 6, 23)) == "17\u201323 Jun"
    assert week_label(date(2026, 6, 28), date(2026, 7, 4)) == "28 Jun\u20134 Jul"


def test_one_panel_per_currency_never_mixing_amounts() -> None:
    as_of = date(2026, 6, 17)
    summary = Summary(
        as_of=as_of,
        history_start=as_of - timedelta(days=364),
        currencies=[currency("EUR", as_of), currency("JPY", as_of, outstanding=Total(125000, 1))],
        latest_payers=[],
        reminder_effectiveness=[],
    )
    eur, jpy = currency_panels(summary)
    assert (eur.currency, jpy.currency) == ("EUR", "JPY")
    assert jpy.outstanding == Total(125000, 1)
    assert eur.expected_month == Total(300, 2)  # weeks starting 17 and 24 June
    # Aging: one bar per bucket, in order, amounts written in the panel's currency.
    assert [bar.label for bar in eur.aging.bars] == [
        "Not yet due",
        "1\u201330 days",
        "31\u201360 days",
        "61\u201390 days",
        "Over 90 days",
    ]
    assert [bar.text for bar in eur.aging.bars] == [
        "300.00 EUR",
        "0.00 EUR",
        "0.00 EUR",
        "0.00 EUR",
        "200.00 EUR",
    ]
    assert all(bar.text.endswith(" JPY") for bar in jpy.aging.bars)
    assert jpy.aging.bars[0].text == "30,000 JPY"  # yen have no minor unit
    # Expected: eight weeks and "later"; this month's weeks stand out.
    expected = eur.expected.bars
    assert len(expected) == 9 and expected[-1].label == "After 11 Aug"
    assert expected[-1].value == 900 and expected[-1].count == 2
    assert [bar.tone for bar in expected[:3]] == ["this-month", "this-month", "expected"]
    assert eur.aging.key == "aging-EUR" and eur.expected.key == "expected-EUR"


def test_a_currency_with_nothing_open_draws_empty_charts() -> None:
    as_of = date(2026, 6, 17)
    nothing = currency(
        "GBP",
        as_of,
        outstanding=Total(),
        overdue=Total(),
        aging={key: Total() for key, _, _ in AGING_BUCKETS},
        expected_weeks=weeks(as_of, [0] * 8),
        expected_later=Total(),
    )
    summary = Summary(as_of, as_of, [nothing], [], [])
    [panel] = currency_panels(summary)
    assert panel.aging.is_empty and panel.expected.is_empty
    assert panel.expected_month == Total(0, 0)
