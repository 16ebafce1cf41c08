"""When to try a failed email again, and when to stop: pure functions of the attempt count,
``now`` and an injected random source (so tests can pin the jitter).

The delay after the n-th failed attempt is ``BASE_DELAY * 2**(n-1)``, capped at
``MAX_DELAY``, then shortened by up to ``JITTER`` (a quarter) at random, so that workers
retrying after a shared outage do not all hit the SMTP server in the same second. Because
the jitter only shortens, by less than half, each delay is longer than the one before until
the cap, and no delay ever exceeds the cap.

With the defaults the waits are about 30 s, 1, 2, 4, 8, 16 and 32 min, then 1 h; after
``MAX_ATTEMPTS`` (12) failed attempts, about 4 to 5 hours of trying depending on the
jitter (long enough to ride out a mail server's maintenance window), the message is dead
until an operator requeues it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
JITTER = 0.25
MAX_ATTEMPTS = 12


def backoff_delay(
    attempts: int,
    rng: random.Random,
    *,
    base: timedelta = BASE_DELAY,
    cap: timedelta = MAX_DELAY,
) -> timedelta:
    """How long to wait after ``attempts`` failed attempts (``attempts >= 1``)."""
    if attempts < 1:
        raise ValueError("backoff is for a message that has failed at least once")
    # In float seconds, with the exponent bounded: a timedelta of 30 s * 2**64 overflows.
    doublings = min(attempts - 1, 64)
    ceiling = min(base.total_seconds() * 2.0**doublings, cap.total_seconds())
    return timedelta(seconds=ceiling * (1 - JITTER * rng.random()))


def next_attempt_at(now: datetime, attempts: int, rng: random.Random) -> datetime:
    """The instant a message that has failed ``attempts`` times may be tried again."""
    return now + backoff_delay(attempts, rng)


def gives_up(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """True once ``attempts`` failed attempts mean the message should be dead."""
    return attempts >= max_attempts
