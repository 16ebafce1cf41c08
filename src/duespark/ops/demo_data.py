"""The demo account's people and invoices (``ops/demo.py`` replays them).

Days are counted from the day the demo is loaded, so the story is always current: an
invoice ``due_in_days=-45`` is 45 days overdue on the day it is loaded (unless the story
pays or voids it). The invoices cover every state the product knows: drafts, open ones
not yet due and due today, overdue ones in every aging bucket up to 90+, paid on time and
late, void, and one paused on a promise to pay. Amounts are in the client's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ACCOUNT = {
    "email": "demo@duespark.example",
    # Printed by `duespark demo` and given in the README: a demo, not a secret.
    "password": "paid-on-time-please",
    "name": "Robin Reyes",
    "business_name": "Reyes Design Studio",
    "time_zone": "Europe/London",
}
PAY_LINK = "https://pay.duespark.example/reyes-design/"


@dataclass(frozen=True)
class DemoClient:
    key: str
    name: str
    email: str
    contact_name: str
    time_zone: str
    locale: str
    currency: str
    notes: str = ""


@dataclass(frozen=True)
class DemoInvoice:
    number: str
    client: str  # a DemoClient key
    amount: str
    issued_days_ago: int
    due_in_days: int  # negative: the due date is past
    state: Literal["draft", "open", "paid", "void"] = "open"
    paid_days_after_due: int | None = None  # negative: paid early
    promised_in_days: int | None = None  # paused until this many days from today
    entered_days_ago: int | None = None  # recorded in DueSpark late (default: when issued)
    notes: str = ""
    with_pay_link: bool = True

    def payment_url(self) -> str | None:
        return PAY_LINK + self.number if self.with_pay_link else None


CLIENTS = (
    DemoClient(
        "northwind", "Northwind Traders", "accounts@northwind.example", "Nancy Davolio",
        "America/New_York", "en-US", "USD",
    ),
    DemoClient(
        "globex", "Globex Corporation", "ap@globex.example", "Hank Scorpio",
        "America/Los_Angeles", "en-US", "USD",
        "Pays late but always pays; call Hank before the final notice.",
    ),
    DemoClient(
        "brennan", "Brennan & Ó Súilleabháin", "hello@brennan-os.example", "Aoife Brennan",
        "Europe/Dublin", "en-IE", "EUR",
    ),
    DemoClient(
        "mueller", "Müller Feinmechanik GmbH", "buchhaltung@mueller-fm.example", "Jonas Müller",
        "Europe/Berlin", "de-DE", "EUR",
    ),
    DemoClient(
        "tanaka", "Tanaka Design Studio", "keiri@tanaka-design.example", "Hanako Tanaka",
        "Asia/Tokyo", "ja-JP", "JPY",
    ),
    DemoClient(
        "kangaroo", "Kangaroo Creative Pty Ltd", "accounts@kangaroo.example", "Mia Nguyen",
        "Australia/Sydney", "en-AU", "AUD",
    ),
    DemoClient(
        "thames", "Thames Analytics Ltd", "finance@thames-analytics.example", "Oliver Hughes",
        "Europe/London", "en-GB", "GBP",
    ),
    DemoClient(
        "lumiere", "Lumière Productions", "compta@lumiere-prod.example", "Camille Durand",
        "Europe/Paris", "fr-FR", "EUR",
    ),
)  # fmt: skip

# (client, amount, issued days ago, due in days, state, paid days after due[, entered days ago])
_SPECS: tuple[tuple, ...] = (
    # Paid on time (on or before the due date).
    ("thames", "2400.00", 150, -118, "paid", -2),
    ("northwind", "3200.00", 110, -80, "paid", 0),
    ("mueller", "1850.00", 100, -70, "paid", -5),
    ("tanaka", "450000", 95, -65, "paid", -1),
    ("lumiere", "2750.00", 80, -50, "paid", 0),
    ("kangaroo", "5200.00", 70, -40, "paid", -3),
    ("brennan", "980.00", 60, -30, "paid", -1),
    ("thames", "1500.00", 45, -15, "paid", -2),
    # Paid late.
    ("globex", "4100.00", 140, -110, "paid", 21),
    ("globex", "2600.00", 100, -70, "paid", 35),
    ("northwind", "1750.00", 90, -60, "paid", 9),
    ("lumiere", "3900.00", 75, -45, "paid", 16),
    ("brennan", "1200.00", 65, -35, "paid", 4),
    ("kangaroo", "2300.00", 50, -20, "paid", 8),
    # Void.
    ("mueller", "640.00", 40, -10, "void", None),
    ("northwind", "300.00", 20, 10, "void", None),
    # Drafts, not sent yet.
    ("thames", "2200.00", 0, 30, "draft", None),
    ("tanaka", "280000", 2, 28, "draft", None),
    ("kangaroo", "1900.00", 1, 30, "draft", None),
    # Open, not yet due.
    ("northwind", "2900.00", 25, 5, "open", None),
    ("globex", "6400.00", 20, 10, "open", None),
    ("brennan", "1450.00", 15, 15, "open", None),
    ("mueller", "2100.00", 10, 20, "open", None),
    ("tanaka", "620000", 8, 22, "open", None),
    ("kangaroo", "3300.00", 12, 18, "open", None),
    ("thames", "1800.00", 5, 25, "open", None),
    ("lumiere", "2500.00", 3, 27, "open", None),
    ("globex", "1200.00", 28, 2, "open", None),
    ("mueller", "3600.00", 30, 40, "open", None),
    # Due today.
    ("brennan", "850.00", 30, 0, "open", None),
    ("thames", "1250.00", 30, 0, "open", None),
    # Overdue 1 to 30 days.
    ("northwind", "2200.00", 40, -10, "open", None),
    ("lumiere", "1650.00", 35, -5, "open", None),
    ("kangaroo", "4800.00", 50, -20, "promised", None),
    ("tanaka", "350000", 58, -28, "open", None),
    ("globex", "3100.00", 45, -15, "open", None),
    # Overdue 31 to 60 days.
    # Entered 20 days ago, already 25 days overdue: planning catches up with one reminder
    # and records why the earlier steps were skipped.
    ("mueller", "2950.00", 75, -45, "open", None, 20),
    ("brennan", "1100.00", 70, -40, "open", None),
    ("northwind", "5400.00", 85, -55, "open", None),
    # Overdue 61 to 90 days.
    ("globex", "7200.00", 100, -70, "open", None),
    ("lumiere", "890.00", 110, -80, "open", None),
    # Overdue more than 90 days.
    ("thames", "3400.00", 150, -120, "open", None),
    ("mueller", "1300.00", 135, -105, "open", None),
)
_NOTES = {
    "promised": "Mia called: paying at the end of next week.",
    "void": "Issued twice by mistake.",
}


def _invoices() -> tuple[DemoInvoice, ...]:
    """The specs as invoices, numbered in the order they were issued."""
    ordered = sorted(_SPECS, key=lambda spec: (-spec[2], spec[0], spec[1]))
    invoices = []
    for sequence, spec in enumerate(ordered, 1):
        client, amount, issued, due, state, paid_after, entered = (*spec, None)[:7]
        invoices.append(
            DemoInvoice(
                number=f"RDS-{1000 + sequence}",
                client=client,
                amount=amount,
                issued_days_ago=issued,
                due_in_days=due,
                state="open" if state == "promised" else state,
                paid_days_after_due=paid_after,
                promised_in_days=7 if state == "promised" else None,
                entered_days_ago=entered,
                notes=_NOTES.get(state, ""),
                with_pay_link=sequence % 4 != 0,
            )
        )
    return tuple(invoices)


INVOICES = _invoices()
