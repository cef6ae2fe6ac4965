"""Where admitted runs wait and who executes them: per thread one run at a time, in order; across threads at most
`max_concurrent` at once.

`RunQueue` is the seam for scale-out: `LocalRunQueue` executes runs as tasks of this process; with `REDIS_URL`,
`RedisRunQueue` (`redis_queue.py`) shares them among every server process on the same Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from orchestra.core.writes import WriteJournal
from orchestra.server.records import RunRecord

log = logging.getLogger("orchestra.server")

# `shutdown`: this process stops and the run ends `error` (one process, no one to take it over). `release` (Redis
# mode): this process lets go of the run (it stops, or the cluster took the run away because it looked dead), and
# another process resumes it from its last checkpoint.
CancelAction = Literal["interrupt", "rollback", "timeout", "shutdown", "release"]
ThreadKey = tuple[str, str]  # (tenant, thread id)


@dataclass
class RunHandle:
    """A run admitted to the queue; `cancel` stops it wherever it is (waiting, or inside the graph)."""

    run: RunRecord
    action: CancelAction | None = None
    task: asyncio.Task[None] | None = None  # the graph's task, while it executes
    attempt: int = 1  # > 1: a retry after the process executing it was lost; resumes from its last checkpoint
    # Redis mode: whether this execution is still the run's current one (checked before its end is recorded), and
    # the journal of the writes it starts (`orchestra.core.writes`).
    current: Callable[[], Awaitable[bool]] | None = None
    journal: WriteJournal | None = None

    def cancel(self, action: CancelAction) -> None:
        if self.action is None:
            self.action = action
        if self.task is not None and not self.task.done():
            self.task.cancel()


class RunQueue(Protocol):
    async def inflight(self, key: ThreadKey) -> list[str]:
        """Ids of the thread's runs waiting or executing, in order."""
        ...

    async def has_waiting(self, key: ThreadKey) -> bool:
        """Whether runs of the thread wait behind the one executing."""
        ...

    async def submit(self, run: RunRecord) -> None:
        """Execute `run` after the thread's runs already admitted."""
        ...

    async def cancel(self, tenant: str, run_id: str, action: CancelAction) -> bool:
        """Stop the run if it waits or executes; False when it does neither."""
        ...

    async def recover(self, unfinished: list[RunRecord]) -> list[RunRecord]:
        """Take up what this queue can of the runs a stopped process left (`unfinished`: every run pending or
        running); returns those left to the one-process rule (`RunManager.recover`)."""
        ...

    @property
    def depth(self) -> int:
        """Runs admitted and not yet executing."""
        ...

    @property
    def executing(self) -> int:
        """Runs executing in this process."""
        ...

    async def aclose(self) -> None:
        """Stop every run (executing ones with `shutdown`); waiting ones stay `pending` for the next start."""
        ...


@dataclass
class _Lane:
    pending: deque[RunHandle] = field(default_factory=deque)
    active: RunHandle | None = None
    worker: asyncio.Task[None] | None = None


class LocalRunQueue:
    """`RunQueue` executing runs as tasks of this process."""

    def __init__(
        self,
        execute: Callable[[RunHandle], Awaitable[None]],
        discard: Callable[[RunHandle], Awaitable[None]],
        max_concurrent: int,
    ) -> None:
        self._execute, self._discard = execute, discard
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lanes: dict[ThreadKey, _Lane] = {}
        self._handles: dict[tuple[str, str], tuple[ThreadKey, RunHandle]] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self._waiting_for_slot = 0

    async def inflight(self, key: ThreadKey) -> list[str]:
        lane = self._lanes.get(key)
        if lane is None:
            return []
        return [h.run.run_id for h in ([lane.active] if lane.active else []) + list(lane.pending)]

    async def has_waiting(self, key: ThreadKey) -> bool:
        lane = self._lanes.get(key)
        return bool(lane and lane.pending)

    @property
    def depth(self) -> int:
        return sum(len(lane.pending) for lane in self._lanes.values()) + self._waiting_for_slot

    @property
    def executing(self) -> int:
        return sum(1 for lane in self._lanes.values() if lane.active is not None)

    async def recover(self, unfinished: list[RunRecord]) -> list[RunRecord]:
        return unfinished  # nothing else could have been executing them: all go to the one-process rule

    async def submit(self, run: RunRecord) -> None:
        key = (run.tenant, run.thread_id)
        lane = self._lanes.setdefault(key, _Lane())
        handle = RunHandle(run)
        lane.pending.append(handle)
        self._handles[(run.tenant, run.run_id)] = (key, handle)
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._drain(key, lane), name=f"orchestra-thread-{run.thread_id}")

    async def cancel(self, tenant: str, run_id: str, action: CancelAction) -> bool:
        found = self._handles.get((tenant, run_id))
        if found is None:
            return False
        key, handle = found
        lane = self._lanes[key]
        handle.cancel(action)
        if handle in lane.pending:  # never started: settle it now rather than after the runs ahead of it
            lane.pending.remove(handle)
            self._chore(self._settle_discarded(handle))
        return True

    async def _settle_discarded(self, handle: RunHandle) -> None:
        try:
            await self._discard(handle)
        finally:
            self._handles.pop((handle.run.tenant, handle.run.run_id), None)

    def _chore(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _drain(self, key: ThreadKey, lane: _Lane) -> None:
        try:
            while lane.pending:
                handle = lane.pending.popleft()
                lane.active = handle
                try:
                    self._waiting_for_slot += 1
                    try:
                        await self._slots.acquire()
                    finally:
                        self._waiting_for_slot -= 1
                    try:
                        await (self._discard(handle) if handle.action else self._execute(handle))
                    except Exception:  # never let one run's failure strand the runs queued behind it
                        log.exception("run %s failed outside its graph", handle.run.run_id)
                    finally:
                        self._slots.release()
                finally:
                    lane.active = None
                    self._handles.pop((handle.run.tenant, handle.run.run_id), None)
        finally:
            lane.worker = None
            if not lane.pending and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def aclose(self) -> None:
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for lane in self._lanes.values():
            lane.pending.clear()  # left `pending` in the store: the next start queues them again
            if lane.active is not None:
                lane.active.cancel("shutdown")
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)
