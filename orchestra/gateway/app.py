"""The gateway as an ASGI app: pools and stores are created in `lifespan`, routes serve MCP and operations."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from importlib.metadata import version as package_version

from mcp import types
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestra.core.envref import MissingEnvironmentError, expand_env
from orchestra.gateway.config import GatewayConfig
from orchestra.gateway.metrics import GatewayMetrics
from orchestra.gateway.pool import Pool
from orchestra.gateway.router import Endpoint, Router
from orchestra.gateway.stores import (
    MemoryRateLimiter,
    MemoryResultCache,
    MemorySessionStore,
    RedisRateLimiter,
    RedisResultCache,
    RedisSessionStore,
)
from orchestra.gateway.transport import LogHub, McpEndpoint

log = logging.getLogger("orchestra.gateway")


class GatewayStartError(Exception):
    """The gateway cannot start as configured; the message says what to change."""


class Gateway:
    """Pools, stores and the MCP endpoint of one gateway process."""

    def __init__(self, config: GatewayConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.metrics = GatewayMetrics()
        self.logs = LogHub()
        self.keys = _read_keys(self.environ.get(config.auth.keys_env, ""))
        self.pools: dict[str, Pool] = {}
        self._redis: Redis | None = None
        self.router: Router | None = None
        self.endpoint: McpEndpoint | None = None

    async def start(self) -> None:
        self._check_auth_setting()
        active, off = self.config.active_pools(self.environ)
        for name, reason in off.items():
            log.info("pool %s is off: %s", name, reason)
        for name, pool_config in active.items():
            self.pools[name] = Pool(
                name, pool_config, environ=self.environ, metrics=self.metrics, on_log=self._pool_log(name)
            )
        cache_size = max((p.cache.max_entries for p in self.config.pools.values()), default=10_000)
        try:
            redis_url = expand_env(self.config.redis_url or "", self.environ).strip()
        except MissingEnvironmentError as exc:
            raise GatewayStartError(f"gateway.redis_url: {exc} (or write ${{VAR:-}} to make it optional)") from None
        if redis_url:
            self._redis = await _connect_redis(redis_url)
            prefix, ttl = self.config.key_prefix, self.config.session_ttl
            stores = (
                RedisSessionStore(self._redis, prefix, ttl),
                RedisResultCache(self._redis, prefix),
                RedisRateLimiter(self._redis, prefix),
            )
        else:
            stores = (
                MemorySessionStore(self.config.session_ttl),
                MemoryResultCache(cache_size),
                MemoryRateLimiter(),
            )
        sessions, cache, limiter = stores
        self.router = Router(self.pools, sessions=sessions, cache=cache, limiter=limiter, metrics=self.metrics)
        self.endpoint = McpEndpoint(self.router, self.logs, version=package_version("mcp-orchestra"))
        await asyncio.gather(*(pool.start() for pool in self.pools.values()))
        for pool in self.pools.values():
            if not pool.ready:
                log.error("pool %s has no healthy replica yet; see /admin/pools", pool.name)

    def _pool_log(self, pool: str) -> Callable[[str, types.LoggingMessageNotificationParams], Awaitable[None]]:
        async def forward(replica: str, params: types.LoggingMessageNotificationParams) -> None:
            await self.logs.publish(pool, replica, params)

        return forward

    def _check_auth_setting(self) -> None:
        if self.keys or self.config.auth.allow_anonymous or _is_loopback(self.config.host):
            if not self.keys:
                log.warning("no API keys in $%s: the gateway accepts every client", self.config.auth.keys_env)
            return
        raise GatewayStartError(
            f"refusing to serve {self.config.host} without API keys: set {self.config.auth.keys_env} "
            "(comma-separated keys) or gateway.auth.allow_anonymous: true"
        )

    async def stop(self) -> None:
        if self.router is not None:
            await self.router.close()
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()))
        if self._redis is not None:
            await self._redis.aclose()

    def key_id(self, request: Request) -> tuple[bool, str | None]:
        """Whether the request may pass, and the id (a hash, never the key) of the key it used."""
        if not self.keys:
            return True, None
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return False, None
        for key in self.keys:
            if secrets.compare_digest(key.encode(), presented.strip().encode()):
                return True, hashlib.sha256(key.encode()).hexdigest()[:12]
        return False, None


def create_app(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> Starlette:
    gateway = Gateway(config, environ)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            await gateway.start()
            yield
        finally:
            await gateway.stop()

    def unauthorized() -> JSONResponse:
        return JSONResponse(
            {
                "error": "unauthorized",
                "detail": "send `Authorization: Bearer <key>` with a key from the operator",
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def mcp(request: Request) -> Response:
        allowed, key_id = gateway.key_id(request)
        if not allowed:
            return unauthorized()
        kind = request.path_params.get("kind", "all")
        endpoint = Endpoint(kind, request.path_params.get("name")) if kind != "all" else Endpoint("all")
        assert gateway.endpoint is not None
        return await gateway.endpoint.handle(request, endpoint, key_id)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        not_ready = [name for name, pool in gateway.pools.items() if not pool.ready]
        status = 503 if not_ready else 200
        return JSONResponse({"ready": not not_ready, "pools_not_ready": not_ready}, status_code=status)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def admin_pools(request: Request) -> Response:
        if not gateway.key_id(request)[0]:
            return unauthorized()
        return JSONResponse({name: pool.describe() for name, pool in gateway.pools.items()})

    methods = ["GET", "POST", "DELETE"]
    routes = [
        Route("/mcp", mcp, methods=methods),
        Route("/{kind:str}/{name:str}/mcp", mcp, methods=methods),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/admin/pools", admin_pools),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    return app


def _read_keys(raw: str) -> list[str]:
    return [key.strip() for key in raw.split(",") if key.strip()]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _connect_redis(url: str) -> Redis:
    try:
        redis = Redis.from_url(url)
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
