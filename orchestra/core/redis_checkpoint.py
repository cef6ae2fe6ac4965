"""A LangGraph checkpointer on plain Redis: core commands only, so Redis 7+, Valkey and Redis Cluster all work.

Why our own: `langgraph-checkpoint-redis` needs the RediSearch and RedisJSON modules; the plain-Redis packages
on PyPI pass LangGraph's conformance suite on one server but fail it on Redis Cluster (cross-slot MGET/MULTI),
and one of them turns connection errors into "no checkpoint", which silently restarts a thread from scratch.

Layout. Every key of a thread carries the thread id as a `{hash tag}`, so a thread lives in one cluster slot and
each write is one MULTI/EXEC. Parts are %-escaped, so distinct ids never share a key. Per thread T, namespace N:

    P:{T}:namespaces         SET   the checkpoint namespaces of T (root "" and subgraphs)
    P:{T}:N:ids              ZSET  checkpoint ids, all score 0: lexicographic = chronological (ids are uuid6)
    P:{T}:N:checkpoints      HASH  id -> checkpoint without channel values, metadata, parent id
    P:{T}:N:blobs            HASH  channel:version -> value, stored once and shared by later checkpoints
    P:{T}:N:written          SET   ids of checkpoints that have pending writes (so deletion finds them)
    P:{T}:N:writes:ID        HASH  task_id:idx -> (task_path, task_id, idx, channel, value)
    P:threads                SET   thread ids, only for `alist(None)` (a separate slot, so written on its own)

No command walks the keyspace (no KEYS, no SCAN): reads and writes touch the keys of one thread.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.exceptions import RedisError, WatchError

RedisClient = Redis | RedisCluster

DEFAULT_PREFIX = "orchestra:checkpoint"
_BATCH = 64  # checkpoints loaded per round trip while listing
_DELETE_ATTEMPTS = 20  # optimistic-lock retries when a thread is deleted while being written
_EMPTY = "empty"  # a channel with a version but no value (as the other savers store it)


def _escape(part: str) -> str:
    """Escape the characters that separate key parts or delimit the cluster hash tag."""
    return part.replace("%", "%25").replace(":", "%3A").replace("{", "%7B").replace("}", "%7D")


def _pack(typed: tuple[str, bytes]) -> bytes:
    """One binary-safe value from the serializer's (type, bytes) pair; types never contain NUL."""
    return typed[0].encode() + b"\x00" + typed[1]


def _unpack(raw: bytes) -> tuple[str, bytes]:
    kind, _, data = raw.partition(b"\x00")
    return kind.decode(), data


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


async def connect_redis(url: str, *, timeout: float = 10.0, max_connections: int = 100) -> RedisClient:
    """A client for `url`: plain, or a cluster client when the server says it is part of a Redis Cluster.

    Asking the server (INFO cluster) lets one `redis://` URL serve a single node and a cluster alike. A plain
    client holds at most `max_connections`; a command that finds them all busy waits up to `timeout` for one
    (redis-py's default pool fails it at once, which under a burst of runs failed runs that had done nothing wrong).
    Raises redis-py's errors (or ValueError for a malformed URL); the caller explains them to the user.
    """
    options: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout, **options)
    client = Redis(connection_pool=pool)
    try:
        cluster_enabled = bool((await client.info("cluster")).get("cluster_enabled"))
    except BaseException:
        await client.aclose()
        raise
    if not cluster_enabled:
        return client
    await client.aclose()
    cluster = RedisCluster.from_url(url, **options)
    try:
        await cluster.initialize()
    except BaseException:
        await cluster.aclose()
        raise
    return cluster


class AsyncPlainRedisSaver(BaseCheckpointSaver[str]):
    """Async LangGraph checkpointer on plain Redis, Valkey or Redis Cluster (see the module docstring).

    `ttl` (seconds), when set, expires a thread's namespace that has not been written for that long; each write
    refreshes it. Pending writes of a superseded checkpoint keep the expiry of their own last write, so on a
    thread busy for longer than `ttl` they may go before the thread does (only replays of that old step need them).
    The caller owns `client` and closes it. Sync methods are not provided: Orchestra runs graphs with `ainvoke`.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: int | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"checkpoint key prefix {prefix!r} must be non-empty and without braces")
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    # Keys ---------------------------------------------------------------------------------------------------

    def _thread_key(self, thread_id: str) -> str:
        if not thread_id:
            raise ValueError("a checkpoint needs a non-empty thread_id in config['configurable']")
        return f"{self.prefix}:{{{_escape(thread_id)}}}"

    def _ns_key(self, thread_id: str, ns: str, part: str) -> str:
        return f"{self._thread_key(thread_id)}:{_escape(ns)}:{part}"

    def _writes_key(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        return self._ns_key(thread_id, ns, f"writes:{_escape(checkpoint_id)}")

    def _namespaces_key(self, thread_id: str) -> str:
        return f"{self._thread_key(thread_id)}:namespaces"

    @property
    def _threads_key(self) -> str:
        return f"{self.prefix}:threads"

    @staticmethod
    def _blob_field(channel: str, version: Any) -> str:
        return f"{_escape(channel)}:{version}"

    # Writing ------------------------------------------------------------------------------------------------

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of the channels that changed, atomically (one MULTI/EXEC)."""
        configurable = config["configurable"]
        thread_id, ns = str(configurable["thread_id"]), configurable.get("checkpoint_ns", "")
        checkpoint_id = checkpoint["id"]
        values = checkpoint["channel_values"]
        stored = {key: value for key, value in checkpoint.items() if key != "channel_values"}
        record = {
            "checkpoint": stored,
            "metadata": get_checkpoint_metadata(config, metadata),
            "parent_checkpoint_id": configurable.get("checkpoint_id"),
        }
        blobs = {
            self._blob_field(channel, version): _pack(
                self.serde.dumps_typed(values[channel]) if channel in values else (_EMPTY, b"")
            )
            for channel, version in new_versions.items()
        }
        ns_keys = [self._ns_key(thread_id, ns, part) for part in ("ids", "checkpoints", "blobs", "written")]
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._namespaces_key(thread_id), ns)
            pipe.zadd(ns_keys[0], {checkpoint_id: 0})
            pipe.hset(ns_keys[1], checkpoint_id, _pack(self.serde.dumps_typed(record)))
            if blobs:
                pipe.hset(ns_keys[2], mapping=blobs)
            self._expire(pipe, self._namespaces_key(thread_id), *ns_keys)
            results = await pipe.execute()
        if results[0]:  # a namespace new to this thread: make sure `alist(None)` knows the thread
            await self.client.sadd(self._threads_key, thread_id)
        return _config(thread_id, ns, checkpoint_id)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for a checkpoint, atomically.

        As in LangGraph's own savers, a regular write (idx >= 0) is kept once per (task, idx), so a task replayed
        after an interrupt does not duplicate it, while special writes (errors, interrupts, resumes) replace.
        """
        configurable = config["configurable"]
        thread_id, ns = str(configurable["thread_id"]), configurable.get("checkpoint_ns", "")
        checkpoint_id = configurable["checkpoint_id"]
        key = self._writes_key(thread_id, ns, checkpoint_id)
        written = self._ns_key(thread_id, ns, "written")
        async with self.client.pipeline(transaction=True) as pipe:
            for position, (channel, value) in enumerate(writes):
                idx = WRITES_IDX_MAP.get(channel, position)
                field = f"{task_id}:{idx}"
                packed = _pack(self.serde.dumps_typed([task_path, task_id, idx, channel, value]))
                if idx >= 0:
                    pipe.hsetnx(key, field, packed)
                else:
                    pipe.hset(key, field, packed)
            pipe.sadd(written, checkpoint_id)
            pipe.sadd(self._namespaces_key(thread_id), ns)
            self._expire(pipe, key, written, self._namespaces_key(thread_id))
            await pipe.execute()

    def _expire(self, pipe: Any, *keys: str) -> None:
        if self.ttl:
            for key in keys:
                pipe.expire(key, self.ttl)

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of a thread, in all its namespaces.

        The keys to delete are read under WATCH, so a write racing the deletion makes it retry, not leave orphans.
        """
        thread_id = str(thread_id)
        namespaces_key = self._namespaces_key(thread_id)
        for _ in range(_DELETE_ATTEMPTS):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(namespaces_key)
                    namespaces = [_text(ns) for ns in await pipe.smembers(namespaces_key)]
                    keys = [namespaces_key]
                    for ns in namespaces:
                        written = self._ns_key(thread_id, ns, "written")
                        await pipe.watch(written)
                        checkpoint_ids = [_text(cid) for cid in await pipe.smembers(written)]
                        keys += [self._ns_key(thread_id, ns, part) for part in ("ids", "checkpoints", "blobs")]
                        keys += [written, *(self._writes_key(thread_id, ns, cid) for cid in checkpoint_ids)]
                    pipe.multi()
                    pipe.execute_command("UNLINK", *keys)  # the cluster client's unlink() would split by slot
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        else:
            raise RedisError(f"thread {thread_id!r} kept changing while it was being deleted; try again")
        await self.client.srem(self._threads_key, thread_id)

    # Reading ------------------------------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by `config`, or the thread's latest in that namespace when it names none."""
        configurable = config["configurable"]
        thread_id, ns = str(configurable["thread_id"]), configurable.get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is None:
            latest = await self.client.zrevrangebylex(self._ns_key(thread_id, ns, "ids"), "+", "-", start=0, num=1)
            if not latest:
                return None
            checkpoint_id = _text(latest[0])
        return (await self._load([(thread_id, ns, checkpoint_id)], None))[0]

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first, of one namespace, of all of a thread's, or of every thread (`config=None`)."""
        if limit is not None and limit <= 0:
            return
        targets = await self._targets(config)
        exact = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        upper = f"({before_id}" if before_id else "+"
        window = {"start": 0, "num": limit} if limit is not None and not filter and exact is None else {}
        async with self.client.pipeline(transaction=False) as pipe:
            for thread_id, ns in targets:
                pipe.zrevrangebylex(self._ns_key(thread_id, ns, "ids"), upper, "-", **window)
            id_lists = await pipe.execute() if len(pipe) else []
        candidates = [
            (thread_id, ns, _text(cid))
            for (thread_id, ns), ids in zip(targets, id_lists, strict=True)
            for cid in ids
            if exact is None or _text(cid) == exact
        ]
        candidates.sort(key=lambda item: item[2], reverse=True)
        produced = 0
        for start in range(0, len(candidates), _BATCH):
            for found in await self._load(candidates[start : start + _BATCH], filter):
                if found is None:
                    continue
                yield found
                produced += 1
                if limit is not None and produced >= limit:
                    return

    async def _targets(self, config: RunnableConfig | None) -> list[tuple[str, str]]:
        """The (thread, namespace) pairs a listing covers; forgets registered threads that have expired."""
        if config is not None:
            thread_id = str(config["configurable"]["thread_id"])
            ns = config["configurable"].get("checkpoint_ns")
            if ns is not None:
                return [(thread_id, ns)]
            return [(thread_id, _text(found)) for found in await self.client.smembers(self._namespaces_key(thread_id))]
        threads = [_text(found) async for found in self.client.sscan_iter(self._threads_key, count=500)]
        async with self.client.pipeline(transaction=False) as pipe:
            for thread_id in threads:
                pipe.smembers(self._namespaces_key(thread_id))
            namespace_sets = await pipe.execute() if len(pipe) else []
        gone = [thread_id for thread_id, namespaces in zip(threads, namespace_sets, strict=True) if not namespaces]
        if gone:
            await self.client.srem(self._threads_key, *gone)
        return [
            (thread_id, _text(ns))
            for thread_id, namespaces in zip(threads, namespace_sets, strict=True)
            for ns in sorted(namespaces)
        ]

    async def _load(
        self, items: list[tuple[str, str, str]], metadata_filter: dict[str, Any] | None
    ) -> list[CheckpointTuple | None]:
        """Checkpoint tuples for (thread, namespace, id) triples in two round trips; None where absent or filtered."""
        async with self.client.pipeline(transaction=False) as pipe:
            for thread_id, ns, checkpoint_id in items:
                pipe.hget(self._ns_key(thread_id, ns, "checkpoints"), checkpoint_id)
                pipe.hvals(self._writes_key(thread_id, ns, checkpoint_id))
            raw = await pipe.execute() if len(pipe) else []
        records: list[dict[str, Any] | None] = []
        async with self.client.pipeline(transaction=False) as pipe:
            for index, (thread_id, ns, _) in enumerate(items):
                record = self.serde.loads_typed(_unpack(raw[2 * index])) if raw[2 * index] is not None else None
                if record is not None and metadata_filter:
                    metadata = record["metadata"]
                    if any(metadata.get(key) != value for key, value in metadata_filter.items()):
                        record = None
                if record is not None:
                    versions = record["checkpoint"].get("channel_versions") or {}
                    record["channels"] = list(versions)
                    if versions:
                        fields = [self._blob_field(channel, version) for channel, version in versions.items()]
                        pipe.hmget(self._ns_key(thread_id, ns, "blobs"), fields)
                records.append(record)
            blob_lists = iter(await pipe.execute() if len(pipe) else [])
        results: list[CheckpointTuple | None] = []
        for index, ((thread_id, ns, checkpoint_id), record) in enumerate(zip(items, records, strict=True)):
            if record is None:
                results.append(None)
                continue
            values: dict[str, Any] = {}
            if record["channels"]:
                for channel, blob in zip(record["channels"], next(blob_lists), strict=True):
                    if blob is not None and (typed := _unpack(blob))[0] != _EMPTY:
                        values[channel] = self.serde.loads_typed(typed)
            parent_id = record["parent_checkpoint_id"]
            results.append(
                CheckpointTuple(
                    config=_config(thread_id, ns, checkpoint_id),
                    checkpoint=cast(Checkpoint, {**record["checkpoint"], "channel_values": values}),
                    metadata=cast(CheckpointMetadata, record["metadata"]),
                    parent_config=_config(thread_id, ns, parent_id) if parent_id else None,
                    pending_writes=self._pending_writes(raw[2 * index + 1]),
                )
            )
        return results

    def _pending_writes(self, raw_writes: list[bytes]) -> list[PendingWrite]:
        """Writes in `writes_sort_key` order, the order a live super-step applies them in."""
        decoded = [self.serde.loads_typed(_unpack(raw)) for raw in raw_writes]
        decoded.sort(key=lambda write: writes_sort_key(write[0], write[1], write[2]))
        return [(task_id, channel, value) for _, task_id, _, channel, value in decoded]

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Versions that sort as strings and differ between forks of a thread, as LangGraph's own savers make them.

        The random fraction keeps two branches of a time-travelled thread from writing the same blob field.
        """
        number = 0 if current is None else current if isinstance(current, int) else int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"
