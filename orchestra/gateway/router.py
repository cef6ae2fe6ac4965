"""What a client sees at each endpoint, and the governed path of one tool call.

A call passes, in order: name resolution (pool and upstream tool), rate limits (pool, then API key), the
result cache (read-only tools), the pool (balanced, failed over) or the client's dedicated upstream session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from mcp import types

from orchestra.gateway.config import TIERS
from orchestra.gateway.dedicated import Binding
from orchestra.gateway.errors import RateLimited, UnknownTool
from orchestra.gateway.metrics import GatewayMetrics
from orchestra.gateway.pool import Pool
from orchestra.gateway.rpc import Progress, ToolResult
from orchestra.gateway.stores import RateLimiter, ResultCache, SessionRecord, SessionStore

log = logging.getLogger("orchestra.gateway")

_SEPARATOR = "__"
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64


def namespaced_name(pool: str, tool: str, taken: set[str]) -> str:
    """`<pool>__<tool>`, made to fit `^[a-zA-Z0-9_-]{1,64}$` and unique among `taken`."""
    name = f"{pool}{_SEPARATOR}{_INVALID.sub('_', tool)}"
    if len(name) > _MAX_NAME or name in taken:
        digest = hashlib.sha1(f"{pool}/{tool}".encode()).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}_{digest}"
    return name


@dataclass(frozen=True)
class Endpoint:
    """`pools/<name>`, `tiers/<name>` or `all`."""

    kind: str
    name: str | None = None

    @property
    def path(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}/{self.name}"

    @classmethod
    def parse(cls, path: str) -> Endpoint:
        kind, _, name = path.partition("/")
        return cls(kind, name or None)


@dataclass
class CallContext:
    """Who is calling: their session, their API key's id (never the key), and where progress goes."""

    session: SessionRecord
    key_id: str | None = None
    progress: Progress | None = None


class Router:
    def __init__(
        self,
        pools: dict[str, Pool],
        *,
        sessions: SessionStore,
        cache: ResultCache,
        limiter: RateLimiter,
        metrics: GatewayMetrics,
    ) -> None:
        self.pools = pools
        self.sessions = sessions
        self._cache = cache
        self._limiter = limiter
        self._metrics = metrics
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._binding_locks: dict[str, asyncio.Lock] = {}

    # -- endpoints ------------------------------------------------------------------------------------
    def exists(self, endpoint: Endpoint) -> bool:
        if endpoint.kind == "pools":
            return endpoint.name in self.pools
        if endpoint.kind == "tiers":
            return endpoint.name in TIERS
        return endpoint.kind == "all"

    def _pools_of(self, endpoint: Endpoint) -> list[Pool]:
        if endpoint.kind == "pools":
            return [self.pools[endpoint.name]] if endpoint.name in self.pools else []
        if endpoint.kind == "tiers":
            return [p for p in self.pools.values() if p.config.tier == endpoint.name]
        return list(self.pools.values())

    async def _catalog(self, endpoint: Endpoint) -> dict[str, tuple[Pool, types.Tool]]:
        """Client-facing name -> (pool, upstream tool). A pool endpoint keeps upstream names as they are."""
        catalog: dict[str, tuple[Pool, types.Tool]] = {}
        for pool in self._pools_of(endpoint):
            for tool in await pool.list_tools():
                name = tool.name if endpoint.kind == "pools" else namespaced_name(pool.name, tool.name, set(catalog))
                catalog[name] = (pool, tool)
        return catalog

    async def list_tools(self, endpoint: Endpoint) -> list[types.Tool]:
        catalog = await self._catalog(endpoint)
        return [tool.model_copy(update={"name": name}) for name, (_, tool) in catalog.items()]

    # -- calls ----------------------------------------------------------------------------------------
    async def call_tool(
        self, endpoint: Endpoint, name: str, arguments: dict[str, Any] | None, ctx: CallContext
    ) -> ToolResult:
        pool, tool = await self.resolve(endpoint, name)
        started = time.perf_counter()
        try:
            result = await self._governed_call(pool, tool.name, arguments, ctx)
        except Exception as exc:  # a gateway error, or the upstream's own JSON-RPC error: counted, then raised
            self._metrics.request_errors.labels(pool.name, tool.name, type(exc).__name__).inc()
            raise
        finally:
            self._metrics.request_duration.labels(pool.name, tool.name).observe(time.perf_counter() - started)
        if result.get("isError"):
            self._metrics.request_errors.labels(pool.name, tool.name, "tool_error").inc()
        return result

    async def resolve(self, endpoint: Endpoint, name: str) -> tuple[Pool, types.Tool]:
        catalog = await self._catalog(endpoint)
        if name not in catalog:
            close = [n for n in catalog if n.endswith(name) or name.endswith(n)][:3]
            hint = f"; did you mean {', '.join(close)}?" if close else "; call tools/list for the names"
            raise UnknownTool(f"unknown tool {name!r} at /{endpoint.path}/mcp{hint}", tool=name)
        return catalog[name]

    async def _governed_call(
        self, pool: Pool, tool: str, arguments: dict[str, Any] | None, ctx: CallContext
    ) -> ToolResult:
        await self._check_rate_limits(pool, ctx.key_id)
        cache_key = self._cache_key(pool, tool, arguments)
        if cache_key is not None:
            hit = await self._cache.get(cache_key)
            if hit is not None:
                self._metrics.cache_hits.labels(pool.name, tool).inc()
                return json.loads(hit)
            self._metrics.cache_misses.labels(pool.name, tool).inc()
        if pool.config.session == "dedicated":
            binding = await self._binding(pool, ctx.session)
            result = await pool.call_bound(binding, tool, arguments, progress=ctx.progress)
        else:
            result = await pool.call_tool(tool, arguments, progress=ctx.progress)
        if cache_key is not None and not result.get("isError"):  # errors are never cached
            await self._cache.put(cache_key, json.dumps(result, separators=(",", ":")), pool.config.cache.ttl)
        return result

    def _cache_key(self, pool: Pool, tool: str, arguments: dict[str, Any] | None) -> str | None:
        cache = pool.config.cache
        if cache.ttl <= 0:
            return None
        cacheable = tool in cache.tools if cache.tools is not None else pool.read_only(tool)
        if not cacheable:
            return None
        canonical = json.dumps(arguments or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return f"{pool.name}:{tool}:{hashlib.sha256(canonical.encode()).hexdigest()}"

    async def _check_rate_limits(self, pool: Pool, key_id: str | None) -> None:
        limits = pool.config.rate_limit
        checks = [("pool", pool.name, limits.requests)]
        if key_id is not None:
            checks.append(("key", f"{pool.name}:{key_id}", limits.per_key))
        for scope, bucket, rate in checks:
            if rate is None:
                continue
            wait = await self._limiter.acquire(bucket, rate.per_second, limits.burst or rate.count)
            if wait > 0:
                self._metrics.rate_limited.labels(pool.name, scope).inc()
                raise RateLimited(
                    f"rate limit {rate} of pool {pool.name!r}{' for this API key' if scope == 'key' else ''} "
                    f"reached; retry after {wait:.2f}s",
                    pool=pool.name, scope=scope, retry_after=round(wait, 3),
                )  # fmt: skip

    # -- dedicated bindings ---------------------------------------------------------------------------
    async def _binding(self, pool: Pool, session: SessionRecord) -> Binding:
        lock = self._binding_locks.setdefault(session.id, asyncio.Lock())
        async with lock:
            local = self._bindings.setdefault(session.id, {})
            if pool.name in local:
                return local[pool.name]
            recorded = session.bindings.get(pool.name)
            binding = await pool.bind(rejoin=recorded)
            local[pool.name] = binding
            if recorded != binding.record():
                session.bindings[pool.name] = binding.record()
                await self.sessions.save(session)
            return binding

    async def lose_binding(self, session: SessionRecord, pool: str) -> None:
        """Forget a dead dedicated session so the client's next request asks it to re-initialize."""
        binding = self._bindings.get(session.id, {}).pop(pool, None)
        if binding is not None:
            await self.pools[pool].release(binding)
        await self.sessions.delete(session.id)

    async def end_session(self, session_id: str) -> None:
        for pool, binding in self._bindings.pop(session_id, {}).items():
            await self.pools[pool].release(binding)
        self._binding_locks.pop(session_id, None)
        await self.sessions.delete(session_id)

    async def close(self) -> None:
        for session_id in list(self._bindings):
            await self.end_session(session_id)
