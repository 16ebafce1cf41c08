"""Retry timing for outbox messages, table-driven: backoff, jitter, cap, giving up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from duespark.outbox.retry import (
    BASE_DELAY,
    JITTER,
    MAX_ATTEMPTS,
    MAX_DELAY,
    backoff_delay,
    gives_up,
    next_attempt_at,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class FixedRandom(random.Random):
    """A random source whose ``random()`` always answers ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    "attempts, draw, seconds",
    [
        # no jitter drawn: the plain doubling from 30 s
        (1, 0.0, 30),
        (2, 0.0, 60),
        (3, 0.0, 120),
        (4, 0.0, 240),
        (7, 0.0, 1920),
        # 30 s * 2**7 = 3840 s: the first capped delay
        (8, 0.0, 3600),
        (9, 0.0, 3600),
        (10_000, 0.0, 3600),
        # jitter only shortens: by draw * 25 %
        (1, 0.5, 26.25),
        (3, 0.999, 120 * (1 - 0.25 * 0.999)),
        (8, 0.5, 3150),
    ],
)
def test_backoff_delay(attempts: int, draw: float, seconds: float) -> None:
    delay = backoff_delay(attempts, FixedRandom(draw))
    assert delay.total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    "attempts, dead",
    [(0, False), (1, False), (MAX_ATTEMPTS - 1, False), (MAX_ATTEMPTS, True), (50, True)],
)
def test_gives_up(attempts: int, dead: bool) -> None:
    assert gives_up(attempts) is dead


def test_gives_up_with_another_limit() -> None:
    assert not gives_up(2, max_attempts=3) and gives_up(3, max_attempts=3)


def test_next_attempt_is_now_plus_the_delay() -> None:
    assert next_attempt_at(NOW, 2, FixedRandom(0.0)) == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("attempts", [0, -1])
def test_backoff_is_only_for_failed_attempts(attempts: int) -> None:
    with pytest.raises(ValueError):
        backoff_delay(attempts, FixedRandom(0.0))


@pytest.mark.parametrize("seed", range(50))
def test_delays_grow_until_the_cap_and_never_exceed_it(seed: int) -> None:
    """Because jitter shortens by less than half, each delay is longer than the previous
    one, whatever the draws, until the cap; none goes over the cap or under 75 %."""
    rng = random.Random(seed)
    delays = [backoff_delay(attempts, rng) for attempts in range(1, MAX_ATTEMPTS + 3)]
    uncapped = [d for d in delays if d < MAX_DELAY * (1 - JITTER)]
    assert uncapped == sorted(uncapped) and len(set(uncapped)) == len(uncapped)
    assert all(MAX_DELAY * (1 - JITTER) <= d <= MAX_DELAY for d in delays[len(uncapped) :])
    assert delays[0] >= BASE_DELAY * (1 - JITTER)


def test_jitter_spreads_workers_that_failed_together() -> None:
    """Twenty workers failing at the same instant do not all come back at the same one."""
    retries = {next_attempt_at(NOW, 3, random.Random(seed)) for seed in range(20)}
    assert len(retries) == 20
    assert max(retries) - min(retries) > timedelta(seconds=10)


@pytest.mark.parametrize("draw, minutes", [(0.0, 303.5), (0.999, 227.7)])
def test_time_from_first_failure_to_dead(draw: float, minutes: float) -> None:
    """The promise in the module docstring: about 4 to 5 hours of trying before dead."""
    total = sum((backoff_delay(n, FixedRandom(draw)) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert total.total_seconds() / 60 == pytest.approx(minutes, abs=0.1)
