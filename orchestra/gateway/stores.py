"""State the gateway shares between its processes: client sessions, cached results, rate-limit buckets.

Each store has an in-process form (one gateway) and a Redis form (any number of gateway processes). The
Redis forms keep everything under `<key_prefix>:` and expire what they write. When Redis cannot be reached,
every Redis form raises `StateUnavailable` (a JSON-RPC error with a retry hint), logged once per outage.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestra.gateway.dedicated import BindingRecord
from orchestra.gateway.errors import StateUnavailable

log = logging.getLogger("orchestra.gateway")

T = TypeVar("T")


@dataclass
class SessionRecord:
    """A client session: which endpoint and API key it belongs to, and where its dedicated upstream sessions live."""

    id: str
    endpoint: str
    protocol_version: str
    key_id: str | None = None
    log_level: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)  # what the client declared in its initialize
    bindings: dict[str, BindingRecord] = field(default_factory=dict)
    released: dict[str, str] = field(default_factory=dict)  # pool -> why its upstream session was let go

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionRecord:
        data = json.loads(text)
        data["bindings"] = {pool: BindingRecord(**b) for pool, b in data.get("bindings", {}).items()}
        return cls(**data)


EPHEMERAL_PREFIX = "stateless-"  # the id of a modern (MCP 2026-07-28) request's caller: never stored as a session


def is_ephemeral(session_id: str) -> bool:
    return session_id.startswith(EPHEMERAL_PREFIX)


class SessionStore(Protocol):
    async def save(self, record: SessionRecord) -> None: ...
    async def load(self, session_id: str) -> SessionRecord | None:
        """The record, its idle time restarted; None once ended or expired."""
        ...

    async def alive(self, session_id: str) -> bool:
        """Whether the session still exists, without counting this as use."""
        ...

    async def delete(self, session_id: str) -> None: ...
    async def count(self) -> int: ...


class ResultCache(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def put(self, key: str, value: str, ttl: float) -> None: ...


class RateLimiter(Protocol):
    async def acquire(self, bucket: str, per_second: float, burst: int) -> float:
        """Take one token; returns 0 when granted, else the seconds until a token is due."""
        ...


class MemorySessionStore:
    """Sessions in least-recently-used order: expired ones are evicted from the old end as new ones arrive, and
    past `max_sessions` the least recently used goes first."""

    def __init__(self, ttl: float, max_sessions: int) -> None:
        self._ttl, self._max = ttl, max_sessions
        self._records: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def _evict(self) -> None:
        now = time.monotonic()
        while self._records:
            oldest, (_, expires) = next(iter(self._records.items()))
            if expires >= now and len(self._records) <= self._max:
                break
            del self._records[oldest]

    async def save(self, record: SessionRecord) -> None:
        self._records[record.id] = (record.to_json(), time.monotonic() + self._ttl)
        self._records.move_to_end(record.id)
        self._evict()

    async def load(self, session_id: str) -> SessionRecord | None:
        self._evict()
        entry = self._records.get(session_id)
        if entry is None:
            return None
        self._records[session_id] = (entry[0], time.monotonic() + self._ttl)
        self._records.move_to_end(session_id)
        return SessionRecord.from_json(entry[0])

    async def alive(self, session_id: str) -> bool:
        self._evict()
        return session_id in self._records

    async def delete(self, session_id: str) -> None:
        self._records.pop(session_id, None)

    async def count(self) -> int:
        self._evict()
        return len(self._records)


class MemoryResultCache:
    """LRU with per-entry expiry."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._entries[key] = (value, time.monotonic() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    async def acquire(self, bucket: str, per_second: float, burst: int) -> float:
        now = time.monotonic()
        tokens, updated = self._buckets.get(bucket, (float(burst), now))
        tokens = min(float(burst), tokens + (now - updated) * per_second)
        if tokens >= 1.0:
            self._buckets[bucket] = (tokens - 1.0, now)
            return 0.0
        self._buckets[bucket] = (tokens, now)
        return (1.0 - tokens) / per_second


class RedisHealth:
    """Whether Redis answers. Its errors become `StateUnavailable`; an outage is logged once, and so is the
    recovery (redis-py reconnects by itself on the next command)."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    async def run(self, command: Awaitable[T]) -> T:
        try:
            result = await command
        except (RedisError, OSError) as exc:
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.warning("Redis is unreachable (%s); answering calls with retryable errors until it is back",
                            type(exc).__name__)  # fmt: skip
            raise StateUnavailable(
                "the gateway's shared state (Redis) is unreachable; nothing was done, retry shortly", retry_after=1.0
            ) from None
        if self.down_since is not None:
            log.warning("Redis is reachable again after %.1fs", time.monotonic() - self.down_since)
            self.down_since = None
        return result


class RedisSessionStore:
    """Sessions as keys with a TTL, plus a sorted set of expiry times to count them without scanning."""

    def __init__(self, redis: Redis, prefix: str, ttl: float, health: RedisHealth) -> None:
        self._redis, self._prefix, self._ttl = redis, f"{prefix}:session:", max(1, int(ttl))
        self._index = f"{prefix}:sessions"
        self._health = health

    async def save(self, record: SessionRecord) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._prefix + record.id, record.to_json(), ex=self._ttl)
        pipe.zadd(self._index, {record.id: time.time() + self._ttl})
        await self._health.run(pipe.execute())

    async def load(self, session_id: str) -> SessionRecord | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.getex(self._prefix + session_id, ex=self._ttl)
        pipe.zadd(self._index, {session_id: time.time() + self._ttl}, xx=True)
        raw, _ = await self._health.run(pipe.execute())
        return SessionRecord.from_json(raw) if raw is not None else None

    async def alive(self, session_id: str) -> bool:
        return bool(await self._health.run(self._redis.exists(self._prefix + session_id)))

    async def delete(self, session_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._prefix + session_id)
        pipe.zrem(self._index, session_id)
        await self._health.run(pipe.execute())

    async def count(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self._index, "-inf", time.time())
        pipe.zcard(self._index)
        _, count = await self._health.run(pipe.execute())
        return int(count)


class RedisResultCache:
    def __init__(self, redis: Redis, prefix: str, health: RedisHealth) -> None:
        self._redis, self._prefix, self._health = redis, f"{prefix}:cache:", health

    async def get(self, key: str) -> str | None:
        raw = await self._health.run(self._redis.get(self._prefix + key))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._health.run(self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000))))


# One atomic step of a token bucket, timed by the Redis server's clock so every gateway agrees.
_TOKEN_BUCKET = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str, health: RedisHealth) -> None:
        self._prefix = f"{prefix}:ratelimit:"
        self._script = redis.register_script(_TOKEN_BUCKET)
        self._health = health

    async def acquire(self, bucket: str, per_second: float, burst: int) -> float:
        wait = await self._health.run(self._script(keys=[self._prefix + bucket], args=[per_second, burst]))
        return float(wait)
