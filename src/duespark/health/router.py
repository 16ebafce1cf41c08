"""``/healthz`` says the process is alive; ``/readyz`` says it should receive traffic.

Liveness never touches the database: a restart would not fix a database outage, so an
orchestrator must not kill healthy processes for it. Readiness checks that the database
answers and that its schema is at the code's newest migration.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from duespark.dependencies import DatabaseDep
from duespark.ops.migrations import schema_state

router = APIRouter(tags=["health"])
logger = logging.getLogger("duespark.health")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready, with the reason"}})
def readyz(database: DatabaseDep) -> JSONResponse:
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
