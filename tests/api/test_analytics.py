"""/analytics/summary and /clients/{id}/stats over the documented example data set.

The data set and every expected figure below are the worked example of ``docs/api.md``
("Analytics: a worked example"), calculated by hand. The clock is fixed (``NOW``), so the
default as_of and the bounds on it do not depend on the day the suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duespark.db import Database
from duespark.dependencies import get_now
from duespark.models import Invoice, Reminder
from tests.factories import auth_headers, create_client, create_invoice

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 14:00 in Berlin: today is 2026-07-01
AS_OF = "2026-06-30"
Headers = dict[str, str]


@pytest.fixture
def fixed_api(api: TestClient) -> Iterator[TestClient]:
    api.app.dependency_overrides[get_now] = lambda: NOW  # type: ignore[attr-defined]
    yield api
    api.app.dependency_overrides.clear()  # type: ignore[attr-defined]


@pytest.fixture
def example(fixed_api: TestClient, database: Database) -> dict[str, Any]:
    """The worked example: three clients, EUR, JPY and GBP invoices, payments, reminders."""
    api = fixed_api
    headers = auth_headers(api, time_zone="Europe/Berlin")
    acme = create_client(api, headers, name="Acme", default_currency="EUR")["id"]
    bolt = create_client(api, headers, name="Bolt", default_currency="EUR")["id"]
    cobalt = create_client(api, headers, name="Cobalt", default_currency="EUR")["id"]

    def invoice(number: str, client: int, issued: str, due: str, amount: str, **extra: Any) -> int:
        return create_invoice(
            api,
            headers,
            client,
            number=number,
            issue_date=issued,
            due_date=due,
            amount=amount,
            **extra,
        )["id"]

    def pay(invoice_id: int, paid_on: str, amount: str | None = None) -> None:
        body = {"paid_at": paid_on} | ({"amount_paid": amount} if amount else {})
        response = api.post(f"/invoices/{invoice_id}/mark-paid", json=body, headers=headers)
        assert response.status_code == 200, response.text

    ids = {
        "E1": invoice("E1", acme, "2026-04-01", "2026-05-01", "1000.00"),
        "E2": invoice("E2", acme, "2026-05-01", "2026-05-31", "2000.00"),
        "E3": invoice("E3", bolt, "2026-03-01", "2026-03-31", "500.00"),
        "E4": invoice("E4", bolt, "2026-06-01", "2026-07-15", "3000.00"),
        "E5": invoice("E5", acme, "2026-05-15", "2026-06-14", "1500.00"),
        "E6": invoice("E6", cobalt, "2026-02-01", "2026-03-03", "800.00"),
        "E7": invoice("E7", cobalt, "2026-06-10", "2026-06-30", "1200.00"),
        "E8": invoice("E8", acme, "2026-06-01", "2026-06-02", "9999.00", status="draft"),
        "E9": invoice("E9", bolt, "2026-04-01", "2026-04-28", "7777.00"),
        "E10": invoice("E10", acme, "2026-07-01", "2026-07-31", "5555.00"),
        "E11": invoice("E11", bolt, "2026-04-15", "2026-04-30", "600.00"),
        "E12": invoice("E12", cobalt, "2026-04-20", "2026-05-20", "400.00"),
        "E13": invoice("E13", acme, "2026-06-20", "2026-07-20", "700.00"),
        "E14": invoice("E14", bolt, "2026-06-25", "2026-09-30", "900.00"),
        "J1": invoice("J1", bolt, "2026-06-01", "2026-06-15", "50000", currency="JPY"),
        "J2": invoice("J2", cobalt, "2026-05-01", "2026-05-31", "30000", currency="JPY"),
        "J3": invoice("J3", cobalt, "2026-06-15", "2026-07-10", "20000", currency="JPY"),
        "G1": invoice("G1", acme, "2025-05-10", "2025-06-09", "250.00", currency="GBP"),
    }
    pay(ids["E1"], "2026-05-11")
    pay(ids["E2"], "2026-06-20", "1800.00")
    pay(ids["E3"], "2026-03-26")
    pay(ids["E7"], "2026-07-01")
    pay(ids["J2"], "2026-06-05")
    assert api.post(f"/invoices/{ids['E9']}/void", headers=headers).status_code == 200

    # Reminders as the worker records them once sent (invoice, step, UTC send instant).
    sent = [
        ("E2", 14, "2026-06-14T08:00"),
        ("E5", 3, "2026-06-17T08:00"),
        ("E1", 3, "2026-05-03T22:30"),  # 00:30 on 05-04 in Berlin: paid 7 days after
        ("E11", 3, "2026-05-03T08:00"),
        ("E6", 3, "2026-03-06T08:00"),
        ("E7", 0, "2026-06-30T08:00"),
        ("E12", 14, "2026-06-03T08:00"),
        ("J2", 3, "2026-06-03T22:30"),  # 00:30 on 06-04 in Berlin
        ("E3", -3, "2026-03-28T08:00"),
        ("E2", 3, "2026-06-03T08:00"),
        ("E9", 3, "2026-05-01T08:00"),
        ("E5", 7, "2026-06-23T22:30"),  # 00:30 on 06-24 in Berlin
        ("E12", 7, "2026-05-27T08:00"),
    ]
    with database.session_scope() as session:
        user_id = session.get(Invoice, ids["E1"]).user_id  # type: ignore[union-attr]
        for label, offset, instant in sent:
            at = datetime.fromisoformat(instant).replace(tzinfo=UTC)
            session.add(_reminder(user_id, ids[label], offset, "sent", at))
        session.add(_reminder(user_id, ids["E2"], 7, "skipped", None))
    return {"headers": headers, "acme": acme, "bolt": bolt, "cobalt": cobalt, "ids": ids}


def _reminder(
    user_id: int, invoice_id: int, offset: int, state: str, sent_at: datetime | None
) -> Reminder:
    at = sent_at or NOW
    return Reminder(
        user_id=user_id,
        invoice_id=invoice_id,
        offset_days=offset,
        tone="neutral",
        state=state,
        reason="",
        scheduled_for=at,
        sent_at=sent_at,
        created_at=at,
        updated_at=at,
    )


def total(amount: str, count: int) -> dict[str, Any]:
    return {"amount": amount, "count": count}


def weeks(currency_zero: str, filled: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    starts = ["06-30", "07-07", "07-14", "07-21", "07-28", "08-04", "08-11", "08-18"]
    ends = ["07-06", "07-13", "07-20", "07-27", "08-03", "08-10", "08-17", "08-24"]
    return [
        {"start": f"2026-{start}", "end": f"2026-{end}", **filled.get(k, total(currency_zero, 0))}
        for k, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]


def summary(api: TestClient, headers: Headers, **params: str) -> dict[str, Any]:
    response = api.get("/analytics/summary", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_summary_matches_the_hand_calculation(
    fixed_api: TestClient, example: dict[str, Any]
) -> None:
    body = summary(fixed_api, example["headers"], as_of=AS_OF)
    assert body["as_of"] == AS_OF
    assert body["history_from"] == "2025-07-01"
    by_currency = {entry["currency"]: entry for entry in body["currencies"]}
    assert [entry["currency"] for entry in body["currencies"]] == ["EUR", "GBP", "JPY"]

    eur = by_currency["EUR"]
    assert eur["outstanding"] == total("9100.00", 8)
    assert eur["overdue"] == total("3300.00", 4)
    assert eur["paid_last_30_days"] == total("1800.00", 1)
    assert eur["paid_last_90_days"] == total("2800.00", 2)
    assert eur["aging"] == {
        "current": total("5800.00", 4),
        "days_1_30": total("1500.00", 1),
        "days_31_60": total("400.00", 1),
        "days_61_90": total("600.00", 1),
        "days_over_90": total("800.00", 1),
    }
    assert eur["dso"] == {"days": 59.2, "reason": None}
    assert eur["days_to_pay"] == {"invoices": 3, "average": 38.3, "weighted_average": 43.2}
    assert eur["days_late"] == {"invoices": 3, "average": 8.3, "weighted_average": 13.2}
    assert eur["expected_payments"] == {
        "weeks": weeks(
            "0.00",
            {0: total("4500.00", 5), 1: total("3000.00", 1), 5: total("700.00", 1)},
        ),
        "later": total("900.00", 1),
    }

    jpy = by_currency["JPY"]
    assert jpy["outstanding"] == total("70000", 2)
    assert jpy["overdue"] == total("50000", 1)
    assert jpy["paid_last_30_days"] == total("30000", 1)
    assert jpy["paid_last_90_days"] == total("30000", 1)
    assert jpy["aging"]["current"] == total("20000", 1)
    assert jpy["aging"]["days_1_30"] == total("50000", 1)
    assert jpy["dso"] == {"days": 30.0, "reason": None}
    assert jpy["days_to_pay"] == {"invoices": 1, "average": 35.0, "weighted_average": 35.0}
    assert jpy["days_late"] == {"invoices": 1, "average": 5.0, "weighted_average": 5.0}
    assert jpy["expected_payments"] == {
        "weeks": weeks("0", {0: total("50000", 1), 2: total("20000", 1)}),
        "later": total("0", 0),
    }

    gbp = by_currency["GBP"]
    assert gbp["outstanding"] == total("250.00", 1)
    assert gbp["aging"]["days_over_90"] == total("250.00", 1)
    assert gbp["dso"] == {"days": None, "reason": "no_sales"}
    assert gbp["days_late"] == {"invoices": 0, "average": None, "weighted_average": None}
    assert gbp["paid_last_90_days"] == total("0.00", 0)

    ids = example
    assert body["latest_payers"] == [
        {"client_id": ids["acme"], "name": "Acme", "average_days_late": 15.0, "paid_invoices": 2},
        {
            "client_id": ids["cobalt"],
            "name": "Cobalt",
            "average_days_late": 5.0,
            "paid_invoices": 1,
        },
    ]  # Bolt pays 5 days early on average: not a late payer
    assert body["reminder_effectiveness"] == [
        {"offset_days": -3, "sent": 1, "paid_within_7_days": 0, "share": 0.0},
        {"offset_days": 3, "sent": 6, "paid_within_7_days": 2, "share": 0.333},
        {"offset_days": 7, "sent": 1, "paid_within_7_days": 0, "share": 0.0},
        {"offset_days": 14, "sent": 2, "paid_within_7_days": 1, "share": 0.5},
    ]


def test_an_earlier_as_of_shows_the_books_of_that_day(
    fixed_api: TestClient, example: dict[str, Any]
) -> None:
    """On 2026-06-10 E2 (paid 06-20) and E7 (issued that day, paid 07-01) were open, and
    E13, E14 and J3 not yet issued."""
    body = summary(fixed_api, example["headers"], as_of="2026-06-10")
    eur = next(entry for entry in body["currencies"] if entry["currency"] == "EUR")
    # Open: E2 2000, E4 3000, E5 1500, E6 800, E7 1200, E11 600, E12 400.
    assert eur["outstanding"] == total("9500.00", 7)
    # Past due on 06-10: E2 (05-31), E6, E11, E12; E5 is due 06-14, E7 06-30.
    assert eur["overdue"] == total("3800.00", 4)
    # The 30 days are 05-12 .. 06-10, so E1 (05-11) is only in the 90 days, with E3.
    assert eur["paid_last_30_days"] == total("0.00", 0)
    assert eur["paid_last_90_days"] == total("1500.00", 2)
    assert eur["days_late"] == {"invoices": 2, "average": 2.5, "weighted_average": 5.0}


def test_default_as_of_is_today_in_the_accounts_zone(
    fixed_api: TestClient, example: dict[str, Any]
) -> None:
    body = summary(fixed_api, example["headers"])
    assert body["as_of"] == "2026-07-01"
    eur = next(entry for entry in body["currencies"] if entry["currency"] == "EUR")
    # E7 was paid on 07-01 and E10 (5555.00) issued that day.
    assert eur["outstanding"] == total("13455.00", 8)


def test_client_stats(fixed_api: TestClient, example: dict[str, Any]) -> None:
    headers, ids = example["headers"], example["ids"]

    def stats(client: int, **params: str) -> dict[str, Any]:
        response = fixed_api.get(f"/clients/{client}/stats", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert stats(example["acme"], as_of=AS_OF) == {
        "client_id": example["acme"],
        "as_of": AS_OF,
        "history_from": "2025-07-01",
        "open_balance": [
            {"currency": "EUR", "amount": "2200.00", "count": 2},
            {"currency": "GBP", "amount": "250.00", "count": 1},
        ],
        "paid_invoices": 2,
        "on_time_rate": 0.0,
        "average_days_late": 15.0,
        "last_payment": {
            "invoice_id": ids["E2"],
            "number": "E2",
            "paid_on": "2026-06-20",
            "amount": "1800.00",
            "currency": "EUR",
        },
    }
    bolt = stats(example["bolt"], as_of=AS_OF)
    assert bolt["open_balance"] == [
        {"currency": "EUR", "amount": "4500.00", "count": 3},
        {"currency": "JPY", "amount": "50000", "count": 1},
    ]
    assert (bolt["on_time_rate"], bolt["average_days_late"]) == (1.0, -5.0)
    assert bolt["last_payment"]["number"] == "E3"
    earlier = stats(example["acme"], as_of="2026-06-10")
    assert earlier["open_balance"][0] == {"currency": "EUR", "amount": "3500.00", "count": 2}
    assert (earlier["paid_invoices"], earlier["average_days_late"]) == (1, 10.0)
    assert earlier["last_payment"]["number"] == "E1"


def test_a_client_without_payments_has_null_figures_not_zeros(
    fixed_api: TestClient, example: dict[str, Any]
) -> None:
    headers = example["headers"]
    newcomer = create_client(fixed_api, headers, name="Newcomer")["id"]
    response = fixed_api.get(f"/clients/{newcomer}/stats", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["open_balance"] == []
    assert body["paid_invoices"] == 0
    assert (body["on_time_rate"], body["average_days_late"], body["last_payment"]) == (
        None,
        None,
        None,
    )


def test_an_account_without_invoices_has_an_empty_summary(fixed_api: TestClient) -> None:
    headers = auth_headers(fixed_api, email="empty@example.com")
    assert summary(fixed_api, headers) == {
        "as_of": "2026-07-01",
        "history_from": "2025-07-02",
        "currencies": [],
        "latest_payers": [],
        "reminder_effectiveness": [],
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-07-02", "after today"),  # tomorrow in Berlin
        ("1969-12-31", "before 1970-01-01"),
        ("2026-7-1", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
        ("2026-02-30", "date"),
        ("", "YYYY-MM-DD"),
    ],
)
def test_an_as_of_that_makes_no_sense_is_refused(
    fixed_api: TestClient, example: dict[str, Any], value: str, message: str
) -> None:
    headers = example["headers"]
    for url in ["/analytics/summary", f"/clients/{example['acme']}/stats"]:
        response = fixed_api.get(url, params={"as_of": value}, headers=headers)
        assert response.status_code == 422, (url, value, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["field"] == "as_of"
        assert message in error["message"], error


def test_analytics_need_a_login(fixed_api: TestClient, example: dict[str, Any]) -> None:
    for url in ["/analytics/summary", f"/clients/{example['acme']}/stats"]:
        response = fixed_api.get(url)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_another_accounts_figures_stay_out(fixed_api: TestClient, example: dict[str, Any]) -> None:
    other = auth_headers(fixed_api, email="other@example.com", time_zone="Europe/Berlin")
    client = create_client(fixed_api, other, name="Other Co", default_currency="EUR")["id"]
    create_invoice(
        fixed_api, other, client, issue_date="2026-06-01", due_date="2026-06-02", amount="1.00"
    )
    mine = summary(fixed_api, example["headers"], as_of=AS_OF)
    eur = next(entry for entry in mine["currencies"] if entry["currency"] == "EUR")
    assert eur["outstanding"] == total("9100.00", 8)
    theirs = summary(fixed_api, other, as_of=AS_OF)
    assert [entry["outstanding"] for entry in theirs["currencies"]] == [total("1.00", 1)]
    assert theirs["latest_payers"] == [] and theirs["reminder_effectiveness"] == []
    response = fixed_api.get(f"/clients/{example['acme']}/stats", headers=other)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_paying_sets_the_payment_date_and_reopening_clears_it(
    fixed_api: TestClient, example: dict[str, Any], database: Database
) -> None:
    """paid_on is the payment's date in the account's zone: 23:30 UTC on 06-09 is 06-10 in
    Berlin."""
    headers, ids = example["headers"], example["ids"]
    response = fixed_api.post(
        f"/invoices/{ids['E5']}/mark-paid",
        json={"paid_at": "2026-06-09T23:30:00Z"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    with database.session_scope() as session:
        invoice = session.get(Invoice, ids["E5"])
        assert invoice is not None and invoice.paid_on == date(2026, 6, 10)
    assert fixed_api.post(f"/invoices/{ids['E5']}/reopen", headers=headers).status_code == 200
    with database.session_scope() as session:
        invoice = session.get(Invoice, ids["E5"])
        assert invoice is not None and invoice.paid_on is None and invoice.paid_at is None
