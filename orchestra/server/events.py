"""A run's event stream: every event gets the next id of its run, is kept, and wakes every listener at once.

`EventBroker` is the seam for scale-out: this process's `LocalEventBroker` keeps streams in memory; with `REDIS_URL`,
`RedisEventBroker` (`redis_events.py`) keeps them in Redis Streams, so any process streams a run another executes.
Ids are the event's index in its run (0, 1, 2, ...), so `Last-Event-ID: N` resumes at N + 1 and `-1` replays from the
start, as the LangGraph SDKs do. Listeners wait on a future that the next event resolves: no polling, no delay
between an event and its delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class StreamEvent:
    id: int
    event: str
    data: bytes  # JSON


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and the JSON body `/wait` and `/join` answer with."""

    status: str
    result: bytes


class Subscription(Protocol):
    async def next(self, timeout: float | None = None) -> StreamEvent | RunOutcome | None:
        """The next event, the outcome once the run has ended (then again on every call), or None after `timeout`
        seconds without either."""
        ...


class EventBroker(Protocol):
    def open(self, run_id: str) -> None:
        """Start `run_id`'s stream; done when the run is created, so a listener never misses its first event."""
        ...

    async def publish(self, run_id: str, event: str, data: bytes) -> None: ...

    async def close(self, run_id: str, outcome: RunOutcome) -> None:
        """End the stream; every listener gets `outcome` after the events it had not yet read."""
        ...

    async def subscribe(self, run_id: str, after: int | None, *, live: bool = True) -> Subscription | None:
        """Events after id `after` (`-1`: all; None: only those published from now on); None when this broker does
        not know the run (it ended before this process started, or its events are no longer kept). `live`: the run
        may still publish (it was pending or running when last read), so a stream not started yet is awaited."""
        ...


@dataclass
class _RunLog:
    events: list[StreamEvent] = field(default_factory=list)
    outcome: RunOutcome | None = None
    changed: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def wake(self) -> None:
        woken, self.changed = self.changed, asyncio.get_running_loop().create_future()
        woken.set_result(None)


class _LocalSubscription:
    def __init__(self, log: _RunLog, position: int) -> None:
        self._log, self._position = log, position

    async def next(self, timeout: float | None = None) -> StreamEvent | RunOutcome | None:
        log = self._log
        if self._position >= len(log.events) and log.outcome is None:
            try:
                # Shielded: a listener that gives up (timeout, disconnect) must not cancel the shared future.
                await asyncio.wait_for(asyncio.shield(log.changed), timeout)
            except TimeoutError:
                return None
        if self._position < len(log.events):
            self._position += 1
            return log.events[self._position - 1]
        return log.outcome


class LocalEventBroker:
    """`EventBroker` in this process's memory. A finished run's events are kept for `retention` seconds, and for at
    most `max_retained` finished runs, so clients can rejoin a stream they dropped."""

    def __init__(self, retention: float, max_retained: int) -> None:
        self._retention, self._max_retained = retention, max_retained
        self._logs: dict[str, _RunLog] = {}
        self._finished: OrderedDict[str, float] = OrderedDict()

    def open(self, run_id: str) -> None:
        self._logs.setdefault(run_id, _RunLog())

    async def publish(self, run_id: str, event: str, data: bytes) -> None:
        log = self._logs[run_id]
        log.events.append(StreamEvent(len(log.events), event, data))
        log.wake()

    async def close(self, run_id: str, outcome: RunOutcome) -> None:
        log = self._logs.setdefault(run_id, _RunLog())
        log.outcome = outcome
        log.wake()
        self._finished[run_id] = time.monotonic()
        self._forget_old()

    async def subscribe(self, run_id: str, after: int | None, *, live: bool = True) -> _LocalSubscription | None:
        self._forget_old()
        log = self._logs.get(run_id)
        if log is None:
            return None
        position = len(log.events) if after is None else max(after + 1, 0)
        return _LocalSubscription(log, position)

    def _forget_old(self) -> None:
        horizon = time.monotonic() - self._retention
        while self._finished:
            run_id, closed = next(iter(self._finished.items()))
            if closed > horizon and len(self._finished) <= self._max_retained:
                break
            del self._finished[run_id]
            self._logs.pop(run_id, None)
