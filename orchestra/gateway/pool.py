"""A pool of replicas of one MCP server: balancing, health, failover, autoscaling.

Retries follow one rule: a call is repeated on another replica only when repeating it is safe (the tool is
read-only or idempotent by its annotations or by config), or when it was never sent. A write that failed
mid-call is reported as "may or may not have run", never repeated. A slow call is never repeated either: its
timeouts count silence (each progress notification resets them), and a try that timed out is retried only for a
safe tool on a pool whose `retry_policy.retry_on` lists `timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
import time
from collections.abc import Collection
from typing import Any

from mcp import types
from mcp.client.stdio import get_default_environment
from opentelemetry import trace

from orchestra.core.envref import expand_env
from orchestra.gateway.catalogue import PoolEvent, PoolFeatures
from orchestra.gateway.channel import ConnectionFactory, http_connection, stdio_connection
from orchestra.gateway.config import PoolConfig
from orchestra.gateway.dedicated import DedicatedSessions
from orchestra.gateway.egress import EgressPolicy
from orchestra.gateway.errors import (
    CallOutcomeUnknown,
    CallTimeout,
    GatewayError,
    NoHealthyReplica,
    Overloaded,
    ReplicaReset,
    ReplicaUnreachable,
)
from orchestra.gateway.liveness import CallClock
from orchestra.gateway.metrics import GatewayMetrics
from orchestra.gateway.replica import Replica, jittered
from orchestra.gateway.rpc import CallLog, Progress, RpcError, ToolResult

log = logging.getLogger("orchestra.gateway.pool")

_SCALE_TICK = 1.0
_MAX_TOOL_PAGES = 100
_FIRST_LISTING_WAIT = 5.0  # a client listing tools waits at most this long for a pool that has never listed


class Pool(DedicatedSessions, PoolFeatures):
    """Replicas of one upstream, and the calls made to them."""

    def __init__(
        self,
        name: str,
        config: PoolConfig,
        *,
        environ: dict[str, str],
        metrics: GatewayMetrics,
    ) -> None:
        self.name = name
        self.config = config
        self.replicas: list[Replica] = []
        self.tools: dict[str, types.Tool] = {}
        self._environ = environ
        self._metrics = metrics
        self._names = itertools.count()
        self._rr = itertools.count()
        self._changed = asyncio.Event()
        self._in_flight = 0
        self._retries_in_flight = 0
        self._pending = 0
        self._tools_stale = True
        self._tasks: list[asyncio.Task[None]] = []
        self._restarts_seen = 0
        self._retiring: set[asyncio.Task[None]] = set()
        self._refreshing: asyncio.Task[None] | None = None
        self.listing_error: str | None = None
        # The caching hints of a modern upstream's tools/list (see `_keep_listing_hints`); None from a legacy one.
        self.listing_ttl_ms: int | None = None
        self.listing_expires: float | None = None
        self.listing_private = False
        self.egress: EgressPolicy | None = None  # set by the gateway once the pool's egress proxy runs
        self.prompts: dict[str, types.Prompt] = {}
        self.subscriptions: dict[str, set[str]] = {}  # upstream URI -> client sessions subscribed to it
        self.on_event: PoolEvent | None = None  # set by the router: upstream notices for client sessions
        self._init: types.InitializeResult | None = None
        self._background: set[asyncio.Task[None]] = set()  # subscribing a new replica, relisting after a change

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def dedicated_stdio(self) -> bool:
        return self.config.session == "dedicated" and self.config.is_stdio

    async def start(self) -> None:
        """Start the replicas and wait (up to `startup_timeout`) for one to be healthy and list its tools.

        Returns early when every replica failed its first start: the pool is then reported broken, with the
        reason, and keeps restarting in the background while the other pools serve."""
        if self.config.is_stdio:
            if self.config.cwd:  # e.g. the browser's output folder, which is also its only file workspace
                await asyncio.to_thread(os.makedirs, expand_env(self.config.cwd, self._environ), exist_ok=True)
            for _ in range(max(self.config.replicas.min, 1)):
                self._add_stdio_replica()
        else:
            for url in self.config.upstream_urls:
                name = f"{self.name}-{next(self._names)}"
                connect = http_connection(
                    expand_env(url, self._environ), self.headers(), f"replica {name}", self.config.max_message_size
                )
                self._add_replica(connect, name, url=url)
        self._tasks = [
            asyncio.create_task(self._health_loop(), name=f"health {self.name}"),
            asyncio.create_task(self._scale_loop(), name=f"scale {self.name}"),
        ]
        try:
            await self._wait_for_replica(time.monotonic() + self.config.startup_timeout)
            await self.refresh_tools()
        except GatewayError as exc:
            log.warning("pool %s is not available yet: %s", self.name, exc.message)

    async def stop(self) -> None:
        background = [*self._tasks, *self._background, *([self._refreshing] if self._refreshing else [])]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await asyncio.gather(*(r.stop() for r in self.replicas))

    def headers(self) -> dict[str, str]:
        """Headers for URL upstreams, `${VAR}` expanded."""
        return {k: expand_env(v, self._environ) for k, v in self.config.headers.items()}

    def _stdio_connection(self, label: str) -> ConnectionFactory:
        argv = [expand_env(part, self._environ) for part in self.config.command or []]
        env = {
            **get_default_environment(),
            **{k: expand_env(v, self._environ) for k, v in self.config.env.items()},
        }
        cwd = expand_env(self.config.cwd, self._environ) if self.config.cwd else None
        return stdio_connection(argv, env, cwd, label, self.config.max_message_size)

    def _add_stdio_replica(self) -> Replica:
        name = f"{self.name}-{next(self._names)}"
        return self._add_replica(self._stdio_connection(f"replica {name}"), name, single_use=self.dedicated_stdio)

    def _add_replica(
        self, connect: ConnectionFactory, name: str, *, url: str | None = None, single_use: bool = False
    ) -> Replica:
        replica = Replica(
            name, self.config, connect, single_use=single_use, url=url,
            on_change=self._replica_changed, on_notice=self._notice, on_up=self._replica_up,
        )  # fmt: skip
        self.replicas.append(replica)
        replica.start()
        return replica

    def _replica_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        now = time.monotonic()
        for replica in self.replicas:
            self._metrics.server_health.labels(self.name, replica.name).set(1 if replica.available(now) else 0)
        states: dict[str, int] = {"starting": 0, "healthy": 0, "unhealthy": 0, "stopped": 0}
        for replica in self.replicas:
            states[replica.state] += 1
        for state, count in states.items():
            self._metrics.replicas.labels(self.name, state).set(count)

    # -- tools ----------------------------------------------------------------------------------------
    async def list_tools(self) -> list[types.Tool]:
        """The tools this pool exposes (its `tools` filter applied), without waiting on busy replicas: a known
        catalogue is served at once and refreshed in the background when an upstream said it changed."""
        if self.listing_expires is not None and time.monotonic() >= self.listing_expires:
            self._tools_stale = True  # a modern upstream's `ttlMs` ran out: served as known, relisted meanwhile
        if self._tools_stale:
            if self.tools or self.listing_error:
                self._refresh_soon()
            else:
                with contextlib.suppress(GatewayError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._refresh_soon()), _FIRST_LISTING_WAIT)
        return [tool for name, tool in self.tools.items() if self.config.tools.permits(name)]

    def _refresh_soon(self) -> asyncio.Task[None]:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh_quietly(), name=f"list tools {self.name}")
        return self._refreshing

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_tools()
        except GatewayError as exc:
            self.listing_error = exc.message
            log.warning("pool %s could not list its tools: %s", self.name, exc.message)

    async def refresh_tools(self) -> None:
        """List the upstream's tools (and its prompts, when it has some), page by page, within the pool's `timeout`;
        any live replica will do (a dedicated pool's replicas all belong to clients, and listing changes nothing)."""
        deadline = time.monotonic() + self.config.timeout
        replica = self._listing_replica() or await self._wait_for_replica(deadline)
        assert replica.channel is not None
        tools: dict[str, types.Tool] = {}
        cursor: str | None = None
        seen: set[str] = set()
        hints: list[tuple[Any, Any]] = []  # each page's caching hints (a modern upstream's; None from a legacy one)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                for _ in range(_MAX_TOOL_PAGES):
                    raw = await replica.channel.request("tools/list", {"cursor": cursor} if cursor else None)
                    page = types.ListToolsResult.model_validate(raw)
                    hints.append((raw.get("ttlMs"), raw.get("cacheScope")))
                    tools.update((tool.name, tool) for tool in page.tools)
                    cursor = page.nextCursor
                    if not cursor or cursor in seen:
                        break
                    seen.add(cursor)
        except TimeoutError:
            raise CallTimeout(f"listing tools of pool {self.name!r} took over {self.config.timeout:g}s",
                              pool=self.name) from None  # fmt: skip
        except (RpcError, ValueError) as exc:
            raise ReplicaReset(f"replica {replica.name} answered tools/list badly: {exc}", pool=self.name) from None
        await self._list_prompts_on(replica.channel, deadline)
        self.tools, self._tools_stale, self.listing_error = tools, False, None
        self._keep_listing_hints(hints)

    def _keep_listing_hints(self, hints: list[tuple[Any, Any]]) -> None:
        """A modern upstream's `ttlMs` bounds how long the catalogue is served before it is listed again, and its
        `cacheScope` is passed on (a `private` listing makes every listing that includes it private)."""
        ttls = [ttl for ttl, _ in hints if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0]
        self.listing_ttl_ms = min(ttls) if ttls else None
        self.listing_expires = time.monotonic() + self.listing_ttl_ms / 1000 if ttls else None
        self.listing_private = any(scope == "private" for _, scope in hints)

    def _listing_replica(self) -> Replica | None:
        now = time.monotonic()
        return next((r for r in self.replicas if r.available(now)), None)

    def safe_to_repeat(self, tool: str) -> bool:
        if tool in self.config.retry_policy.safe_tools:
            return True
        annotations = self.tools[tool].annotations if tool in self.tools else None
        return bool(annotations and (annotations.readOnlyHint or annotations.idempotentHint))

    def read_only(self, tool: str) -> bool:
        annotations = self.tools[tool].annotations if tool in self.tools else None
        return bool(annotations and annotations.readOnlyHint)

    # -- selection ------------------------------------------------------------------------------------
    def _pick(self, candidates: list[Replica]) -> Replica:
        policy = self.config.lb_policy
        if policy == "RANDOM":
            return random.choice(candidates)
        offset = next(self._rr)
        rotated = candidates[offset % len(candidates) :] + candidates[: offset % len(candidates)]
        if policy == "ROUND_ROBIN":
            return rotated[0]
        return min(rotated, key=lambda r: r.load)  # LEAST_REQUEST; ties broken round robin

    def _candidates(self, exclude: Collection[str]) -> list[Replica]:
        """Replicas in rotation; a dedicated stdio pool offers only its unowned spares."""
        now = time.monotonic()
        live = [r for r in self.replicas if r.available(now) and r.owner is None]
        return [r for r in live if r.name not in exclude] or live

    async def _wait_for_replica(self, deadline: float, exclude: Collection[str] = ()) -> Replica:
        while True:
            candidates = self._candidates(exclude)
            if candidates:
                return self._pick(candidates)
            broken = self.broken_reason()
            if broken is not None:  # nothing is coming up: say why now instead of waiting out the deadline
                raise NoHealthyReplica(f"pool {self.name!r} is not available: {broken}", pool=self.name)
            if self._pending >= self.config.circuit_breakers.max_pending_requests:
                raise Overloaded(f"pool {self.name!r} has too many calls waiting for a replica", pool=self.name)
            self._scale_up()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoHealthyReplica(f"pool {self.name!r} has no healthy replica; see /admin/pools", pool=self.name)
            self._pending += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
            finally:
                self._pending -= 1

    def broken_reason(self) -> str | None:
        """Why the pool cannot serve, when every live replica failed its last start (else None: it is up, or a
        replica is on its way up)."""
        live = self._live()
        if not live or any(r.state == "healthy" or r.start_failures == 0 for r in live):
            return None
        latest = max(live, key=lambda r: r.failed_at)
        return f"{latest.last_error}; retrying in the background"

    # -- calls ----------------------------------------------------------------------------------------
    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any] | None,
        *,
        progress: Progress | None = None,
        log_to: CallLog | None = None,
    ) -> ToolResult:
        """Call `tool` on a replica of this pool (shared sessions), failing over when that is safe."""
        if self._in_flight >= self.config.circuit_breakers.max_requests:
            raise Overloaded(f"pool {self.name!r} is at max_requests; retry shortly", pool=self.name)
        policy = self.config.retry_policy
        clock = CallClock(self.config.timeout)
        safe = self.safe_to_repeat(tool)
        tried: set[str] = set()
        self._in_flight += 1
        self._metrics.in_flight.labels(self.name).inc()
        try:
            for attempt in itertools.count():
                replica = await self._wait_for_replica(clock.deadline, exclude=tried)
                tried.add(replica.name)
                try:
                    return await self._try(replica, tool, arguments, clock, progress, log_to)
                except (ReplicaUnreachable, ReplicaReset, CallTimeout) as failure:
                    reason, sent = _classify(failure)
                    retry = (
                        reason in policy.retry_on
                        and (safe or not sent)
                        and attempt < policy.num_retries
                        and self._retries_in_flight < self.config.circuit_breakers.max_retries
                        and time.monotonic() < clock.deadline
                    )
                    if not retry:
                        if reason == "timeout":
                            raise self._timed_out(tool, failure, attempt + 1, safe=safe) from None
                        if sent and not safe:
                            raise CallOutcomeUnknown(
                                f"{tool!r} on pool {self.name!r} failed mid-call ({failure.message}); it changes "
                                "state, so it was not repeated: it may or may not have run. Check before retrying.",
                                pool=self.name, tool=tool, reason=reason,
                            ) from None  # fmt: skip
                        raise
                    self._metrics.retries.labels(self.name, tool, reason).inc()
                    log.info("retrying %s on pool %s after %s on %s", tool, self.name, reason, replica.name)
                    await self._back_off(attempt, clock.deadline)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._in_flight -= 1
            self._metrics.in_flight.labels(self.name).dec()

    def _timed_out(self, tool: str, failure: GatewayError, tries: int, *, safe: bool) -> CallTimeout:
        """What a client is told when the gateway stopped waiting for a call: the tool may still be running."""
        times = f" ({tries} tries)" if tries > 1 else ""
        return CallTimeout(
            f"{tool!r} on pool {self.name!r} timed out{times}: {failure.message}. The gateway stopped waiting and "
            "asked the upstream to cancel it, but the tool may still be running (or have finished); it was not run "
            "again. " + ("It is safe to repeat." if safe else "Check its effect before calling it again."),
            pool=self.name, tool=tool, reason="timeout", may_still_be_running=True, retryable=safe,
        )  # fmt: skip

    async def _back_off(self, attempt: int, deadline: float) -> None:
        policy = self.config.retry_policy
        delay = jittered(min(policy.base_interval * 2**attempt, policy.max_interval))
        self._retries_in_flight += 1
        try:
            await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        finally:
            self._retries_in_flight -= 1

    async def _try(
        self,
        replica: Replica,
        tool: str,
        arguments: dict[str, Any] | None,
        clock: CallClock,
        progress: Progress | None,
        log_to: CallLog | None,
    ) -> ToolResult:
        """One try, limited by `per_try_timeout` (or the pool's `timeout`) without progress: the gateway always
        asks the upstream for progress, so a call that reports it stays alive whether or not the client asked."""
        per_try = self.config.retry_policy.per_try_timeout or self.config.timeout
        assert replica.channel is not None
        trace.get_current_span().set_attribute("mcp.replica", replica.name)  # the last one tried, after failovers
        replica.in_flight += 1
        replica.last_active = started = time.monotonic()
        if replica.in_flight > self.config.replicas.target_in_flight:
            self._scale_up()
        try:
            call = replica.channel.call_tool(tool, arguments, progress=clock.progress(progress), log_to=log_to)
            result = await clock.run(call, per_try)
        except TimeoutError:
            self._record_failure(replica)
            limit = "retry_policy.per_try_timeout" if per_try < self.config.timeout else "timeout"
            raise CallTimeout(
                f"replica {replica.name} sent no result and no progress for {clock.silent_for(started):.1f}s "
                f"(the pool's {limit} is {min(per_try, self.config.timeout):g}s)",
                pool=self.name,
            ) from None
        except (ReplicaUnreachable, ReplicaReset):
            self._record_failure(replica)
            raise
        finally:
            replica.in_flight -= 1
            replica.last_active = time.monotonic()
        replica.record_success()
        return result

    def _record_failure(self, replica: Replica) -> None:
        now = time.monotonic()
        ejected = sum(1 for r in self.replicas if now < r.ejected_until)
        limit = math.floor(len(self.replicas) * self.config.outlier_detection.max_ejection_percent / 100)
        replica.record_failure(may_eject=ejected < limit)

    # -- scaling --------------------------------------------------------------------------------------
    def _live(self) -> list[Replica]:
        return [r for r in self.replicas if not r.finished and not r.draining]

    def _scale_up(self) -> None:
        """Add one replica now, unless one is already starting (the scale loop sizes bursts each tick)."""
        live = self._live()
        if self.config.is_stdio and len(live) < self.config.replicas.max and all(r.state != "starting" for r in live):
            self._add_stdio_replica()

    async def _scale_loop(self) -> None:
        while True:
            await asyncio.sleep(_SCALE_TICK)
            self._scale_once()

    def _scale_once(self) -> None:
        """Reap finished replicas, then move the live count toward what load asks for."""
        for replica in [r for r in self.replicas if r.finished]:
            self.replicas.remove(replica)
            self._metrics.server_health.remove(self.name, replica.name)
            self._replica_changed()
        if not self.config.is_stdio:
            return
        limits, live = self.config.replicas, self._live()
        if self.dedicated_stdio:
            spares = [r for r in live if r.owner is None]
            for _ in range(min(limits.min - len(spares), limits.max - len(live))):
                self._add_stdio_replica()
            return
        busy = sum(r.in_flight for r in live)
        wanted = min(max(math.ceil(busy / limits.target_in_flight), limits.min, 1), limits.max)
        for _ in range(wanted - len(live)):
            self._add_stdio_replica()
        now = time.monotonic()
        idle = [r for r in live if r.in_flight == 0 and now - r.last_active > limits.idle_timeout]
        for replica in sorted(idle, key=lambda r: r.started_at, reverse=True)[: max(0, len(live) - wanted)]:
            log.info("retiring idle replica %s", replica.name)
            replica.draining = True
            self._retiring.add(task := asyncio.create_task(replica.stop()))
            task.add_done_callback(self._retiring.discard)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_checks.interval)
            await asyncio.gather(*(r.check_health() for r in list(self.replicas)))
            restarts = sum(r.restarts for r in self.replicas)
            if restarts > self._restarts_seen:
                self._metrics.restarts.labels(self.name).inc(restarts - self._restarts_seen)
            self._restarts_seen = restarts

    # -- introspection --------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        now = time.monotonic()
        return any(r.available(now) for r in self.replicas) and bool(self.tools)

    @property
    def status(self) -> tuple[str, str | None]:
        """`ready`, `starting` or `broken`, and the reason when it is not ready."""
        if self.ready:
            return "ready", None
        broken = self.broken_reason()
        if broken is not None:
            return "broken", broken
        return "starting", self.listing_error

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        status, reason = self.status
        return {
            "status": status,
            "reason": reason,
            "tier": self.config.tier,
            "description": self.config.description,
            "session": self.config.session,
            "upstream": "stdio" if self.config.is_stdio else "http",
            "lb_policy": self.config.lb_policy,
            "replicas": [r.describe(now) for r in self.replicas],
            "healthy": sum(1 for r in self.replicas if r.available(now)),
            "in_flight": self._in_flight,
            "pending": self._pending,
            "tools": sorted(name for name in self.tools if self.config.tools.permits(name)),
            "tools_hidden": sorted(name for name in self.tools if not self.config.tools.permits(name)),
            "ready": self.ready,
        }


def _classify(failure: GatewayError) -> tuple[str, bool]:
    """Envoy's `retry_on` name for a failure, and whether the call had reached the replica."""
    if isinstance(failure, ReplicaUnreachable):
        return "connect-failure", False
    if isinstance(failure, CallTimeout):
        return "timeout", True
    return "reset", True
