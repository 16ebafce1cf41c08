"""Payment history rows (one per currency and client) summed both ways: per currency for the
figures, per client for the latest payers and the forecast's shift."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from duespark.analytics.history import PaymentHistory


def row(currency: str, client_id: int, name: str, paid: int, late_total: int, **sums: int) -> Any:
    return {
        "currency": currency,
        "client_id": client_id,
        "name": name,
        "paid": paid,
        "late_total": late_total,
        "paid_weight": sums.get("paid_weight", 0),
    }


def test_sums_per_currency_leave_clients_out() -> None:
    history = PaymentHistory.from_rows(
        [
            row("EUR", 1, "Acme", 2, 30, paid_weight=100),
            row("EUR", 2, "Bolt", 1, -5, paid_weight=40),
            row("JPY", 1, "Acme", 1, 3, paid_weight=7),
        ]
    )
    assert history.by_currency == {
        "EUR": {"paid": 3, "late_total": 25, "paid_weight": 140},
        "JPY": {"paid": 1, "late_total": 3, "paid_weight": 7},
    }


def test_a_clients_lateness_spans_its_currencies() -> None:
    history = PaymentHistory.from_rows([row("EUR", 1, "Acme", 2, 30), row("JPY", 1, "Acme", 1, 3)])
    (acme,) = history.clients
    assert (acme.paid, acme.late_total, acme.average) == (3, 33, Fraction(11))
    assert history.shifts() == {1: 11}


def test_shifts_round_half_away_from_zero_and_leave_out_zero() -> None:
    history = PaymentHistory.from_rows(
        [
            row("EUR", 1, "A", 2, 5),  # 2.5 -> 3
            row("EUR", 2, "B", 2, -5),  # -2.5 -> -3
            row("EUR", 3, "C", 3, 1),  # 0.33 -> 0: no shift
            row("EUR", 4, "D", 3, 4),  # 1.33 -> 1
        ]
    )
    assert history.shifts() == {1: 3, 2: -3, 4: 1}


def test_latest_payers_by_exact_average_then_name_then_id() -> None:
    history = PaymentHistory.from_rows(
        [
            row("EUR", 1, "early", 1, -3),  # pays early: not a late payer
            row("EUR", 8, "on time", 2, 0),  # pays on the day: not a late payer either
            row("EUR", 2, "bolt", 3, 10),  # 3.33...
            row("EUR", 3, "Acme", 3, 10),  # the same average: by name, case-insensitively
            row("EUR", 4, "acme", 3, 10),  # "Acme" < "acme" as written
            row("EUR", 5, "Acme", 6, 20),  # same name and average: by id
            row("EUR", 6, "Zeta", 100, 334),  # 3.34 beats 3.33 although both show 3.3
            row("EUR", 7, "Late", 1, 40),
        ]
    )
    payers = history.latest_payers()
    assert [p.client_id for p in payers] == [7, 6, 3, 5, 4]
    assert [p.client_id for p in history.latest_payers(limit=10)] == [7, 6, 3, 5, 4, 2]


def test_no_payments_no_payers() -> None:
    history = PaymentHistory.from_rows([])
    assert (history.by_currency, history.clients, history.shifts()) == ({}, [], {})
    assert history.latest_payers() == []
