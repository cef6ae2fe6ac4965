"""The changes `SafeRedisQueue` makes to saq's Redis queue, on a real Redis: a job between its worker's dequeue and
its ACTIVE write is not swept (stock saq sweeps it and runs it twice), a job whose worker died there is, and a worker
that lost its job to another can neither heartbeat nor finish it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from saq.job import Job, Status

from orchestra.server.saq_queue import SafeRedisQueue


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[SafeRedisQueue]:
    found = SafeRedisQueue(Redis.from_url(redis_url.rsplit("/", 1)[0] + "/8"), name=f"test-{uuid.uuid4().hex}",
                           dequeue_grace=0.3, abort_wait=0.1)  # fmt: skip
    await found.connect()
    yield found
    await found.disconnect()


async def dequeued(queue: SafeRedisQueue) -> Job:
    """A job just taken by a worker (on the active list, status still QUEUED), as saq's worker holds it."""
    await queue.enqueue("run", key=uuid.uuid4().hex, timeout=0, heartbeat=1, retries=3)
    job = await queue.dequeue(timeout=1)
    assert job is not None
    return job


async def test_a_job_between_dequeue_and_start_is_not_swept(queue: SafeRedisQueue) -> None:
    job = await dequeued(queue)
    sweep = asyncio.create_task(queue.sweep(lock=1))
    await asyncio.sleep(0.05)
    job.attempts += 1  # what saq's worker does next, within milliseconds
    await job.update(status=Status.ACTIVE)
    assert await sweep == []
    stored = await queue.job(job.key)
    assert stored is not None
    assert (stored.status, stored.attempts) == (Status.ACTIVE, 1)
    assert await queue.count("queued") == 0


async def test_a_job_whose_worker_died_after_dequeue_is_queued_again(queue: SafeRedisQueue) -> None:
    job = await dequeued(queue)  # and its worker never writes ACTIVE
    assert await queue.sweep(lock=1) == [job.key]
    stored = await queue.job(job.key)
    assert stored is not None
    assert stored.status == Status.QUEUED
    assert await queue.count("queued") == 1


async def test_a_worker_whose_job_was_taken_over_can_neither_heartbeat_nor_finish_it(queue: SafeRedisQueue) -> None:
    job = await dequeued(queue)
    job.attempts += 1
    await job.update(status=Status.ACTIVE)
    assert await queue.beat(job)
    await queue.retry(await queue.job(job.key), error="swept")  # what a sweep does once the heartbeat has lapsed
    assert not await queue.beat(job)
    await queue.finish(job, Status.COMPLETE)  # the old worker, come back
    stored = await queue.job(job.key)
    assert stored is not None
    assert stored.status == Status.QUEUED
    assert await queue.count("queued") == 1


async def test_a_job_no_worker_has_taken_is_withdrawn(queue: SafeRedisQueue) -> None:
    await queue.enqueue("run", key="waiting", timeout=0)
    assert await queue.withdraw("waiting")
    assert await queue.count("queued") == 0
    assert (await queue.job("waiting")).status == Status.ABORTED  # type: ignore[union-attr]
    taken = await dequeued(queue)
    assert not await queue.withdraw(taken.key)
