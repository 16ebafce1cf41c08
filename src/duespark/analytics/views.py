"""The dashboard (``/app``): where the money is, per currency, and what happens next.

Read-only. It shows, from ``analytics.service.summary`` as of today in the account's time
zone: cards per currency (outstanding, overdue, expected this month; the rule for the
last is in ``web/dashboard.py`` and on the page), an aging chart and an expected-payments
chart per currency (SVG drawn on the server, ``web/charts.py``, each with a table of the
same figures), the reminders that could not be sent (``reminders/attention.py``), the
overdue invoices, and the reminders the worker will send next (``reminders/upcoming.py``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from duespark.analytics import service as analytics_service
from duespark.clock import local_today
from duespark.dependencies import NowDep, SessionDep
from duespark.invoices import service as invoice_service
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import InvoiceSort
from duespark.kit.pagination import PageParams
from duespark.reminders.attention import failed_reminders
from duespark.reminders.upcoming import HORIZON_DAYS, next_to_send
from duespark.web.charts import render_svg
from duespark.web.dashboard import currency_panels
from duespark.web.dependencies import PageUser
from duespark.web.pages import HOME_PATH, page_router
from duespark.web.tables import invoice_rows
from duespark.web.templating import render

router = page_router()

OVERDUE_LIMIT = 10


@router.get(HOME_PATH)
def dashboard(request: Request, user: PageUser, session: SessionDep, now: NowDep) -> HTMLResponse:
    summary = analytics_service.summary(session, user, as_of=None, now=now)
    overdue, overdue_total = invoice_service.list_invoices(
        session,
        user,
        filters=InvoiceFilters(overdue=True),
        sort=InvoiceSort.due_date,
        page=PageParams(limit=OVERDUE_LIMIT, offset=0),
        now=now,
    )
    today = local_today(now, user.time_zone)
    failed, failed_total = failed_reminders(session, user)
    return render(
        request,
        "analytics/dashboard.html",
        {
            "active": "home",
            "title": "Dashboard",
            "as_of": summary.as_of,
            "panels": currency_panels(summary),
            "render_svg": render_svg,
            "overdue_rows": invoice_rows(session, user, overdue, today=today),
            "overdue_total": overdue_total,
            "next_reminders": next_to_send(session, user, now=now),
            "failed_reminders": failed,
            "failed_total": failed_total,
            "horizon_days": HORIZON_DAYS,
            "account_paused": user.reminders_paused
            or (user.reminders_paused_until is not None and user.reminders_paused_until >= today),
            "paused_until": None if user.reminders_paused else user.reminders_paused_until,
            "now": now,
        },
    )
