"""JSON endpoints: /analytics/summary and /clients/{client_id}/stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from duespark.analytics import service as analytics_service
from duespark.analytics.schemas import AnalyticsSummary, ClientStatsRead
from duespark.auth.dependencies import CurrentUser
from duespark.dependencies import NowDep, SessionDep
from duespark.kit.fields import IsoDate
from duespark.kit.pagination import ResourceId

router = APIRouter(tags=["analytics"])

AsOf = Annotated[
    IsoDate | None,
    Query(
        description=(
            "The books as they stood at the end of this day (YYYY-MM-DD): later invoices are "
            "ignored, later payments not yet made. Default: today in the account's time zone."
        )
    ),
]


@router.get("/analytics/summary", response_model=AnalyticsSummary)
def read_summary(
    user: CurrentUser, session: SessionDep, now: NowDep, as_of: AsOf = None
) -> AnalyticsSummary:
    """Outstanding, overdue, aging, DSO, payment timing and the forecast per currency; the
    latest payers; how often each reminder step is followed by payment within a week."""
    return AnalyticsSummary.of(analytics_service.summary(session, user, as_of=as_of, now=now))


@router.get(
    "/clients/{client_id}/stats",
    response_model=ClientStatsRead,
    responses={404: {"description": "No such client in this account"}},
)
def read_client_stats(
    client_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep, as_of: AsOf = None
) -> ClientStatsRead:
    """The client's open balance per currency, on-time rate, average days late and last
    payment."""
    stats = analytics_service.client_stats(session, user, client_id, as_of=as_of, now=now)
    return ClientStatsRead.of(stats)
