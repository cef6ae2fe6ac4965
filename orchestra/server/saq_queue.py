"""saq's Redis queue with the changes the run queue needs: a sweep that never takes a job from a live worker, a
heartbeat that cannot undo an abort, a worker that cannot finish a job taken from it, and taking back a job that no
worker has started.

Why the sweep is replaced: stock `RedisQueue.sweep` (saq 0.26) treats every job on the active list whose stored
status is not ACTIVE as abandoned. A live worker is in exactly that state between its BLMOVE (queued -> active) and
its write of status ACTIVE, so a sweep landing in that window aborts and retries a job that is running: the job runs
twice (saq issues #124 and #277; reproduced with the stock queue before this class). Here the sweep
  * takes ACTIVE or ABORTING jobs only when they are stuck (no heartbeat for `heartbeat` seconds), as before;
  * takes a job that is on the active list without being ACTIVE only if nothing about it changed after
    `dequeue_grace` seconds (its worker really died between the BLMOVE and the ACTIVE write);
  * claims each (job, attempt) with SET NX, so two processes sweeping at once never both retry it;
  * waits `abort_wait` seconds (stock: 5) for a stuck job's worker to acknowledge the abort before retrying it.

Why the heartbeat is our own: saq's `job.update()` reads the stored job and writes the whole of it back, so an
abort landing between the read and the write is lost; `beat` writes only if the stored job is still the one it read.
And a worker that was taken for lost (its event loop stalled past the heartbeat) and comes back must not mark the job
finished or queue it again once the sweep has queued it for another worker: `finish` and `retry` check that first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from saq.job import Job, Status
from saq.queue.redis import RedisQueue
from saq.utils import now

log = logging.getLogger("orchestra.server")

# Every job on the active list with its stored blob, once per `lock` seconds across all processes (saq's own).
_ACTIVE_JOBS = """
local id_jobs = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SETEX', KEYS[1], ARGV[1], 1)
    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        id_jobs[i] = {v, redis.call('GET', v)}
    end
end
return id_jobs
"""
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"""
# Take a job off the queued list if no worker has taken it yet (KEYS: queued, incomplete; ARGV: job id).
_WITHDRAW = """
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 1 then redis.call('ZREM', KEYS[2], ARGV[1]) return 1 end
return 0
"""


class SafeRedisQueue(RedisQueue):
    def __init__(self, *args: Any, abort_wait: float = 1.0, dequeue_grace: float = 2.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.abort_wait, self.dequeue_grace = abort_wait, dequeue_grace
        self.queued_now = 0  # jobs waiting for a worker, as of the last sweep (the queue-depth metric)
        self._scripts: dict[str, Any] = {}

    def _script(self, source: str) -> Any:
        if source not in self._scripts:
            self._scripts[source] = self.redis.register_script(source)
        return self._scripts[source]

    async def beat(self, job: Job) -> bool:
        """Refresh `job`'s heartbeat if it is still this worker's active attempt; False when it is not (aborted,
        swept, or retried elsewhere)."""
        stored = await self.redis.get(job.id)
        current = self.deserialize(stored)
        if current is None or current.status != Status.ACTIVE or current.attempts != job.attempts:
            return False
        if current.worker_id != job.worker_id:
            return False
        current.touched = now()
        return bool(await self._script(_COMPARE_AND_SET)(keys=[job.id], args=[stored, self.serialize(current)]))

    async def _superseded(self, job: Job) -> bool:
        """Whether `job`, as this worker holds it, has been taken over: queued again by a sweep, or started by
        another worker since."""
        stored = await self.job(job.key)
        if stored is None or stored.attempts < job.attempts:
            return False
        return stored.attempts > job.attempts or (stored.status == Status.QUEUED and job.status == Status.ACTIVE)

    async def finish(self, job: Job, status: Status, **kwargs: Any) -> None:
        if await self._superseded(job):
            log.warning("job %s was taken over by another worker; not finishing it here", job.key)
            return
        await super().finish(job, status, **kwargs)

    async def retry(self, job: Job, error: str | None) -> None:
        if await self._superseded(job):
            log.warning("job %s was taken over by another worker; not queueing it again here", job.key)
            return
        await super().retry(job, error)

    async def withdraw(self, key: str) -> bool:
        """Take the job `key` back if it still waits for a worker (it is then finished as aborted); False when a
        worker has it, or it is gone."""
        job_id = self.job_id(key)
        if not await self._script(_WITHDRAW)(keys=[self._queued, self._incomplete], args=[job_id]):
            return False
        job = await self.job(key)
        if job is not None:
            await self.finish(job, Status.ABORTED, error="withdrawn")
        return True

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        self.queued_now = await self.redis.llen(self._queued)
        found = await self._script(_ACTIVE_JOBS)(keys=[self._sweep, self._active], args=[lock])
        stuck: list[Job] = []
        suspects: list[tuple[bytes, Job]] = []
        for job_id, blob in found:
            job = self.deserialize(blob)
            if job is None:
                continue  # stock saq drops these; a missing blob is not ours to judge
            if job.status in (Status.ACTIVE, Status.ABORTING):
                if job.stuck:
                    stuck.append(job)
            else:
                suspects.append((job_id, job))
        if suspects:
            stuck += await self._still_unclaimed(suspects)
        swept = []
        for job in stuck:
            claim = self.namespace(f"sweeping:{job.key}:{job.attempts}")
            if not await self.redis.set(claim, 1, nx=True, ex=int(self.abort_wait) + 60):
                continue  # another process sweeps this attempt
            log.warning("the worker executing job %s looks lost (no heartbeat); sweeping it", job.key)
            swept.append(job.key)
            await self.abort(job, error=self.swept_error_message)
            try:
                await job.refresh(self.abort_wait)
            except TimeoutError:
                log.info("job %s was not acknowledged as aborted; its worker is presumed dead", job.key)
            if job.retryable:
                await self.retry(job, error=self.swept_error_message)
            else:
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        return swept

    async def _still_unclaimed(self, suspects: list[tuple[bytes, Job]]) -> list[Job]:
        """The suspects still on the active list, unchanged, after `dequeue_grace`: their worker died between the
        BLMOVE and the ACTIVE write (a live one writes ACTIVE within milliseconds)."""
        await asyncio.sleep(self.dequeue_grace)
        active = set(await self.redis.lrange(self._active, 0, -1))
        blobs = await self.redis.mget([job_id for job_id, _ in suspects])
        lost = []
        for (job_id, before), blob in zip(suspects, blobs, strict=True):
            after = self.deserialize(blob) if blob else None
            if after is not None and job_id in active and (after.status, after.touched, after.attempts) == (
                before.status, before.touched, before.attempts
            ):  # fmt: skip
                lost.append(after)
        return lost
