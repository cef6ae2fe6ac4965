"""How this process executes runs: on its own (runs in its event loop, events and locks in its memory), or, with
`REDIS_URL`, as one of the server processes sharing a Redis (runs through saq, events in Redis Streams, thread locks
as Redis leases). The routes see the same `RunManager`, `EventBroker` and `ThreadLocks` either way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from orchestra.core.redis_checkpoint import connect_redis
from orchestra.graphs.context import ServedContexts
from orchestra.server.config import ServerConfig
from orchestra.server.events import EventBroker, LocalEventBroker
from orchestra.server.executor import RunExecutor
from orchestra.server.graphs import GraphRegistry
from orchestra.server.locks import RedisThreadLocks, ThreadLocks
from orchestra.server.manager import RunManager
from orchestra.server.metrics import ServerMetrics
from orchestra.server.queue import LocalRunQueue, RunQueue, ThreadKey
from orchestra.server.store import RecordStore

if TYPE_CHECKING:
    from orchestra.server.redis_events import RedisEventBroker
    from orchestra.server.redis_queue import RedisRunQueue
    from orchestra.server.saq_queue import SafeRedisQueue


# Streams a process can serve at once with REDIS_URL: one Redis connection each while it waits for events.
_LISTENING_CONNECTIONS = 2000


@dataclass
class RunParts:
    manager: RunManager
    broker: EventBroker
    locks: ThreadLocks
    metrics: ServerMetrics


@contextlib.asynccontextmanager
async def run_parts(
    config: ServerConfig, graphs: GraphRegistry, contexts: ServedContexts, store: RecordStore, redis_url: str | None
) -> AsyncIterator[RunParts]:
    """The run machinery for the block, its runs recovered first; stopping it stops (or hands over) its runs."""
    queue: RunQueue | None = None

    async def has_waiting(key: ThreadKey) -> bool:
        return queue is not None and await queue.has_waiting(key)

    metrics = ServerMetrics(lambda: queue.depth if queue else 0, lambda: queue.executing if queue else 0)
    runs = config.runs
    if not redis_url:
        locks, broker = ThreadLocks(), LocalEventBroker(runs.event_retention, runs.max_retained_streams)
        executor = RunExecutor(graphs=graphs, contexts=contexts, store=store, broker=broker, locks=locks,
                               metrics=metrics, timeout=runs.timeout, has_waiting=has_waiting)  # fmt: skip
        queue = local = LocalRunQueue(executor.execute, executor.discard, runs.max_concurrent)
        manager = RunManager(store=store, queue=local, broker=broker, graphs=graphs, locks=locks)
        await manager.recover()
        try:
            yield RunParts(manager, broker, locks, metrics)
        finally:
            await local.aclose()
        return

    broker_class, queue_class, jobs_class = await asyncio.to_thread(_redis_classes)
    prefix = config.key_prefix
    client = await connect_redis(redis_url)
    # A stream's listener holds a connection while it blocks in XREAD: listeners get a pool of their own, so a
    # crowd of them never leaves the run machinery (locks, heartbeats, events) waiting for a connection.
    listening = await connect_redis(redis_url, max_connections=_LISTENING_CONNECTIONS)
    # saq's connections block (BLMOVE, pub/sub) for as long as there is nothing to do: no socket timeout on them.
    jobs = jobs_class(Redis.from_url(redis_url, socket_connect_timeout=10, socket_keepalive=True),
                          name=f"{prefix}:runs")  # fmt: skip
    try:
        locks = RedisThreadLocks(client, prefix)
        broker = broker_class(client, listening, prefix, runs.event_retention,
                              live_for=runs.timeout + runs.event_retention)  # fmt: skip
        executor = RunExecutor(graphs=graphs, contexts=contexts, store=store, broker=broker, locks=locks,
                               metrics=metrics, timeout=runs.timeout, has_waiting=has_waiting,
                               let_go="release")  # fmt: skip
        queue = shared = queue_class(client=client, jobs=jobs, store=store, locks=locks, executor=executor,
                                       prefix=prefix, max_concurrent=runs.max_concurrent,
                                       lost_after=runs.lost_after)  # fmt: skip
        manager = RunManager(store=store, queue=shared, broker=broker, graphs=graphs, locks=locks)
        await manager.recover()
        await shared.start()
        try:
            yield RunParts(manager, broker, locks, metrics)
        finally:
            await shared.aclose()
    finally:
        await jobs.disconnect()
        await client.aclose()
        await listening.aclose()


def _redis_classes() -> tuple[type[RedisEventBroker], type[RedisRunQueue], type[SafeRedisQueue]]:
    """Imported when first needed, and off the event loop: importing saq runs a subprocess (croniter asks
    `platform.architecture()`, which runs `file`)."""
    from orchestra.server.redis_events import RedisEventBroker
    from orchestra.server.redis_queue import RedisRunQueue
    from orchestra.server.saq_queue import SafeRedisQueue

    return RedisEventBroker, RedisRunQueue, SafeRedisQueue
