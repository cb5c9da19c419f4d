"""Waiting in tests: on a condition, never for a fixed time.

This is the one module of the suite that sleeps (the poll interval between two looks at a condition);
``tests/test_static_checks.py`` flags ``time.sleep``, ``qtbot.wait`` and ``asyncio.sleep(<constant>)`` anywhere
else. A test that needs time to pass says what it waits for: a count that moves, a state that is reached.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

POLL_S = 0.02


Described = str | Callable[[], str]


def _timed_out(timeout: float, what: Described) -> AssertionError:
    """The failure: ``what`` may be a function, called now, so a message that quotes state (the last decisions, a
    count) shows it as it was at the timeout, not as it was when the wait began."""
    return AssertionError(f"timed out after {timeout:g} s waiting for {what if isinstance(what, str) else what()}")


async def until(predicate: Callable[[], object], timeout: float, what: Described, interval: float = POLL_S) -> None:
    """Return as soon as ``predicate()`` is true (looked at every ``interval`` s on the running loop); fail with
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what)
        await asyncio.sleep(interval)


async def becomes_true(predicate: Callable[[], object], timeout: float, interval: float = POLL_S) -> bool:
    """Like :func:`until`, but answers whether it happened in time instead of failing."""
    try:
        await until(predicate, timeout, "", interval)
    except AssertionError:
        return False
    return True


def wait_until(predicate: Callable[[], object], timeout: float, what: Described, interval: float = POLL_S) -> None:
    """:func:`until` for synchronous code (e2e tests watching another process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what)
        time.sleep(interval)


def random_moment(rng: random.Random, longest_s: float) -> None:
    """Let a random part of ``longest_s`` pass: a fault test picks the moment of its fault (a kill) this way. It is
    the fault's timing, not a wait for something to happen."""
    time.sleep(rng.uniform(0.0, longest_s))


async def forever() -> None:
    """A coroutine that runs until it is cancelled (a stand-in for a long job)."""
    await asyncio.Event().wait()
