"""One lock per thread, for changes to a thread's records that read before they write (admitting a run, settling
one, patching metadata): without it two of them could interleave at an `await` and lose an update.

`ThreadLocks` holds within this process; `RedisThreadLocks` (with `REDIS_URL`) also across every server process on
the same Redis, with a lease per thread. What a holder does is a few record reads and writes (milliseconds), so a
waiter in another process retries the lease at short jittered intervals, and a holder that dies frees the thread
when its lease runs out.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from orchestra.core.redis_checkpoint import RedisClient

# KEYS: lease; ARGV: holder's token. Deletes the lease only if this holder still has it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ThreadLocks:
    def __init__(self) -> None:
        # Weak values: a lock lives while someone holds or waits for it, then goes, so idle threads cost nothing.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, tenant: str, thread_id: str) -> AsyncIterator[None]:
        key = (tenant, thread_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield


class ThreadLockTimeout(RuntimeError):
    """Another server process held a thread's lock for longer than any record change takes."""


class RedisThreadLocks(ThreadLocks):
    """Thread locks shared by the server processes on one Redis: this process's lock, then a lease in Redis."""

    def __init__(self, client: RedisClient, prefix: str, *, lease: float = 10.0, wait: float = 30.0) -> None:
        super().__init__()
        self._redis, self._prefix, self._lease_ms, self._wait = client, prefix, int(lease * 1000), wait
        self._release = client.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, tenant: str, thread_id: str) -> AsyncIterator[None]:
        async with super().hold(tenant, thread_id):
            key = f"{self._prefix}:{{{tenant}}}:thread:{thread_id}:lock"
            token = uuid.uuid4().hex
            deadline, pause = time.monotonic() + self._wait, 0.002
            while not await self._redis.set(key, token, nx=True, px=self._lease_ms):
                if time.monotonic() > deadline:
                    raise ThreadLockTimeout(
                        f"thread {thread_id} stayed locked by another server process for {self._wait:g}s; retry"
                    )
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.05)
            try:
                yield
            finally:
                await self._release(keys=[key], args=[token])
