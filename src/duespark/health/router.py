"""``/healthz`` says the process is alive; ``/readyz`` says it should receive traffic.

Liveness never touches the database: a restart would not fix a database outage, so an
orchestrator must not kill healthy processes for it. Readiness fails while the process
drains after SIGTERM (the load balancer must stop routing here before the server stops
accepting), and otherwise checks that the database answers and that its schema is at the
code's newest migration.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from duespark.dependencies import DatabaseDep
from duespark.ops.migrations import schema_state

router = APIRouter(tags=["health"])
logger = logging.getLogger("duespark.health")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """200 while the process runs, draining included: a restart would not help."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready, with the reason"}})
def readyz(request: Request, database: DatabaseDep) -> JSONResponse:
    drain = getattr(request.app.state, "drain", None)
    if drain is not None and drain.is_draining:
        # Answered without the database: draining is decided, and the probe must be cheap
        # while the process finishes its last requests.
        return JSONResponse(
            {
                "status": "draining",
                "checks": {"drain": f"stopping, {drain.seconds_draining():.1f} s in"},
            },
            status_code=503,
        )
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        state = schema_state(database.engine)
    except SQLAlchemyError as exc:
        logger.warning("readiness: database unreachable: %s", exc)
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "unreachable"}}, status_code=503
        )
    if not state.is_current:
        return JSONResponse(
            {
                "status": "unavailable",
                "checks": {
                    "database": "ok",
                    "schema": f"at {state.current or 'nothing'}, code needs {state.head}; "
                    "run `duespark db upgrade`",
                },
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "checks": {"database": "ok", "schema": "current"}})
