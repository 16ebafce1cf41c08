"""Payment history: the payments of the history window, per currency and per client.

The repository returns one aggregate row per (currency, client). Summing those rows gives
both what a currency's figures need (days to pay, days late, recent payments) and what a
client's lateness needs (the latest payers, the forecast's shift), from one pass over the
payments. Days late are never summed across currencies as money: a client's lateness is a
number of days, whatever the currency it paid in.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from duespark.analytics.ratios import rounded_days

LATEST_PAYERS = 5
# The per-currency sums: every numeric column of a history row but the client's.
_NOT_SUMMED = frozenset({"currency", "client_id", "name"})


@dataclass(frozen=True)
class ClientLateness:
    client_id: int
    name: str
    paid: int
    late_total: int

    @property
    def average(self) -> Fraction:
        return Fraction(self.late_total, self.paid)

    @property
    def shift(self) -> int:
        """The client's usual lateness in whole days (half away from zero)."""
        return rounded_days(self.late_total, self.paid)


@dataclass(frozen=True)
class PaymentHistory:
    by_currency: dict[str, dict[str, int]]
    clients: list[ClientLateness]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> PaymentHistory:
        by_currency: dict[str, dict[str, int]] = {}
        clients: dict[int, ClientLateness] = {}
        for row in rows:
            sums = by_currency.setdefault(row["currency"], {})
            for key, value in row.items():
                if key not in _NOT_SUMMED:
                    sums[key] = sums.get(key, 0) + value
            known = clients.get(row["client_id"])
            clients[row["client_id"]] = ClientLateness(
                row["client_id"],
                row["name"],
                row["paid"] + (known.paid if known else 0),
                row["late_total"] + (known.late_total if known else 0),
            )
        return cls(by_currency, list(clients.values()))

    def shifts(self) -> dict[int, int]:
        """client id -> usual lateness in days, for the clients whose shift is not 0."""
        return {client.client_id: client.shift for client in self.clients if client.shift}

    def latest_payers(self, limit: int = LATEST_PAYERS) -> list[ClientLateness]:
        """The clients who pay late on average (more than 0 days, exact, not rounded),
        latest first, ties by name (case-insensitive, then as written), then id. A client
        who pays on time or early is not a late payer, however few others there are."""
        # nsmallest is sorted(...)[:limit] without sorting every client: a few thousand
        # Fraction comparisons instead of tens of thousands.
        return heapq.nsmallest(
            limit,
            (client for client in self.clients if client.average > 0),
            key=lambda c: (-c.average, c.name.lower(), c.name, c.client_id),
        )
