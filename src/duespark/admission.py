"""Admission control: at most a fixed number of requests run inside the application at once.

FastAPI runs each sync dependency and each sync endpoint in a worker thread, taken from a
pool of 40, one step at a time. A request's database transaction spans those steps, and on
SQLite every transaction holds the database's write lock. Let more requests in than there
are threads and they can starve each other: every thread waits for the lock, while the
request that holds it waits for a thread to run its next step, until the busy timeout
turns the burst into 503s. PostgreSQL's connection pool invites the same starvation.

Requests beyond the limit therefore wait here, on the event loop, holding no thread, no
connection and no lock. Health checks and metrics skip the queue so that a burst never
makes a load balancer think the process is dead.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

# Below the thread pool's 40, with room for the threads that stream responses.
DEFAULT_LIMIT = 24
UNQUEUED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AdmissionLimit:
    def __init__(self, app: ASGIApp, limit: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED_PATHS:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a semaphore belongs to one event loop
            self._slots, self._loop = asyncio.Semaphore(self.limit), loop
        async with self._slots:
            await self.app(scope, receive, send)
