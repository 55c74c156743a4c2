"""Pacing calls to an outside service under its burst limit, for whoever reads many pages
(the health digest activity, ``cshub report health``)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

PACING_WINDOW_S = 10.0
"""HubSpot's burst limit counts requests per 10 s for the whole app."""


class CallPacer:
    """At most ``max_calls`` calls in any ``window_s`` seconds (a sliding window over the
    times of the last calls): a burst up to the budget goes out at once, the call after
    it waits until the oldest one leaves the window. Not thread-safe: one reader's.

    ``clock`` and ``sleep`` are injectable (tests drive a fake clock)."""

    def __init__(
        self,
        max_calls: int,
        window_s: float = PACING_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, not {max_calls}")
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, not {window_s}")
        self.max_calls = max_calls
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def delay(self) -> float:
        """Seconds until one more call fits in the window (0: now)."""
        now = self._clock()
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        if len(self._sent) < self.max_calls:
            return 0.0
        return self._sent[0] + self.window_s - now

    async def acquire(self, before_sleep: Callable[[float], Any] | None = None) -> float:
        """Wait until one more call fits, and count it as made now. ``before_sleep(delay)``
        is called before each wait (an activity heartbeats there). Returns the seconds
        waited."""
        waited = 0.0
        while (wait := self.delay()) > 0:
            if before_sleep:
                before_sleep(wait)
            await self._sleep(wait)
            waited += wait
        self._sent.append(self._clock())
        return waited
