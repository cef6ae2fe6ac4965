"""State the gateway shares between its processes: client sessions, cached results, rate-limit buckets.

Each store has an in-process form (one gateway) and a Redis form (any number of gateway processes). The
Redis forms keep everything under `<key_prefix>:` and expire what they write.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Protocol

from redis.asyncio import Redis

from orchestra.gateway.dedicated import BindingRecord


@dataclass
class SessionRecord:
    """A client session: which endpoint it belongs to and where its dedicated upstream sessions live."""

    id: str
    endpoint: str
    protocol_version: str
    log_level: str | None = None
    bindings: dict[str, BindingRecord] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionRecord:
        data = json.loads(text)
        data["bindings"] = {pool: BindingRecord(**b) for pool, b in data.get("bindings", {}).items()}
        return cls(**data)


class SessionStore(Protocol):
    async def save(self, record: SessionRecord) -> None: ...
    async def load(self, session_id: str) -> SessionRecord | None: ...
    async def delete(self, session_id: str) -> None: ...


class ResultCache(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def put(self, key: str, value: str, ttl: float) -> None: ...


class RateLimiter(Protocol):
    async def acquire(self, bucket: str, per_second: float, burst: int) -> float:
        """Take one token; returns 0 when granted, else the seconds until a token is due."""
        ...


class MemorySessionStore:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._records: dict[str, tuple[str, float]] = {}

    async def save(self, record: SessionRecord) -> None:
        self._records[record.id] = (record.to_json(), time.monotonic() + self._ttl)

    async def load(self, session_id: str) -> SessionRecord | None:
        entry = self._records.get(session_id)
        if entry is None or entry[1] < time.monotonic():
            self._records.pop(session_id, None)
            return None
        self._records[session_id] = (entry[0], time.monotonic() + self._ttl)
        return SessionRecord.from_json(entry[0])

    async def delete(self, session_id: str) -> None:
        self._records.pop(session_id, None)


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


class RedisSessionStore:
    def __init__(self, redis: Redis, prefix: str, ttl: float) -> None:
        self._redis, self._prefix, self._ttl = redis, f"{prefix}:session:", max(1, int(ttl))

    async def save(self, record: SessionRecord) -> None:
        await self._redis.set(self._prefix + record.id, record.to_json(), ex=self._ttl)

    async def load(self, session_id: str) -> SessionRecord | None:
        raw = await self._redis.getex(self._prefix + session_id, ex=self._ttl)
        return SessionRecord.from_json(raw) if raw is not None else None

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(self._prefix + session_id)


class RedisResultCache:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis, self._prefix = redis, f"{prefix}:cache:"

    async def get(self, key: str) -> str | None:
        raw = await self._redis.get(self._prefix + key)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)))


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
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._prefix = f"{prefix}:ratelimit:"
        self._script = redis.register_script(_TOKEN_BUCKET)

    async def acquire(self, bucket: str, per_second: float, burst: int) -> float:
        wait = await self._script(keys=[self._prefix + bucket], args=[per_second, burst])
        return float(wait)
