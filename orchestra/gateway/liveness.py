"""The clock of one tool call: its timeouts count silence, and each progress notification resets them.

A call that reports progress is alive however long it runs; one that says nothing for the pool's `timeout` (or
for `retry_policy.per_try_timeout`, on one try) is given up on. Giving up cancels the request upstream, but the
tool may still be running there: the error the client gets says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from orchestra.gateway.rpc import Progress

T = TypeVar("T")


class CallClock:
    """`timeout` seconds of silence end the call; `run()` bounds one try by its own (shorter) limit as well."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        self.last_alive = self.started
        self.progress_seen = 0
        self._tries: dict[asyncio.Timeout, float] = {}

    @property
    def deadline(self) -> float:
        """When the call ends unless it reports progress first (monotonic clock)."""
        return self.last_alive + self.timeout

    def alive(self) -> None:
        """The upstream said the call is alive: every running try gets its whole limit again."""
        self.last_alive = time.monotonic()
        self.progress_seen += 1
        now = asyncio.get_running_loop().time()
        for timer, limit in self._tries.items():
            if not timer.expired():
                timer.reschedule(now + min(limit, self.timeout))

    def progress(self, forward: Progress | None) -> Progress:
        """A progress callback for the upstream request: marks the call alive, then relays to the client (if it
        asked for progress)."""

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.alive()
            if forward is not None:
                await forward(progress, total, message)

        return on_progress

    async def run(self, call: Awaitable[T], limit: float) -> T:
        """Await one try, ended (TimeoutError) after `limit` seconds, or the call's `timeout`, without progress."""
        budget = max(0.0, min(limit, self.deadline - time.monotonic()))
        async with asyncio.timeout(budget) as timer:
            self._tries[timer] = limit
            try:
                return await call
            finally:
                self._tries.pop(timer, None)

    def silent_for(self, since: float) -> float:
        """Seconds without a result or progress, counted from `since` (the try's start) or the last progress."""
        return time.monotonic() - max(since, self.last_alive)
