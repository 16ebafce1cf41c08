"""The demo account behind ``duespark demo``: a freelancer's last five months, replayed.

A newcomer should open the dashboard and see real figures, so the demo is not a dump of
rows: it replays history through the same services a user's clicks go through. Invoices
are created on their issue dates, paid or voided on the days the story says, paused where
a client promised to pay, and on every day of the story the reminder planner runs for
each client at 10:00 in the client's time zone (``schedule.plan`` and
``planning.queue_step``, as the worker does). Each email it queues is recorded as
delivered a few minutes later through ``outbox.repository.mark_sent``; none is ever sent,
because these emails belong to the past. What the story leaves for the future (a step
due after ``now``) is left to the real worker, like any account's.

Everything is relative to ``now``: invoices due today, overdue by every age into 90+,
not yet due, paid on time and late, drafts and void ones, in five currencies and eight
time zones (``ops/demo_data.py``). The account is ``demo@duespark.example``; loading it
twice adds nothing (:class:`DemoExists`), and ``reset`` deletes it (all its data goes with
it, by the database's cascades) and loads it again. No other account is read or touched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from duespark.auth import repository as auth_repository
from duespark.auth import service as auth_service
from duespark.auth.schemas import UserRegister
from duespark.clients import service as client_service
from duespark.clients.schemas import ClientCreate
from duespark.clock import local_today
from duespark.config import Settings
from duespark.invoices import service as invoice_service
from duespark.invoices.schemas import InvoiceCreate, MarkPaid
from duespark.kit.pagination import PageParams
from duespark.models import Client, Invoice, Reminder
from duespark.ops.demo_data import (
    ACCOUNT,
    CLIENTS,
    INVOICES,
    DemoInvoice,
)
from duespark.outbox import repository as outbox_repository
from duespark.reminders import repository as reminder_repository
from duespark.reminders import service as reminder_service
from duespark.reminders.planning import invoice_facts, queue_step
from duespark.reminders.policy import resolve_policy
from duespark.reminders.schedule import PlannedStep, plan

DEMO_EMAIL = ACCOUNT["email"]
DEMO_PASSWORD = ACCOUNT["password"]
PLANNING_HOUR = time(10, 0)  # in each client's zone: inside the default send window
DELIVERY_DELAY = timedelta(minutes=3)
PROMISED_DAYS_AGO = 2  # when the client on the phone promised to pay


class DemoExists(Exception):
    """The demo account is there already; nothing was changed."""


@dataclass
class DemoResult:
    email: str
    password: str
    clients: int = 0
    invoices: Counter[str] = field(default_factory=Counter)
    overdue: int = 0
    reminders: Counter[str] = field(default_factory=Counter)


def load_demo(
    session: Session, *, settings: Settings, now: datetime, reset: bool = False
) -> DemoResult:
    """Create the demo account with its history up to ``now``; the caller commits."""
    existing = auth_repository.get_user_by_email(session, DEMO_EMAIL)
    if existing is not None:
        if not reset:
            raise DemoExists(DEMO_EMAIL)
        session.delete(existing)
        session.flush()
    return _Story(session, settings=settings, now=now).tell()


@dataclass(frozen=True)
class _Event:
    at: datetime
    order: int  # among events at the same instant: create, pay, void, pause, then plan
    invoice: DemoInvoice | None = None
    client_key: str | None = None


class _Story:
    def __init__(self, session: Session, *, settings: Settings, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.zone = ZoneInfo(ACCOUNT["time_zone"])
        self.today = local_today(now, ACCOUNT["time_zone"])
        self.first_day = self.today - timedelta(
            days=max(invoice.issued_days_ago for invoice in INVOICES) + 1
        )
        self.result = DemoResult(email=DEMO_EMAIL, password=DEMO_PASSWORD)
        self.clients: dict[str, Client] = {}
        self.invoices: dict[str, Invoice] = {}  # by number
        self.recorded: dict[int, set[int]] = {}

    def tell(self) -> DemoResult:
        self.user = auth_service.register(
            self.session,
            data=UserRegister(
                email=DEMO_EMAIL,
                password=DEMO_PASSWORD,
                name=ACCOUNT["name"],
                business_name=ACCOUNT["business_name"],
                time_zone=ACCOUNT["time_zone"],
            ),
            now=self._local(self.first_day, time(8, 0)),
        )
        for spec in CLIENTS:
            self.clients[spec.key] = client_service.create_client(
                self.session,
                self.user,
                data=ClientCreate(
                    name=spec.name,
                    email=spec.email,
                    contact_name=spec.contact_name,
                    time_zone=spec.time_zone,
                    locale=spec.locale,
                    default_currency=spec.currency,
                    notes=spec.notes,
                ),
                now=self._local(self.first_day, time(8, 30)),
            )
        for event in sorted(self._events(), key=lambda event: (event.at, event.order)):
            self._happen(event)
        self._count()
        return self.result

    def _events(self) -> list[_Event]:
        events: list[_Event] = []
        for spec in INVOICES:
            issued = self.today - timedelta(days=spec.issued_days_ago)
            entered = self.today - timedelta(days=spec.entered_days_ago or spec.issued_days_ago)
            events.append(_Event(self._so_far(entered, time(9, 0)), 0, spec))
            if spec.paid_days_after_due is not None:
                paid = self._due(spec) + timedelta(days=spec.paid_days_after_due)
                events.append(_Event(self._so_far(paid, time(14, 0)), 1, spec))
            if spec.state == "void":
                voided = self._so_far(issued + timedelta(days=3), time(11, 0))
                events.append(_Event(voided, 2, spec))
            if spec.promised_in_days is not None:
                promised = self.today - timedelta(days=PROMISED_DAYS_AGO)
                events.append(_Event(self._so_far(promised, time(11, 0)), 3, spec))
        day = self.first_day
        while day <= self.today:
            for spec in CLIENTS:
                at = datetime.combine(day, PLANNING_HOUR, tzinfo=ZoneInfo(spec.time_zone))
                events.append(_Event(at.astimezone(UTC), 4, client_key=spec.key))
            day += timedelta(days=1)
        return [event for event in events if event.at < self.now]

    def _happen(self, event: _Event) -> None:
        if event.order == 4:
            assert event.client_key is not None
            self._plan(self.clients[event.client_key], event.at)
            return
        spec = event.invoice
        assert spec is not None
        if event.order == 0:
            self._create(spec, event.at)
            return
        invoice = self.invoices[spec.number]
        if event.order == 1:
            invoice_service.mark_paid(
                self.session, self.user, invoice.id, data=MarkPaid(paid_at=event.at), now=event.at
            )
        elif event.order == 2:
            invoice_service.void_invoice(self.session, self.user, invoice.id, now=event.at)
        elif spec.promised_in_days is not None:
            until = self.today + timedelta(days=spec.promised_in_days)
            reminder_service.pause_invoice(
                self.session, self.user, invoice.id, until=until, now=event.at
            )

    def _create(self, spec: DemoInvoice, at: datetime) -> None:
        client = self.clients[spec.client]
        invoice = invoice_service.create_invoice(
            self.session,
            self.user,
            data=InvoiceCreate(
                client_id=client.id,
                number=spec.number,
                amount=spec.amount,
                issue_date=self.today - timedelta(days=spec.issued_days_ago),
                due_date=self._due(spec),
                status="draft" if spec.state == "draft" else "open",
                payment_url=spec.payment_url(),
                notes=spec.notes,
            ),
            now=at,
        )
        self.invoices[spec.number] = invoice
        self.recorded[invoice.id] = set()

    def _plan(self, client: Client, at: datetime) -> None:
        """One planning pass over the client's open invoices, as the worker's would run at
        ``at``; what it queues is delivered (on paper) a few minutes later."""
        policy, _ = resolve_policy(self.user.reminder_policy, client.reminder_policy)
        offsets = {step.offset_days for step in policy.steps}
        # No step is reached before its day (a zone is at most a day ahead of UTC), so an
        # invoice due after this has nothing to plan yet.
        latest_due = at.date() + timedelta(days=1) - timedelta(days=min(offsets, default=0))
        for invoice in self.invoices.values():
            if invoice.client_id != client.id or invoice.status != "open":
                continue
            done = self.recorded[invoice.id]
            if invoice.due_date > latest_due or offsets <= done:
                continue  # planning would answer "nothing yet" or "nothing left"
            decision = plan(
                invoice_facts(invoice, client, self.user),
                policy,
                done_offsets=frozenset(done),
                now=at,
            )
            for planned, reason in decision.skip:
                self._skip(invoice, planned, reason, at)
                done.add(planned.step.offset_days)
            if decision.send is not None:
                reminder = queue_step(
                    self.session, self.settings, invoice, client, self.user, decision.send,
                    {}, at,
                )  # fmt: skip
                done.add(decision.send.step.offset_days)
                message = reminder_repository.outbox_for(self.session, reminder.id)
                assert message is not None
                outbox_repository.mark_sent(self.session, message.id, now=at + DELIVERY_DELAY)

    def _skip(self, invoice: Invoice, planned: PlannedStep, reason: str, at: datetime) -> None:
        reminder_repository.insert_once(
            self.session,
            Reminder(
                user_id=self.user.id,
                invoice_id=invoice.id,
                offset_days=planned.step.offset_days,
                tone=planned.step.tone.value,
                state="skipped",
                reason=reason,
                scheduled_for=planned.send_at,
                created_at=at,
                updated_at=at,
            ),
        )
        reminder_repository.add_activity(
            self.session,
            user_id=self.user.id,
            invoice_id=invoice.id,
            kind="reminder_skipped",
            detail=f"{planned.step.tone.value} reminder ({planned.step.offset_days:+d} days): "
            f"{reason}",
            now=at,
        )

    def _count(self) -> None:
        self.session.flush()
        self.result.clients = len(self.clients)
        for invoice in self.invoices.values():
            self.result.invoices[invoice.status] += 1
            if invoice.status == "open" and invoice.due_date < self.today:
                self.result.overdue += 1
        for reminder in reminder_repository.list_page(
            self.session,
            user_id=self.user.id,
            filters=reminder_repository.ReminderFilters(),
            page=PageParams(limit=10_000, offset=0),
        )[0]:
            self.result.reminders[reminder.state] += 1

    def _due(self, spec: DemoInvoice) -> date:
        return self.today + timedelta(days=spec.due_in_days)

    def _so_far(self, day: date, at: time) -> datetime:
        """When a step of the story happened: at its hour, or just now when that hour
        has not come yet today. Loaded at 01:00, the invoice entered "today at 09:00" is
        still entered (and the one paid "today" still paid), so the demo is the same
        whatever the hour it is loaded."""
        return min(self._local(day, at), self.now - timedelta(microseconds=1))

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)
