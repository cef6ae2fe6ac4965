"""The gateway as an ASGI app: pools and stores are created in `lifespan`, routes serve MCP and operations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from importlib.metadata import version as package_version
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchestra.core.envref import MissingEnvironmentError, expand_env
from orchestra.core.serving import serve_in_loop
from orchestra.gateway.admission import Admission, Refused, is_loopback
from orchestra.gateway.config import EGRESS_PROXY_VAR, GATEWAY_ORIGIN_VAR, GatewayConfig, PoolConfig
from orchestra.gateway.egress import EgressPolicy, EgressProxy, parse_origin
from orchestra.gateway.errors import GatewayError
from orchestra.gateway.metrics import GatewayMetrics
from orchestra.gateway.pool import Pool
from orchestra.gateway.router import Endpoint, Router
from orchestra.gateway.stores import (
    MemoryRateLimiter,
    MemoryResultCache,
    MemorySessionStore,
    RedisHealth,
    RedisRateLimiter,
    RedisResultCache,
    RedisSessionStore,
)
from orchestra.gateway.transport import McpEndpoint
from orchestra.gateway.wire import JsonReply

log = logging.getLogger("orchestra.gateway")


class GatewayStartError(Exception):
    """The gateway cannot start as configured; the message says what to change."""


class Gateway:
    """Pools, stores, egress proxies and the MCP endpoint of one gateway process."""

    def __init__(self, config: GatewayConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        # Pools may name the gateway's own origin (e.g. to block it in a browser); it is always this gateway's.
        self.environ[GATEWAY_ORIGIN_VAR] = f"http://{_url_host(config.host)}:{config.port}"
        self.metrics = GatewayMetrics()
        self.admission = Admission(config, self.environ)
        self.pools: dict[str, Pool] = {}
        self.proxies: dict[str, EgressProxy] = {}
        self.redis_health = RedisHealth()
        self._redis: Redis | None = None
        self.router: Router | None = None
        self.endpoint: McpEndpoint | None = None
        self._starting: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._check_access_settings()
        active, off = self.config.active_pools(self.environ)
        for name, reason in off.items():
            log.info("pool %s is off: %s", name, reason)
        for name, pool_config in active.items():
            environ = self.environ
            if pool_config.egress is not None:
                proxy = await self._start_proxy(name, pool_config)
                environ = {**self.environ, EGRESS_PROXY_VAR: proxy.url}
            pool = Pool(name, pool_config, environ=environ, metrics=self.metrics)
            pool.egress = self.proxies[name].policy if name in self.proxies else None
            self.pools[name] = pool
        sessions, cache, limiter = await self._stores()
        self.router = Router(self.pools, sessions=sessions, cache=cache, limiter=limiter, metrics=self.metrics)
        self.router.start()
        self.endpoint = McpEndpoint(
            self.router, version=package_version("mcp-orchestra"), max_request_bytes=self.config.http.max_request_bytes
        )
        self._starting = [asyncio.create_task(pool.start()) for pool in self.pools.values()]
        # Serve once every pool is ready or has failed, or after startup_wait: a slow or broken pool must not keep
        # the others from serving. Those still starting go on in the background.
        if self._starting:
            await asyncio.wait(self._starting, timeout=self.config.startup_wait)
        for pool in self.pools.values():
            status, reason = pool.status
            if status != "ready":
                log.warning("pool %s is %s: %s", pool.name, status, reason or "see /admin/pools")

    def pools_starting(self) -> list[str]:
        """Pools whose first start has not finished (ready, or every replica failed) yet."""
        return [name for name, task in zip(self.pools, self._starting, strict=False) if not task.done()]

    async def _start_proxy(self, name: str, pool_config: PoolConfig) -> EgressProxy:
        egress = pool_config.egress
        assert egress is not None
        try:
            origins = frozenset(parse_origin(expand_env(o, self.environ)) for o in egress.allow_origins)
        except (ValueError, MissingEnvironmentError) as exc:
            raise GatewayStartError(f"gateway.pools.{name}.egress.allow_origins: {exc}") from None
        policy = EgressPolicy(
            pool=name, allow_origins=origins, allow_private=egress.allow_private, allow_public=egress.allow_public,
            own_ports=frozenset(p for p in (self.config.port, self.config.metrics.port) if p),
            connect_timeout=egress.connect_timeout,
        )  # fmt: skip
        refused = self.metrics.egress_refused.labels(name)
        proxy = EgressProxy(policy, max_connections=egress.max_connections, on_refused=refused.inc)
        await proxy.start()
        self.proxies[name] = proxy
        return proxy

    async def _stores(self) -> tuple[Any, Any, Any]:
        try:
            redis_url = expand_env(self.config.redis_url or "", self.environ).strip()
        except MissingEnvironmentError as exc:
            raise GatewayStartError(f"gateway.redis_url: {exc} (or write ${{VAR:-}} to make it optional)") from None
        if redis_url:
            self._redis = await _connect_redis(redis_url)
            prefix, ttl, health = self.config.key_prefix, self.config.session_ttl, self.redis_health
            return (
                RedisSessionStore(self._redis, prefix, ttl, health),
                RedisResultCache(self._redis, prefix, health),
                RedisRateLimiter(self._redis, prefix, health),
            )
        cache_size = max((p.cache.max_entries for p in self.config.pools.values()), default=10_000)
        return (
            MemorySessionStore(self.config.session_ttl, self.config.max_sessions),
            MemoryResultCache(cache_size),
            MemoryRateLimiter(),
        )

    def _check_access_settings(self) -> None:
        keys_env = self.config.auth.keys_env
        if not (self.admission.keys or self.config.auth.allow_anonymous or is_loopback(self.config.host)):
            raise GatewayStartError(
                f"refusing to serve {self.config.host} without API keys: set {keys_env} "
                "(comma-separated keys) or gateway.auth.allow_anonymous: true"
            )
        if self.admission.wildcard_bind_without_hosts:
            raise GatewayStartError(
                f"refusing to serve {self.config.host or '*'} with no gateway.http.allowed_hosts: list the host "
                "names clients use (DNS-rebinding protection), or ['*'] behind a proxy that checks Host"
            )
        if not self.admission.keys:  # loudest where it matters: off loopback, with allow_anonymous
            level = logging.INFO if is_loopback(self.config.host) else logging.WARNING
            log.log(level, "no API keys in $%s: the gateway accepts every client that reaches it", keys_env)

    async def stop(self) -> None:
        for task in self._starting:
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        if self.endpoint is not None:
            await self.endpoint.close()
        if self.router is not None:
            await self.router.close()
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()))
        await asyncio.gather(*(proxy.stop() for proxy in self.proxies.values()))
        if self._redis is not None:
            await self._redis.aclose()

    async def redis_ready(self) -> bool:
        if self._redis is None:
            return True
        with contextlib.suppress(GatewayError, TimeoutError):
            await asyncio.wait_for(self.redis_health.run(self._redis.ping()), 1.0)
            return True
        return False

    async def describe(self) -> dict[str, Any]:
        assert self.router is not None
        sessions: int | None = None
        with contextlib.suppress(GatewayError):
            sessions = await self.router.sessions.count()
        return {
            "client_sessions": sessions,
            "client_sessions_with_dedicated_upstreams": self.router.bound_sessions,
            "pools": {name: pool.describe() for name, pool in self.pools.items()},
        }


def create_app(
    config: GatewayConfig, environ: Mapping[str, str] | None = None, *, started: Gateway | None = None
) -> Starlette:
    """The app; it starts and stops its gateway in its lifespan, unless given one its caller `started` (and
    stops), which keeps a start-up interrupted by Ctrl-C in the caller's own hands."""
    gateway = started or Gateway(config, environ)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if started is not None:
            async with _metrics_listener(gateway):
                yield
            return
        try:
            await gateway.start()
            async with _metrics_listener(gateway):
                yield
        finally:
            await gateway.stop()

    async def mcp(request: Request) -> Response:
        try:
            key_id = gateway.admission.admit(request)
        except Refused as refused:
            return refused.response
        kind = request.path_params.get("kind", "all")
        endpoint = Endpoint(kind, request.path_params.get("name")) if kind != "all" else Endpoint("all")
        assert gateway.endpoint is not None
        return await gateway.endpoint.handle(request, endpoint, key_id)

    async def healthz(_: Request) -> Response:
        return JsonReply({"status": "ok"})

    async def readyz(_: Request) -> Response:
        # Ready once every pool's first start has finished and one pool serves: a pool that is broken or down (a
        # vendor's outage, a hung replica) must not take the gateway's other pools out of the load balancer; it is
        # reported here, in /admin/pools and by the OrchestraPoolWithoutHealthyReplicas alert.
        not_ready = [name for name, pool in gateway.pools.items() if not pool.ready]
        starting = gateway.pools_starting()
        redis_ok = await gateway.redis_ready()
        ready = redis_ok and not starting and len(not_ready) < len(gateway.pools)
        body = {
            "ready": ready,
            "pools_not_ready": not_ready,
            "pools_starting": starting,
            "state_store": "ok" if redis_ok else "unreachable",
        }
        return JsonReply(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        if config.metrics.port is not None:
            return JsonReply({"error": "not found", "detail": "metrics are served on the metrics port"}, 404)
        try:
            if config.metrics.require_key:
                gateway.admission.admit(request)
            else:
                gateway.admission.check_host_and_origin(request)
        except Refused as refused:
            return refused.response
        return metrics_response(gateway)

    async def admin_pools(request: Request) -> Response:
        try:
            gateway.admission.admit(request)
        except Refused as refused:
            return refused.response
        return JsonReply(await gateway.describe())

    methods = ["GET", "POST", "DELETE"]
    routes = [
        Route("/mcp", mcp, methods=methods),
        Route("/{kind:str}/{name:str}/mcp", mcp, methods=methods),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/admin/pools", admin_pools),
    ]
    # Every answer is JSON, unknown paths and methods included; and no redirect for a trailing slash, which would
    # answer before the Host and Origin checks run.
    handlers = {404: _json_http_error, 405: _json_http_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)  # type: ignore[arg-type]
    app.router.redirect_slashes = False
    app.state.gateway = gateway
    return app


async def _json_http_error(_: Request, exc: HTTPException) -> Response:
    return JsonReply({"error": exc.detail.lower(), "detail": exc.detail}, status_code=exc.status_code,
                     headers=exc.headers)  # fmt: skip


def metrics_response(gateway: Gateway) -> Response:
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@contextlib.asynccontextmanager
async def _metrics_listener(gateway: Gateway) -> AsyncIterator[None]:
    """`/metrics` alone on `metrics.port`, when configured (no key: keep that port inside the cluster)."""
    port = gateway.config.metrics.port
    if port is None:
        yield
        return

    async def metrics(_: Request) -> Response:
        return metrics_response(gateway)

    app = Starlette(routes=[Route("/metrics", metrics)])
    async with serve_in_loop(app, port, host=gateway.config.host):
        yield


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def _connect_redis(url: str) -> Redis:
    try:
        # Bounded socket waits: during an outage, calls fail within a second or two instead of hanging.
        redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1, health_check_interval=10)
    except ValueError:
        raise GatewayStartError(
            "gateway.redis_url is not a Redis URL; write redis://HOST:PORT/DB, rediss://... or unix://PATH"
        ) from None
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise GatewayStartError(
            f"cannot reach Redis at gateway.redis_url ({type(exc).__name__}); start it or unset redis_url"
        ) from None
    return redis
