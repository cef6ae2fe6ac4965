"""What a client sees at each endpoint, and the governed path of one tool call.

A call passes, in order: name resolution (pool and upstream tool, through the pool's tool filter), the pool's
egress policy for URL arguments, rate limits (pool, then API key), the result cache (read-only tools), the pool
(balanced, failed over) or the client's dedicated upstream session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp import types
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from orchestra.core import tracing
from orchestra.gateway.config import TIERS
from orchestra.gateway.dedicated import Binding
from orchestra.gateway.egress import EgressRefused
from orchestra.gateway.errors import (
    EgressDenied,
    GatewayError,
    NoHealthyReplica,
    RateLimited,
    SessionLost,
    ToolNotAllowed,
    UnknownTool,
)
from orchestra.gateway.features import EndpointFeatures, url_of
from orchestra.gateway.metrics import GatewayMetrics
from orchestra.gateway.modern import MODERN_VERSIONS
from orchestra.gateway.names import SEPARATOR, by_own_name, namespace_block, namespaced_name
from orchestra.gateway.pool import Pool
from orchestra.gateway.push import Push
from orchestra.gateway.rpc import CallLog, Progress, RpcError, ToolResult
from orchestra.gateway.stores import RateLimiter, ResultCache, SessionRecord, SessionStore, is_ephemeral

log = logging.getLogger("orchestra.gateway")

_INPUT_ROUNDS = 16  # input_required rounds of one call before the gateway gives up on it
_SWEEP_EVERY = 5.0  # at most; pools with shorter idle timeouts are swept at half their timeout

__all__ = ["CallContext", "Endpoint", "Router", "namespaced_name"]


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
    """Who is calling: their session, their API key's id (never the key), where progress and logs go."""

    session: SessionRecord
    key_id: str | None = None
    progress: Progress | None = None
    log_to: CallLog | None = None
    trace: dict[str, str] = dataclasses.field(default_factory=dict)  # the caller's trace context (`tracing`)


class Router(EndpointFeatures):
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
        self._sweeper: asyncio.Task[None] | None = None
        self.push = Push()  # client sessions' GET streams, for messages outside calls
        self._subscribed: dict[str, set[str]] = {}  # client session -> shared pools it holds subscriptions in
        for pool in pools.values():
            pool.on_event = self._pool_event

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="release idle dedicated sessions")

    # -- endpoints ------------------------------------------------------------------------------------
    def exists(self, endpoint: Endpoint) -> bool:
        if endpoint.kind == "pools":
            return endpoint.name in self.pools
        if endpoint.kind == "tiers":
            return endpoint.name in TIERS
        return endpoint.kind == "all"

    def pools_of(self, endpoint: Endpoint) -> list[Pool]:
        if endpoint.kind == "pools":
            return [self.pools[endpoint.name]] if endpoint.name in self.pools else []
        if endpoint.kind == "tiers":
            return [p for p in self.pools.values() if p.config.tier == endpoint.name]
        return list(self.pools.values())

    async def _catalog(self, endpoint: Endpoint) -> dict[str, tuple[Pool, types.Tool]]:
        """Client-facing name -> (pool, upstream tool). A pool endpoint keeps upstream names as they are."""
        catalog: dict[str, tuple[Pool, types.Tool]] = {}
        for pool in self.pools_of(endpoint):
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
        attributes = {"mcp.pool": pool.name, "mcp.tool": tool.name, "mcp.endpoint": endpoint.path, "mcp.cached": False}
        span = f"tools/call {pool.name}.{tool.name}"
        with (
            tracing.continued(ctx.trace),
            tracing.tracer().start_as_current_span(span, kind=SpanKind.SERVER, attributes=attributes),
        ):
            return await self._traced_call(endpoint, pool, tool, arguments, ctx)

    async def _traced_call(
        self, endpoint: Endpoint, pool: Pool, tool: types.Tool, arguments: dict[str, Any] | None, ctx: CallContext
    ) -> ToolResult:
        started = time.perf_counter()
        try:
            result = await self._governed_call(pool, tool.name, arguments, ctx)
            for _ in range(_INPUT_ROUNDS):
                if result.get("resultType") != "input_required" or ctx.session.protocol_version in MODERN_VERSIONS:
                    break
                retry = dataclasses.replace(ctx, log_to=await self._inputs_from_legacy_client(result, ctx))
                result = await self._governed_call(pool, tool.name, arguments, retry)
            else:
                raise RpcError({"code": types.INTERNAL_ERROR, "message": f"the upstream asked for input "
                                f"{_INPUT_ROUNDS} times in a row without completing the call"})  # fmt: skip
        except Exception as exc:  # a gateway error, or the upstream's own JSON-RPC error: counted, then raised
            self._metrics.request_errors.labels(pool.name, tool.name, type(exc).__name__).inc()
            raise
        finally:
            self._metrics.request_duration.labels(pool.name, tool.name).observe(time.perf_counter() - started)
        if result.get("isError"):
            self._metrics.request_errors.labels(pool.name, tool.name, "tool_error").inc()
        if endpoint.kind != "pools" and isinstance(result.get("content"), list):
            # Resource links and embedded resources name URIs as this endpoint names them, so they can be read back.
            result = {**result, "content": [namespace_block(pool.name, block) for block in result["content"]]}
        return result

    async def _inputs_from_legacy_client(self, result: ToolResult, ctx: CallContext) -> CallLog:
        """A modern upstream's `input_required`, for a legacy client: each input request asked of the client as
        a server-initiated request (on its call's stream), the answers carried in the retry with the upstream's
        `requestState`, untouched."""
        requests = result.get("inputRequests") or {}
        if ctx.log_to is None or ctx.log_to.ask is None or not isinstance(requests, dict):
            raise RpcError({"code": types.INVALID_REQUEST, "message": "the upstream needs input from the client "
                            "(sampling, elicitation or roots), which this call cannot carry to it"})  # fmt: skip
        ask = ctx.log_to.ask
        keys = [key for key, request in requests.items() if isinstance(request, dict)]
        answers = await asyncio.gather(
            *(ask(str(requests[key].get("method")), requests[key].get("params") or {}) for key in keys)
        )
        carry: dict[str, Any] = {"inputResponses": dict(zip(keys, answers, strict=True))}
        if "requestState" in result:
            carry["requestState"] = result["requestState"]
        return dataclasses.replace(ctx.log_to, carry=carry)

    async def resolve(self, endpoint: Endpoint, name: str) -> tuple[Pool, types.Tool]:
        catalog = await self._catalog(endpoint)
        owned = [] if name in catalog else by_own_name(name, catalog)
        if len(owned) == 1:
            return catalog[owned[0]]
        if len(owned) > 1:
            raise UnknownTool(f"tool {name!r} is served by several pools at {url_of(endpoint)}: "
                              f"{', '.join(owned)}; use one of these names", tool=name)  # fmt: skip
        if name not in catalog:
            self._explain_missing(endpoint, name)
            close = [n for n in catalog if n.endswith(name) or name.endswith(n)][:3]
            hint = f"; did you mean {', '.join(close)}?" if close else "; call tools/list for the names"
            raise UnknownTool(f"unknown tool {name!r} at {url_of(endpoint)}{hint}", tool=name)
        return catalog[name]

    def _explain_missing(self, endpoint: Endpoint, name: str) -> None:
        """A name that is missing because its pool hides it or cannot list gets that reason, not 'unknown'."""
        for pool in self.pools_of(endpoint):
            prefix = "" if endpoint.kind == "pools" else f"{pool.name}{SEPARATOR}"
            if prefix and not name.startswith(prefix):
                continue
            tool = name.removeprefix(prefix)
            if tool in pool.tools and not pool.config.tools.permits(tool):
                raise ToolNotAllowed(
                    f"tool {tool!r} of pool {pool.name!r} is not exposed by this gateway (gateway.pools."
                    f"{pool.name}.tools)", tool=name,
                )  # fmt: skip
            status, reason = pool.status
            if not pool.tools and status != "ready":
                why = reason or "see /admin/pools"
                raise NoHealthyReplica(f"pool {pool.name!r} is {status}: {why}", pool=pool.name)

    async def _check_egress(self, pool: Pool, arguments: dict[str, Any] | None) -> None:
        if pool.egress is None:
            return
        names = set(pool.config.egress.url_arguments if pool.config.egress else ())
        for key, value in _walk(arguments or {}):
            if key in names:
                if not isinstance(value, str):
                    raise EgressDenied(f"argument {key!r} must be a URL string", pool=pool.name)
                try:
                    await pool.egress.check_url(value)
                except EgressRefused as refused:
                    raise EgressDenied(f"pool {pool.name!r} may not open that URL: {refused}", pool=pool.name) from None

    async def _governed_call(
        self, pool: Pool, tool: str, arguments: dict[str, Any] | None, ctx: CallContext
    ) -> ToolResult:
        await self._check_egress(pool, arguments)
        await self._check_rate_limits(pool, ctx.key_id)
        own_session = self.owns_session(pool, ctx.session) or tool in pool.config.stateful
        cache_key = None if own_session and pool.config.session == "shared" else self._cache_key(pool, tool, arguments)
        if ctx.log_to is not None and ctx.log_to.carry:
            cache_key = None  # a multi round-trip retry depends on inputs the key does not hold
        if cache_key is not None:
            hit = await self._cache.get(cache_key)
            if hit is not None:
                trace.get_current_span().set_attribute("mcp.cached", True)
                self._metrics.cache_hits.labels(pool.name, tool).inc()
                return json.loads(hit)
            self._metrics.cache_misses.labels(pool.name, tool).inc()
        if own_session:
            binding = await self._binding(pool, ctx.session)
            result = await pool.call_bound(binding, tool, arguments, progress=ctx.progress, log_to=ctx.log_to)
        else:
            result = await pool.call_tool(tool, arguments, progress=ctx.progress, log_to=ctx.log_to)
        if cache_key is not None and not result.get("isError") and result.get("resultType", "complete") == "complete":
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
    def owns_session(self, pool: Pool, session: SessionRecord) -> bool:
        """Whether `session` uses an upstream session of its own in `pool`: always on a dedicated pool; on a shared
        pool once it called one of the pool's `stateful` tools (state the other clients must not share)."""
        if pool.config.session == "dedicated":
            return True
        # A released one counts too: its state is gone, and the client is told so (-32014) rather than moved back.
        return pool.name in self._bindings.get(session.id, {}) or pool.name in {*session.bindings, *session.released}

    async def _binding(self, pool: Pool, session: SessionRecord) -> Binding:
        lock = self._binding_locks.setdefault(session.id, asyncio.Lock())
        async with lock:
            local = self._bindings.setdefault(session.id, {})
            if pool.name in local:
                return local[pool.name]
            if pool.name in session.released:
                raise SessionLost(session.released[pool.name], pool=pool.name)
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
        self.push.close(session_id)
        for pool in self._subscribed.pop(session_id, set()):
            await self.pools[pool].drop_subscriber(session_id)
        for pool, binding in self._bindings.pop(session_id, {}).items():
            await self.pools[pool].release(binding)
        self._binding_locks.pop(session_id, None)
        await self.sessions.delete(session_id)

    def holds_bindings(self, session_id: str) -> bool:
        return bool(self._bindings.get(session_id))

    @property
    def bound_sessions(self) -> int:
        return sum(1 for bindings in self._bindings.values() if bindings)

    async def _sweep_loop(self) -> None:
        idle_limits = [
            p.config.dedicated.idle_timeout
            for p in self.pools.values()
            if p.config.session == "dedicated" or p.config.stateful
        ]
        every = max(0.2, min([_SWEEP_EVERY, *(limit / 2 for limit in idle_limits)]))
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except GatewayError as exc:  # the store is unreachable: try again next round
                log.debug("dedicated-session sweep skipped: %s", exc.message)

    async def sweep(self) -> None:
        """Release the dedicated upstream sessions (browsers) of client sessions that ended or expired in the
        shared store, and of those idle past their pool's `dedicated.idle_timeout`."""
        for session_id in {*self._subscribed, *self.push.sessions} - set(self._bindings):
            if is_ephemeral(session_id):
                continue  # a modern request's or listen stream's: it ends with its request or stream
            if not await self.sessions.alive(session_id):  # its subscriptions and stream end with it
                await self.end_session(session_id)
        now = time.monotonic()
        for session_id, bindings in list(self._bindings.items()):
            if not bindings:
                continue
            if not await self.sessions.alive(session_id):
                log.info("client session %s… ended or expired; releasing its upstream sessions", session_id[:8])
                await self.end_session(session_id)
                continue
            idle = {
                name: binding
                for name, binding in bindings.items()
                if binding.calls == 0 and now - binding.last_used > self.pools[name].config.dedicated.idle_timeout
            }
            if idle:
                await self._release_idle(session_id, idle)

    async def _release_idle(self, session_id: str, idle: dict[str, Binding]) -> None:
        async with self._binding_locks.setdefault(session_id, asyncio.Lock()):
            record = await self.sessions.load(session_id)
            for name, binding in idle.items():
                self._bindings[session_id].pop(name, None)
                await self.pools[name].release(binding)
                limit = self.pools[name].config.dedicated.idle_timeout
                log.info("released the %s session of client session %s… after %gs idle", name, session_id[:8], limit)
                if record is not None:
                    record.bindings.pop(name, None)
                    record.released[name] = (
                        f"the {name!r} upstream session was released after {limit:g}s without calls "
                        f"(gateway.pools.{name}.dedicated.idle_timeout); its state is gone: initialize a new session"
                    )
            if record is not None:
                await self.sessions.save(record)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for session_id in list(self._bindings):
            await self.end_session(session_id)


def _walk(arguments: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in nested arguments, containers included; list items carry their list's key.
    Iterative, so arguments nested as deep as JSON allows cannot exhaust the stack."""
    stack: list[tuple[str | None, Any]] = [(None, arguments)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            if key is not None:
                yield key, value
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend((key, item) for item in value)
        elif key is not None:
            yield key, value
