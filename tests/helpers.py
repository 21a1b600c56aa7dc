"""Small helpers shared by the test suites."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(predicate: Callable[[], T], timeout: float = 30, interval: float = 0.05, what: str = "") -> T:
    """Call ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds.

    The one way tests wait for something to happen: a deadline, never a bare sleep. The last
    exception the predicate raised (if any) is chained to the failure.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except AssertionError as exc:  # a predicate may assert its way to "not yet"
            last_error, value = exc, None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not met within {timeout} s: {what or predicate!r}") from last_error
        time.sleep(interval)
