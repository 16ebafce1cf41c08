"""The stop flag a signal handler sets (``kit/signal_event.py``).

A handler runs on the main thread in the middle of whatever it was doing; with
``threading.Event`` it could wait for a lock its own thread held and hang the process.
These tests set the event from real signal handlers, while the main thread waits on it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from duespark.kit.signal_event import SignalEvent


@pytest.fixture
def event() -> Iterator[SignalEvent]:
    made = SignalEvent()
    yield made
    made.close()


def test_a_handler_wakes_a_wait_at_once(event: SignalEvent) -> None:
    previous = signal.signal(signal.SIGUSR1, lambda _sig, _frame: event.set())
    try:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        started = time.monotonic()
        assert event.wait(10) is True
        assert time.monotonic() - started < 5
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert event.is_set()


def test_a_signal_that_does_not_set_it_leaves_the_wait_running(event: SignalEvent) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda sig, _frame: received.append(sig))
    try:
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        started = time.monotonic()
        assert event.wait(0.4) is False
        assert time.monotonic() - started >= 0.35
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == [signal.SIGUSR1]


def test_set_many_times_then_clear(event: SignalEvent) -> None:
    for _ in range(100_000):  # more wake-ups than the pipe holds: set never blocks
        event.set()
    assert event.wait(0) is True
    event.clear()
    assert event.is_set() is False
    assert event.wait(0.05) is False
    event.set()
    assert event.wait(0) is True


def test_set_from_another_thread_wakes_the_wait(event: SignalEvent) -> None:
    threading.Timer(0.1, event.set).start()
    assert event.wait(10) is True
