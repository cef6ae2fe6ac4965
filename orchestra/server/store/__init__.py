"""Where thread and run records persist: SQLite in the data directory by default, Redis hashes with `REDIS_URL`,
the same choice as the checkpointer's (`orchestra.core.checkpoint`). Both keep every record under its tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from orchestra.server.records import RunRecord, ThreadRecord

SQLITE_FILE = "server.sqlite"


class RecordStore(Protocol):
    """Thread and run records, per tenant. Every method does its I/O off the event loop."""

    async def create_thread(self, thread: ThreadRecord) -> bool:
        """Insert `thread` unless its id exists for its tenant; False when it did."""
        ...

    async def put_thread(self, thread: ThreadRecord) -> None:
        """Insert or replace `thread`; its stored values stay as they are when it was read without them."""
        ...

    async def get_thread(self, tenant: str, thread_id: str, *, values: bool = True) -> ThreadRecord | None:
        """The thread, with its values unless `values=False` (cheaper: they can hold a whole conversation)."""
        ...

    async def scan_threads(self, tenant: str) -> list[ThreadRecord]:
        """Every thread of `tenant`, without `values` (searches filter and page these, then load values)."""
        ...

    async def get_threads(self, tenant: str, thread_ids: list[str]) -> list[ThreadRecord]:
        """The threads found among `thread_ids`, with values, in the order asked."""
        ...

    async def delete_thread(self, tenant: str, thread_id: str) -> None:
        """The thread and all its runs."""
        ...

    async def put_run(self, run: RunRecord, thread: ThreadRecord | None = None) -> None:
        """Insert or replace `run` (and `thread` with it, in one transaction)."""
        ...

    async def get_run(self, tenant: str, run_id: str) -> RunRecord | None: ...

    async def list_runs(self, tenant: str, thread_id: str) -> list[RunRecord]:
        """The thread's runs, newest first."""
        ...

    async def delete_run(self, tenant: str, run_id: str) -> None: ...

    async def unfinished_runs(self) -> list[RunRecord]:
        """Runs of every tenant still `pending` or `running`, oldest first: what a restart must recover."""
        ...

    async def aclose(self) -> None: ...


@asynccontextmanager
async def open_record_store(data_dir: Path, redis_url: str | None, key_prefix: str) -> AsyncIterator[RecordStore]:
    """The record store for this process: Redis when `redis_url` is set, else SQLite in `data_dir`."""
    if redis_url:
        from orchestra.server.store.redis import RedisRecordStore

        store: RecordStore = await RedisRecordStore.connect(redis_url, key_prefix)
    else:
        from orchestra.server.store.sqlite import SqliteRecordStore

        store = await SqliteRecordStore.open(data_dir / SQLITE_FILE)
    try:
        yield store
    finally:
        await store.aclose()
