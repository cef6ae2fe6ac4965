"""`RunQueue` shared by every server process on one Redis (with `REDIS_URL`): runs go through saq, a Redis job queue,
and each process is one of its workers, in its own event loop (`server.runs.max_concurrent` jobs at once).

Per thread, one run at a time and in order: a thread's runs wait in its lane (`lanes.py`) and only the lane's head is
a saq job; when it has ended its job pops it and queues the next. Multitask strategies read and change the lane under
the thread's lock, which is a Redis lease (`RedisThreadLocks`), so `reject` and `enqueue` hold across processes.

Cancel from any process: the request is written to the run's attempts hash (`attempts.py`), then published on a
channel every process listens to; the process executing the run stops it at once (its heartbeat also reads the hash,
should the message be missed). A run still waiting is settled by the process that cancels it.

A process that is lost (killed, or silent past `server.runs.lost_after`) stops heartbeating its jobs; saq's sweep,
in another process, puts each back in the queue, and the worker that takes it resumes the run from its last
checkpoint (attempt 2). A run lost a second time ends `error`. A process that stops cleanly hands its runs back the
same way, without using up that retry. Nothing is decided at a process's start about runs other processes execute.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import signal
from typing import Any, ClassVar

from saq import Worker

from orchestra.core.redis_checkpoint import RedisClient
from orchestra.server.attempts import RunAttempts
from orchestra.server.executor import RunExecutor
from orchestra.server.lanes import Lanes
from orchestra.server.locks import ThreadLocks
from orchestra.server.queue import CancelAction, RunHandle, ThreadKey
from orchestra.server.records import RunRecord
from orchestra.server.saq_queue import SafeRedisQueue
from orchestra.server.store import RecordStore

log = logging.getLogger("orchestra.server")

MAX_ATTEMPTS = 2  # the first execution, and one more after its process was lost (handovers are not counted)
LOST = (
    "the server process executing this run was lost, and so was the one that took it over; it is not started again. "
    "Start a run with no input on the thread to continue from its last checkpoint"
)
_JOB = "orchestra_run"
_KEEP_JOB_SECONDS = 3600  # a finished job's record in saq; ours are the run records


class _EmbeddedWorker(Worker):
    SIGNALS: ClassVar[list[signal.Signals]] = []  # stock saq takes SIGINT/SIGTERM from the loop, i.e. from uvicorn


class RedisRunQueue:
    def __init__(
        self, *, client: RedisClient, jobs: SafeRedisQueue, store: RecordStore, locks: ThreadLocks,
        executor: RunExecutor, prefix: str, max_concurrent: int, lost_after: float,
    ) -> None:  # fmt: skip
        self._client, self._jobs, self._store, self._locks, self._executor = client, jobs, store, locks, executor
        self._lanes, self._attempts = Lanes(client, prefix), RunAttempts(client, prefix)
        self._channel = f"{prefix}:cancel"
        self._heartbeat = max(1, math.ceil(lost_after))
        self._beat_every = self._heartbeat / 5
        self._running: dict[str, RunHandle] = {}
        self._worker = _EmbeddedWorker(
            jobs, functions=[(_JOB, self._job)], concurrency=max_concurrent, shutdown_grace_period_s=0,
            timers={"sweep": 1, "abort": 1, "schedule": 1, "worker_info": 10},
        )  # fmt: skip
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def start(self) -> None:
        await self._jobs.connect()
        self._tasks = [asyncio.create_task(self._worker.start(), name="orchestra-run-worker"),
                       asyncio.create_task(self._listen_for_cancels(), name="orchestra-run-cancels")]  # fmt: skip

    # -- RunQueue -------------------------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._jobs.queued_now

    @property
    def executing(self) -> int:
        return len(self._running)

    async def inflight(self, key: ThreadKey) -> list[str]:
        return await self._lanes.runs(*key)

    async def has_waiting(self, key: ThreadKey) -> bool:
        return await self._lanes.length(*key) > 1

    async def submit(self, run: RunRecord) -> None:
        if await self._lanes.push(run.tenant, run.thread_id, run.run_id):
            await self._enqueue(run.tenant, run.thread_id, run.run_id)

    async def cancel(self, tenant: str, run_id: str, action: CancelAction) -> bool:
        run = await self._store.get_run(tenant, run_id)
        if run is None or not run.active:
            return False
        place = await self._lanes.remove_waiting(tenant, run.thread_id, run_id)
        if place == "absent":
            return False
        if place == "waiting":  # never started, and nothing will start it now: settle it here
            await self._executor.discard(RunHandle(run, action=action))
            return True
        await self._attempts.request_cancel(tenant, run_id, action)
        if (handle := self._running.get(run_id)) is not None:
            handle.cancel(action)
        elif run.status == "pending" and await self._jobs.withdraw(run_id):  # no worker took it yet
            try:
                await self._executor.discard(RunHandle(run, action=action))
            finally:
                await self._finished(run)
        else:  # the process executing it stops it; or the worker about to start it sees the request first
            await self._client.publish(self._channel, f"{run_id} {action}")  # type: ignore[misc]
        return True

    async def recover(self, unfinished: list[RunRecord]) -> list[RunRecord]:
        """Queue again the head of every lane with unfinished runs (a no-op for heads queued or executing: saq
        dedupes by run id), and return the runs that are in no lane at all (their process died between writing the
        run and queueing it) for the one-process rule. Runs other processes execute are left alone: a lost one is
        found by the sweep, from its missing heartbeat."""
        orphans: list[RunRecord] = []
        for tenant, thread_id in dict.fromkeys((run.tenant, run.thread_id) for run in unfinished):
            async with self._locks.hold(tenant, thread_id):  # admission writes the run and its lane under it
                lane = await self._lanes.runs(tenant, thread_id)
                for run in unfinished:
                    if (run.tenant, run.thread_id) == (tenant, thread_id) and run.run_id not in lane:
                        current = await self._store.get_run(tenant, run.run_id)
                        if current is not None and current.active:
                            orphans.append(current)
            if lane:
                await self._enqueue(tenant, thread_id, lane[0])
        return orphans

    async def aclose(self) -> None:
        """Stop this worker; its executing runs go back to the queue for another process (or the next start),
        each to resume from its last checkpoint without using up its retry."""
        self._closing = True
        for job in list(self._worker.job_task_contexts):
            job.retries += 1
        await self._worker.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the job: one execution of one run ------------------------------------------------------------------------

    async def _enqueue(self, tenant: str, thread_id: str, run_id: str) -> None:
        await self._jobs.enqueue(_JOB, key=run_id, tenant=tenant, thread_id=thread_id, run_id=run_id, timeout=0,
                                 heartbeat=self._heartbeat, retries=MAX_ATTEMPTS + 1,
                                 ttl=_KEEP_JOB_SECONDS)  # fmt: skip

    async def _job(self, ctx: dict[str, Any], *, tenant: str, thread_id: str, run_id: str) -> None:
        run = await self._store.get_run(tenant, run_id)
        if run is None or not run.active:  # its end is recorded (this is a retry after that), or it was deleted
            await self._advance(tenant, thread_id, run_id)
            return
        attempt = await self._attempts.begin(tenant, run_id)
        number = attempt.number
        handle = RunHandle(run, action=attempt.cancel, attempt=number,  # type: ignore[arg-type]
                           current=lambda: self._attempts.is_current(tenant, run_id, number),
                           journal=self._attempts.journal(tenant, run_id, number))  # fmt: skip
        self._running[run_id] = handle
        beat = asyncio.create_task(self._beat(ctx["job"], handle), name=f"orchestra-run-beat-{run_id}")
        try:
            if attempt.lost >= MAX_ATTEMPTS:
                await self._executor.give_up(handle, LOST)
            elif run.status == "pending" and handle.action is not None:
                await self._executor.discard(handle)
            else:
                await self._executor.execute(handle)
        except asyncio.CancelledError:
            if self._closing:  # a clean stop: the run goes back to the queue without using up its retry
                await self._attempts.hand_back(tenant, run_id)
            raise
        finally:
            beat.cancel()
            self._running.pop(run_id, None)
        if handle.action != "release":  # released: the process that took the run over finishes it
            await self._finished(run)

    async def _finished(self, run: RunRecord) -> None:
        await self._attempts.forget(run.tenant, run.run_id)
        await self._advance(run.tenant, run.thread_id, run.run_id)

    async def _advance(self, tenant: str, thread_id: str, run_id: str) -> None:
        if (head := await self._lanes.advance(tenant, thread_id, run_id)) is not None:
            await self._enqueue(tenant, thread_id, head)

    async def _beat(self, job: Any, handle: RunHandle) -> None:
        """saq's heartbeat for the run's job (saq sends none by itself), and the backstop for a missed cancel."""
        run = handle.run
        while True:
            await asyncio.sleep(self._beat_every)
            try:
                if not await self._jobs.beat(job):
                    log.warning("run %s was taken from this process (it looked lost); letting it go", run.run_id)
                    handle.cancel("release")
                    return
                if handle.action is None and (asked := await self._attempts.cancel_requested(run.tenant, run.run_id)):
                    handle.cancel(asked)  # type: ignore[arg-type]
            except Exception:  # Redis unreachable for a moment: the next beat tries again
                log.exception("heartbeat of run %s failed", run.run_id)

    async def _listen_for_cancels(self) -> None:
        """Cancels published by any process, for the runs executing here; reconnects after a lost connection."""
        pause = 0.1
        while True:
            try:
                async with self._jobs.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    pause = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        run_id, _, action = message["data"].decode().partition(" ")
                        if (handle := self._running.get(run_id)) is not None:
                            handle.cancel(action)  # type: ignore[arg-type]
            except Exception:
                log.warning("listening for cancels failed; reconnecting in %.1fs", pause, exc_info=True)
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 5.0)
