"""Thread and run records in SQLite (`server.sqlite` in the data directory).

One connection, used from one worker thread: every call is one hop off the event loop that runs its statements
and commits, so a record and its thread change together or not at all. WAL with `synchronous=NORMAL` keeps a
commit off the disk's flush path (a power cut may lose the last commits, never corrupt the file).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from orchestra.server.records import ACTIVE_RUN_STATUSES, RunRecord, ThreadRecord

T = TypeVar("T")

_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS server_threads (
    tenant TEXT NOT NULL, thread_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    state_updated_at TEXT, metadata TEXT NOT NULL, status TEXT NOT NULL, "values" TEXT, interrupts TEXT NOT NULL,
    config TEXT NOT NULL, error TEXT, PRIMARY KEY (tenant, thread_id)
);
CREATE TABLE IF NOT EXISTS server_runs (
    tenant TEXT NOT NULL, run_id TEXT NOT NULL, thread_id TEXT NOT NULL, assistant_id TEXT NOT NULL,
    graph_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL,
    metadata TEXT NOT NULL, kwargs TEXT NOT NULL, multitask_strategy TEXT NOT NULL, PRIMARY KEY (tenant, run_id)
);
CREATE INDEX IF NOT EXISTS server_runs_by_thread ON server_runs (tenant, thread_id, created_at);
CREATE INDEX IF NOT EXISTS server_runs_by_status ON server_runs (status);
"""
_THREAD_COLUMNS = (
    'tenant, thread_id, created_at, updated_at, state_updated_at, metadata, status, "values", interrupts, config, error'
)
_NO_VALUES = _THREAD_COLUMNS.replace('"values"', "NULL")
_RUN_COLUMNS = (
    "tenant, run_id, thread_id, assistant_id, graph_id, created_at, updated_at, status, metadata, kwargs, "
    "multitask_strategy"
)


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _thread_row(thread: ThreadRecord) -> tuple[Any, ...]:
    return (thread.tenant, thread.thread_id, thread.created_at, thread.updated_at, thread.state_updated_at,
            _dump(thread.metadata), thread.status, _dump(thread.values), _dump(thread.interrupts),
            _dump(thread.config), _dump(thread.error))  # fmt: skip


def _thread(row: tuple[Any, ...], *, values: bool = True) -> ThreadRecord:
    tenant, thread_id, created, updated, state_updated, metadata, status, stored, interrupts, config, error = row
    return ThreadRecord(tenant, thread_id, created, updated, _load(metadata), status, _load(stored),
                        _load(interrupts), _load(config), _load(error), state_updated, values)  # fmt: skip


def _run_row(run: RunRecord) -> tuple[Any, ...]:
    return (run.tenant, run.run_id, run.thread_id, run.assistant_id, run.graph_id, run.created_at, run.updated_at,
            run.status, _dump(run.metadata), _dump(run.kwargs), run.multitask_strategy)  # fmt: skip


def _run(row: tuple[Any, ...]) -> RunRecord:
    tenant, run_id, thread_id, assistant_id, graph_id, created, updated, status, metadata, kwargs, strategy = row
    return RunRecord(tenant, run_id, thread_id, assistant_id, graph_id, created, updated, status, _load(metadata),
                     _load(kwargs), strategy)  # fmt: skip


class SqliteRecordStore:
    """`RecordStore` on one SQLite file."""

    def __init__(self, connection: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self._db, self._worker = connection, worker

    @classmethod
    async def open(cls, path: Path) -> SqliteRecordStore:
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orchestra-server-records")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            connection.executescript(_SCHEMA)
            return connection

        try:
            connection = await asyncio.get_running_loop().run_in_executor(worker, connect)
        except BaseException:
            worker.shutdown(wait=False)
            raise
        return cls(connection, worker)

    async def _call(self, work: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """`work` in one transaction on the worker thread (a write takes the lock up front, so two writers never
        deadlock upgrading a read lock)."""

        def transaction() -> T:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

        return await asyncio.get_running_loop().run_in_executor(self._worker, transaction)

    async def create_thread(self, thread: ThreadRecord) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO server_threads ({_THREAD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                _thread_row(thread),
            )
            return cursor.rowcount == 1

        return await self._call(insert)

    async def put_thread(self, thread: ThreadRecord) -> None:
        await self._call(lambda db: self._put_thread(db, thread))

    @staticmethod
    def _put_thread(db: sqlite3.Connection, thread: ThreadRecord) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _THREAD_COLUMNS.split(", ")[2:]
                            if thread.values_loaded or c != '"values"')  # fmt: skip
        db.execute(
            f"INSERT INTO server_threads ({_THREAD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            f"ON CONFLICT (tenant, thread_id) DO UPDATE SET {updates}",
            _thread_row(thread),
        )

    async def get_thread(self, tenant: str, thread_id: str, *, values: bool = True) -> ThreadRecord | None:
        if values:
            found = await self.get_threads(tenant, [thread_id])
            return found[0] if found else None
        row = await self._call(
            lambda db: db.execute(
                f"SELECT {_NO_VALUES} FROM server_threads WHERE tenant = ? AND thread_id = ?", (tenant, thread_id)
            ).fetchone(),
            write=False,
        )
        return None if row is None else _thread(row, values=False)

    async def scan_threads(self, tenant: str) -> list[ThreadRecord]:
        rows = await self._call(
            lambda db: db.execute(f"SELECT {_NO_VALUES} FROM server_threads WHERE tenant = ?", (tenant,)).fetchall(),
            write=False,
        )
        return [_thread(row, values=False) for row in rows]

    async def get_threads(self, tenant: str, thread_ids: list[str]) -> list[ThreadRecord]:
        if not thread_ids:
            return []
        marks = ",".join("?" * len(thread_ids))
        rows = await self._call(
            lambda db: db.execute(
                f"SELECT {_THREAD_COLUMNS} FROM server_threads WHERE tenant = ? AND thread_id IN ({marks})",
                (tenant, *thread_ids),
            ).fetchall(),
            write=False,
        )
        found = {row[1]: _thread(row) for row in rows}
        return [found[thread_id] for thread_id in thread_ids if thread_id in found]

    async def delete_thread(self, tenant: str, thread_id: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM server_runs WHERE tenant = ? AND thread_id = ?", (tenant, thread_id))
            db.execute("DELETE FROM server_threads WHERE tenant = ? AND thread_id = ?", (tenant, thread_id))

        await self._call(delete)

    async def put_run(self, run: RunRecord, thread: ThreadRecord | None = None) -> None:
        def put(db: sqlite3.Connection) -> None:
            db.execute(f"INSERT OR REPLACE INTO server_runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       _run_row(run))  # fmt: skip
            if thread is not None:
                self._put_thread(db, thread)

        await self._call(put)

    async def get_run(self, tenant: str, run_id: str) -> RunRecord | None:
        row = await self._call(
            lambda db: db.execute(
                f"SELECT {_RUN_COLUMNS} FROM server_runs WHERE tenant = ? AND run_id = ?", (tenant, run_id)
            ).fetchone(),
            write=False,
        )
        return None if row is None else _run(row)

    async def list_runs(self, tenant: str, thread_id: str) -> list[RunRecord]:
        rows = await self._call(
            lambda db: db.execute(
                f"SELECT {_RUN_COLUMNS} FROM server_runs WHERE tenant = ? AND thread_id = ? "
                "ORDER BY created_at DESC, run_id DESC",
                (tenant, thread_id),
            ).fetchall(),
            write=False,
        )
        return [_run(row) for row in rows]

    async def delete_run(self, tenant: str, run_id: str) -> None:
        await self._call(
            lambda db: db.execute("DELETE FROM server_runs WHERE tenant = ? AND run_id = ?", (tenant, run_id))
        )

    async def unfinished_runs(self) -> list[RunRecord]:
        statuses = sorted(ACTIVE_RUN_STATUSES)
        rows = await self._call(
            lambda db: db.execute(
                f"SELECT {_RUN_COLUMNS} FROM server_runs WHERE status IN (?, ?) ORDER BY created_at, run_id",
                statuses,
            ).fetchall(),
            write=False,
        )
        return [_run(row) for row in rows]

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, self._db.close)
        self._worker.shutdown(wait=False)  # the close above was its last task
