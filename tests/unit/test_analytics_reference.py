"""A plain-Python reference for every analytics figure, and its check against the worked
example of ``docs/api.md``.

The reference reads invoices one at a time with exact fractions, sharing no code with
``duespark.analytics``; the property test (``tests/integration/test_analytics_properties.py``)
compares the service with it on random books. Here it is checked against the figures
calculated by hand, so that the two never agree on a shared mistake.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

AGING = [
    ("current", None, 0),
    ("days_1_30", 1, 30),
    ("days_31_60", 31, 60),
    ("days_61_90", 61, 90),
    ("days_over_90", 91, None),
]


@dataclass(frozen=True)
class Row:
    client: int
    currency: str
    amount: int
    issued: date
    due: date
    status: str
    paid_on: date | None
    amount_paid: int | None


@dataclass(frozen=True)
class Sent:
    invoice: int
    offset: int
    state: str
    sent_at: datetime | None


@dataclass(frozen=True)
class Books:
    zone: str
    as_of: date
    clients: list[str]
    invoices: list[Row]
    reminders: list[Sent]


def half_away(value: Fraction, places: int) -> Decimal:
    scaled = abs(value) * 10**places
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    result = Decimal(whole) / Decimal(10) ** places
    result = result.quantize(Decimal(1).scaleb(-places))
    return -result if value < 0 else result


def mean(values: list[int], places: int = 1) -> Decimal | None:
    return half_away(Fraction(sum(values), len(values)), places) if values else None


def weighted(pairs: list[tuple[int, int]]) -> Decimal | None:
    weight = sum(w for w, _ in pairs)
    return half_away(Fraction(sum(w * d for w, d in pairs), weight), 1) if weight else None


class Reference:
    """The figures of ``books`` as of ``books.as_of``, one invoice at a time."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.as_of = a = books.as_of
        self.counted = [
            (i, row)
            for i, row in enumerate(books.invoices)
            if row.status in ("open", "paid") and row.issued <= a
        ]
        self.history_start = a - timedelta(days=364)

    def is_open(self, row: Row) -> bool:
        return row.status == "open" or (
            row.status == "paid" and row.paid_on is not None and row.paid_on > self.as_of
        )

    def paid_between(self, row: Row, first: date) -> bool:
        return (
            row.status == "paid" and row.paid_on is not None and first <= row.paid_on <= self.as_of
        )

    @staticmethod
    def paid_amount(row: Row) -> int:
        return row.amount_paid if row.amount_paid is not None else row.amount

    def history(self, row: Row) -> bool:
        return self.paid_between(row, self.history_start)

    def client_shift(self, client: int) -> int:
        late = [
            (r.paid_on - r.due).days  # type: ignore[operator]
            for _, r in self.counted
            if r.client == client and self.history(r)
        ]
        return int(half_away(Fraction(sum(late), len(late)), 0)) if late else 0

    def months(self) -> list[tuple[date, date]]:
        months = [(self.as_of.replace(day=1), self.as_of)]
        while len(months) < 12:
            end = months[-1][0] - timedelta(days=1)
            months.append((date(end.year, end.month, 1), end))
        return months

    def dso(self, receivables: int, currency: str) -> tuple[Decimal | None, str | None]:
        sales = [
            sum(r.amount for _, r in self.counted if r.currency == currency and s <= r.issued <= e)
            for s, e in self.months()
        ]
        days_of = [(e - s).days + 1 for s, e in self.months()]
        if sum(sales) == 0:
            return None, "no_sales"
        left, days = Fraction(receivables), Fraction(0)
        for month_sales, month_days in zip(sales, days_of, strict=True):
            if left == 0:
                break
            if left >= month_sales:
                left, days = left - month_sales, days + month_days
            else:
                left, days = Fraction(0), days + left / month_sales * month_days
        if left > 0:
            return None, "receivables_exceed_12_months_of_sales"
        return half_away(days, 1), None

    def currency(self, currency: str) -> dict[str, Any]:
        a = self.as_of
        rows = [r for _, r in self.counted if r.currency == currency]
        opened = [r for r in rows if self.is_open(r)]

        def total(selected: list[Row], amount: Any = lambda r: r.amount) -> tuple[int, int]:
            return sum(amount(r) for r in selected), len(selected)

        figures: dict[str, Any] = {
            "outstanding": total(opened),
            "overdue": total([r for r in opened if r.due < a]),
            "paid_last_30_days": total(
                [r for r in rows if self.paid_between(r, a - timedelta(days=29))], self.paid_amount
            ),
            "paid_last_90_days": total(
                [r for r in rows if self.paid_between(r, a - timedelta(days=89))], self.paid_amount
            ),
        }
        for key, first, last in AGING:
            figures[f"aging.{key}"] = total(
                [
                    r
                    for r in opened
                    if (first is None or (a - r.due).days >= first)
                    and (last is None or (a - r.due).days <= last)
                ]
            )
        figures["dso"] = self.dso(figures["outstanding"][0], currency)
        paid = [r for r in rows if self.history(r)]
        late = [(self.paid_amount(r), (r.paid_on - r.due).days) for r in paid]  # type: ignore[operator]
        to_pay = [(self.paid_amount(r), (r.paid_on - r.issued).days) for r in paid]  # type: ignore[operator]
        figures["days_late"] = (len(paid), mean([d for _, d in late]), weighted(late))
        figures["days_to_pay"] = (len(paid), mean([d for _, d in to_pay]), weighted(to_pay))
        weeks: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
        for r in opened:
            expected = max(a, r.due + timedelta(days=self.client_shift(r.client)))
            week = (expected - a).days // 7
            bucket = weeks["later" if week >= 8 else week]
            bucket[0] += r.amount
            bucket[1] += 1
        for week in range(8):
            start = a + timedelta(days=7 * week)
            figures[f"week.{week}"] = (start, start + timedelta(days=6), *weeks[week])
        figures["week.later"] = tuple(weeks["later"])
        return figures

    def summary(self) -> dict[str, Any]:
        flat: dict[str, Any] = {"as_of": self.as_of, "history_start": self.history_start}
        # A currency shows when it has something open, paid or sold in the windows.
        shown = {
            r.currency
            for _, r in self.counted
            if self.is_open(r) or self.history(r) or r.issued >= self.months()[-1][0]
        }
        for currency in sorted(shown):
            for name, value in self.currency(currency).items():
                flat[f"{currency}.{name}"] = value
        payers = []
        for client, name in enumerate(self.books.clients):
            late = [
                (r.paid_on - r.due).days  # type: ignore[operator]
                for _, r in self.counted
                if r.client == client and self.history(r)
            ]
            if late and sum(late) > 0:
                payers.append((Fraction(sum(late), len(late)), name, client, len(late)))
        payers.sort(key=lambda p: (-p[0], p[1].lower(), p[1], p[2]))
        flat["latest_payers"] = [
            (client, name, count, half_away(average, 1))
            for average, name, client, count in payers[:5]
        ]
        flat["reminder_effectiveness"] = self.effectiveness()
        return flat

    def effectiveness(self) -> list[tuple[int, int, int, Decimal | None]]:
        zone = ZoneInfo(self.books.zone)
        counted = dict(self.counted)
        steps: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for sent in self.books.reminders:
            row = counted.get(sent.invoice)
            if row is None or sent.state != "sent" or sent.sent_at is None:
                continue
            sent_on = sent.sent_at.astimezone(zone).date()
            if not self.history_start <= sent_on <= self.as_of - timedelta(days=7):
                continue
            steps[sent.offset][0] += 1
            if (
                row.status == "paid"
                and row.paid_on is not None
                and row.paid_on <= self.as_of
                and 0 <= (row.paid_on - sent_on).days <= 7
            ):
                steps[sent.offset][1] += 1
        return [
            (offset, sent, paid, half_away(Fraction(paid, sent), 3))
            for offset, (sent, paid) in sorted(steps.items())
        ]

    def client(self, client: int) -> dict[str, Any]:
        rows = [r for _, r in self.counted if r.client == client]
        balances: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            if self.is_open(r):
                balances[r.currency][0] += r.amount
                balances[r.currency][1] += 1
        paid = [r for r in rows if self.history(r)]
        late = [(r.paid_on - r.due).days for r in paid]  # type: ignore[operator]
        on_time = [d for d in late if d <= 0]
        payments = [
            (r.paid_on, i, r)
            for i, r in self.counted
            if r.client == client and r.status == "paid" and r.paid_on <= self.as_of  # type: ignore[operator]
        ]
        last = max(payments, key=lambda p: (p[0], p[1]), default=None)
        return {
            "open_balance": {c: tuple(v) for c, v in sorted(balances.items())},
            "paid_invoices": len(paid),
            "on_time_rate": half_away(Fraction(len(on_time), len(paid)), 3) if paid else None,
            "average_days_late": mean(late),
            "last_payment": (
                (last[1], last[0], self.paid_amount(last[2]), last[2].currency) if last else None
            ),
        }


# ── the reference against the worked example of docs/api.md ───────────────────────────────


def _d(text: str) -> date:
    return date.fromisoformat(text if len(text) > 5 else f"2026-{text}")


def _sent(invoice: int, offset: int, instant: str, state: str = "sent") -> Sent:
    return Sent(invoice, offset, state, datetime.fromisoformat(instant).replace(tzinfo=UTC))


ACME, BOLT, COBALT = 0, 1, 2
# (client, currency, amount in minor units, issued, due, status, paid on, amount paid)
EXAMPLE = [
    (ACME, "EUR", 100000, "04-01", "05-01", "paid", "05-11", None),  # E1
    (ACME, "EUR", 200000, "05-01", "05-31", "paid", "06-20", 180000),  # E2
    (BOLT, "EUR", 50000, "03-01", "03-31", "paid", "03-26", None),  # E3
    (BOLT, "EUR", 300000, "06-01", "07-15", "open", None, None),  # E4
    (ACME, "EUR", 150000, "05-15", "06-14", "open", None, None),  # E5
    (COBALT, "EUR", 80000, "02-01", "03-03", "open", None, None),  # E6
    (COBALT, "EUR", 120000, "06-10", "06-30", "paid", "07-01", None),  # E7
    (ACME, "EUR", 999900, "06-01", "06-02", "draft", None, None),  # E8
    (BOLT, "EUR", 777700, "04-01", "04-28", "void", None, None),  # E9
    (ACME, "EUR", 555500, "07-01", "07-31", "open", None, None),  # E10
    (BOLT, "EUR", 60000, "04-15", "04-30", "open", None, None),  # E11
    (COBALT, "EUR", 40000, "04-20", "05-20", "open", None, None),  # E12
    (ACME, "EUR", 70000, "06-20", "07-20", "open", None, None),  # E13
    (BOLT, "EUR", 90000, "06-25", "09-30", "open", None, None),  # E14
    (BOLT, "JPY", 50000, "06-01", "06-15", "open", None, None),  # J1
    (COBALT, "JPY", 30000, "05-01", "05-31", "paid", "06-05", None),  # J2
    (COBALT, "JPY", 20000, "06-15", "07-10", "open", None, None),  # J3
    (ACME, "GBP", 25000, "2025-05-10", "2025-06-09", "open", None, None),  # G1
]
E1, E2, E3, E5, E6, E7, E9, E11, E12, J2 = 0, 1, 2, 4, 5, 6, 8, 10, 11, 15


def example_books() -> Books:
    invoices = [
        Row(client, currency, amount, _d(issued), _d(due), status, paid and _d(paid), partial)
        for client, currency, amount, issued, due, status, paid, partial in EXAMPLE
    ]
    reminders = [
        _sent(E2, 14, "2026-06-14T08:00"),
        _sent(E5, 3, "2026-06-17T08:00"),
        _sent(E1, 3, "2026-05-03T22:30"),
        _sent(E11, 3, "2026-05-03T08:00"),
        _sent(E6, 3, "2026-03-06T08:00"),
        _sent(E7, 0, "2026-06-30T08:00"),
        _sent(E12, 14, "2026-06-03T08:00"),
        _sent(J2, 3, "2026-06-03T22:30"),
        _sent(E3, -3, "2026-03-28T08:00"),
        _sent(E2, 3, "2026-06-03T08:00"),
        _sent(E9, 3, "2026-05-01T08:00"),
        _sent(E5, 7, "2026-06-23T22:30"),
        _sent(E12, 7, "2026-05-27T08:00"),
        Sent(E2, 7, "skipped", None),
    ]
    return Books(
        "Europe/Berlin", date(2026, 6, 30), ["Acme", "Bolt", "Cobalt"], invoices, reminders
    )


def test_reference_reproduces_the_worked_example() -> None:
    flat = Reference(example_books()).summary()
    assert flat["history_start"] == date(2025, 7, 1)
    assert flat["EUR.outstanding"] == (910000, 8)
    assert flat["EUR.overdue"] == (330000, 4)
    assert flat["EUR.paid_last_30_days"] == (180000, 1)
    assert flat["EUR.paid_last_90_days"] == (280000, 2)
    assert [flat[f"EUR.aging.{key}"] for key, _, _ in AGING] == [
        (580000, 4),
        (150000, 1),
        (40000, 1),
        (60000, 1),
        (80000, 1),
    ]
    assert flat["EUR.dso"] == (Decimal("59.2"), None)
    assert flat["EUR.days_late"] == (3, Decimal("8.3"), Decimal("13.2"))
    assert flat["EUR.days_to_pay"] == (3, Decimal("38.3"), Decimal("43.2"))
    weeks = {k: flat[f"EUR.week.{k}"][2:] for k in range(8)}
    assert weeks == {0: (450000, 5), 1: (300000, 1), 2: (0, 0), 3: (0, 0), 4: (0, 0),
                     5: (70000, 1), 6: (0, 0), 7: (0, 0)}  # fmt: skip
    assert flat["EUR.week.later"] == (90000, 1)
    assert flat["JPY.outstanding"] == (70000, 2)
    assert flat["JPY.dso"] == (Decimal("30.0"), None)
    assert flat["GBP.dso"] == (None, "no_sales")
    assert flat["GBP.days_late"] == (0, None, None)
    assert flat["latest_payers"] == [
        (ACME, "Acme", 2, Decimal("15.0")),
        (COBALT, "Cobalt", 1, Decimal("5.0")),
    ]
    assert flat["reminder_effectiveness"] == [
        (-3, 1, 0, Decimal("0.000")),
        (3, 6, 2, Decimal("0.333")),
        (7, 1, 0, Decimal("0.000")),
        (14, 2, 1, Decimal("0.500")),
    ]
    acme = Reference(example_books()).client(ACME)
    assert acme["open_balance"] == {"EUR": (220000, 2), "GBP": (25000, 1)}
    assert (acme["paid_invoices"], acme["on_time_rate"], acme["average_days_late"]) == (
        2,
        Decimal("0.000"),
        Decimal("15.0"),
    )
    assert acme["last_payment"] == (E2, date(2026, 6, 20), 180000, "EUR")
