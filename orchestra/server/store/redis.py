"""Thread and run records in Redis hashes (with `REDIS_URL`), next to the checkpoints of the plain-Redis saver.

Layout, per tenant T (the `{T}` hash tag puts a tenant's keys in one cluster slot, so each change is one
MULTI/EXEC, on Redis Cluster too):

    P:{T}:thread:ID          HASH  a thread record, one field per column (JSON where structured)
    P:{T}:threads            SET   the tenant's thread ids
    P:{T}:run:ID             HASH  a run record
    P:{T}:thread:ID:runs     SET   the thread's run ids
    P:unfinished             SET   `T/run id` of runs pending or running, for recovery at start (no SCAN needed)

Only core commands, so Redis 7+, Valkey and Redis Cluster all serve it.
"""

from __future__ import annotations

from typing import Any

import orjson

from orchestra.core.redis_checkpoint import RedisClient, connect_redis
from orchestra.server.records import RunRecord, ThreadRecord

_THREAD_JSON = ("metadata", "values", "interrupts", "config", "error")
_NO_VALUES = tuple(name for name in _THREAD_JSON if name != "values")
_THREAD_TEXT = ("tenant", "thread_id", "created_at", "updated_at", "state_updated_at", "status")
_RUN_JSON = ("metadata", "kwargs")
_RUN_TEXT = ("tenant", "run_id", "thread_id", "assistant_id", "graph_id", "created_at", "updated_at", "status",
             "multitask_strategy")  # fmt: skip

# Insert a thread only if absent: KEYS = thread hash, tenant's thread set; ARGV = thread id, field, value, ...
_CREATE_THREAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _fields(record: Any, text: tuple[str, ...], json: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The hash fields to set, and the names of those to remove (None values)."""
    values: dict[str, str] = {}
    absent: list[str] = []
    for name in text:
        value = getattr(record, name)
        if value is None:
            absent.append(name)
        else:
            values[name] = value
    for name in json:
        value = getattr(record, name)
        if value is None:
            absent.append(name)
        else:
            values[name] = orjson.dumps(value).decode()
    return values, absent


def _decoded(raw: dict[Any, Any], json: tuple[str, ...]) -> dict[str, Any]:
    found = {_text(key): value for key, value in raw.items()}
    return {name: (orjson.loads(value) if name in json else _text(value)) for name, value in found.items()}


def _thread(raw: dict[Any, Any], *, values: bool = True) -> ThreadRecord | None:
    if not raw:
        return None
    fields = _decoded(raw, _THREAD_JSON)
    return ThreadRecord(**{"interrupts": {}, "metadata": {}, "config": {}, **fields, "values_loaded": values})


def _run(raw: dict[Any, Any]) -> RunRecord | None:
    return RunRecord(**_decoded(raw, _RUN_JSON)) if raw else None


class RedisRecordStore:
    """`RecordStore` on Redis, Valkey or Redis Cluster."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"server.key_prefix {prefix!r} must be non-empty and without braces")
        self._redis, self._prefix = client, prefix

    @classmethod
    async def connect(cls, url: str, prefix: str) -> RedisRecordStore:
        return cls(await connect_redis(url), prefix)

    def _tenant(self, tenant: str) -> str:
        return f"{self._prefix}:{{{tenant}}}"

    def _thread_key(self, tenant: str, thread_id: str) -> str:
        return f"{self._tenant(tenant)}:thread:{thread_id}"

    def _runs_key(self, tenant: str, thread_id: str) -> str:
        return f"{self._thread_key(tenant, thread_id)}:runs"

    def _run_key(self, tenant: str, run_id: str) -> str:
        return f"{self._tenant(tenant)}:run:{run_id}"

    @property
    def _unfinished_key(self) -> str:
        return f"{self._prefix}:unfinished"

    async def create_thread(self, thread: ThreadRecord) -> bool:
        fields, _ = _fields(thread, _THREAD_TEXT, _THREAD_JSON)
        flat = [item for pair in fields.items() for item in pair]
        keys = [self._thread_key(thread.tenant, thread.thread_id), f"{self._tenant(thread.tenant)}:threads"]
        created = await self._redis.eval(_CREATE_THREAD, len(keys), *keys, thread.thread_id, *flat)  # type: ignore[misc]
        return bool(created)

    def _queue_thread(self, pipe: Any, thread: ThreadRecord) -> None:
        key = self._thread_key(thread.tenant, thread.thread_id)
        fields, absent = _fields(thread, _THREAD_TEXT, _THREAD_JSON if thread.values_loaded else _NO_VALUES)
        pipe.hset(key, mapping=fields)
        if absent:
            pipe.hdel(key, *absent)
        pipe.sadd(f"{self._tenant(thread.tenant)}:threads", thread.thread_id)

    async def put_thread(self, thread: ThreadRecord) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._queue_thread(pipe, thread)
            await pipe.execute()

    async def get_thread(self, tenant: str, thread_id: str, *, values: bool = True) -> ThreadRecord | None:
        if values:
            return _thread(await self._redis.hgetall(self._thread_key(tenant, thread_id)))  # type: ignore[misc]
        found = await self._without_values(tenant, [thread_id])
        return found[0] if found else None

    async def scan_threads(self, tenant: str) -> list[ThreadRecord]:
        ids = sorted(_text(found) or "" for found in await self._redis.smembers(f"{self._tenant(tenant)}:threads"))  # type: ignore[misc]
        return await self._without_values(tenant, ids)

    async def _without_values(self, tenant: str, thread_ids: list[str]) -> list[ThreadRecord]:
        names = [*_THREAD_TEXT, *_NO_VALUES]
        async with self._redis.pipeline(transaction=False) as pipe:
            for thread_id in thread_ids:
                pipe.hmget(self._thread_key(tenant, thread_id), names)
            rows = await pipe.execute() if thread_ids else []
        found = [
            _thread({n: v for n, v in zip(names, row, strict=True) if v is not None}, values=False) for row in rows
        ]
        return [thread for thread in found if thread is not None]

    async def get_threads(self, tenant: str, thread_ids: list[str]) -> list[ThreadRecord]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for thread_id in thread_ids:
                pipe.hgetall(self._thread_key(tenant, thread_id))
            rows = await pipe.execute() if thread_ids else []
        return [thread for thread in map(_thread, rows) if thread is not None]

    async def delete_thread(self, tenant: str, thread_id: str) -> None:
        run_ids = [_text(found) for found in await self._redis.smembers(self._runs_key(tenant, thread_id))]  # type: ignore[misc]
        async with self._redis.pipeline(transaction=True) as pipe:
            for run_id in run_ids:
                pipe.delete(self._run_key(tenant, run_id or ""))
            pipe.delete(self._runs_key(tenant, thread_id), self._thread_key(tenant, thread_id))
            pipe.srem(f"{self._tenant(tenant)}:threads", thread_id)
            await pipe.execute()
        if run_ids:
            await self._redis.srem(self._unfinished_key, *(f"{tenant}/{run_id}" for run_id in run_ids))  # type: ignore[misc]

    async def put_run(self, run: RunRecord, thread: ThreadRecord | None = None) -> None:
        fields, _ = _fields(run, _RUN_TEXT, _RUN_JSON)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._run_key(run.tenant, run.run_id), mapping=fields)
            pipe.sadd(self._runs_key(run.tenant, run.thread_id), run.run_id)
            if thread is not None:
                self._queue_thread(pipe, thread)
            await pipe.execute()
        # Another slot, so written on its own: the set is only a hint; recovery reads each run's own status.
        member = f"{run.tenant}/{run.run_id}"
        if run.active:
            await self._redis.sadd(self._unfinished_key, member)  # type: ignore[misc]
        else:
            await self._redis.srem(self._unfinished_key, member)  # type: ignore[misc]

    async def get_run(self, tenant: str, run_id: str) -> RunRecord | None:
        return _run(await self._redis.hgetall(self._run_key(tenant, run_id)))  # type: ignore[misc]

    async def list_runs(self, tenant: str, thread_id: str) -> list[RunRecord]:
        run_ids = [_text(found) or "" for found in await self._redis.smembers(self._runs_key(tenant, thread_id))]  # type: ignore[misc]
        async with self._redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(self._run_key(tenant, run_id))
            rows = await pipe.execute() if run_ids else []
        runs = [run for run in map(_run, rows) if run is not None]
        return sorted(runs, key=lambda run: (run.created_at, run.run_id), reverse=True)

    async def delete_run(self, tenant: str, run_id: str) -> None:
        run = await self.get_run(tenant, run_id)
        if run is None:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._run_key(tenant, run_id))
            pipe.srem(self._runs_key(tenant, run.thread_id), run_id)
            await pipe.execute()
        await self._redis.srem(self._unfinished_key, f"{tenant}/{run_id}")  # type: ignore[misc]

    async def unfinished_runs(self) -> list[RunRecord]:
        members = [_text(found) or "" for found in await self._redis.smembers(self._unfinished_key)]  # type: ignore[misc]
        pairs = [member.split("/", 1) for member in members if "/" in member]
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, run_id in pairs:
                pipe.hgetall(self._run_key(tenant, run_id))
            rows = await pipe.execute() if pairs else []
        runs = [run for run in map(_run, rows) if run is not None and run.active]
        return sorted(runs, key=lambda run: (run.created_at, run.run_id))

    async def aclose(self) -> None:
        await self._redis.aclose()
