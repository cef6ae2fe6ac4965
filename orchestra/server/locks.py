"""One lock per thread, for changes to a thread's records that read before they write (admitting a run, settling
one, patching metadata): without it two of them could interleave at an `await` and lose an update."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


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
