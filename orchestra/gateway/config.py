"""The `gateway:` section of `config/orchestra.yaml`, in Envoy's vocabulary.

Every field carries its type, default and meaning here; `docs/gateway.md` is generated from these models
(`orchestra config docs`), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestra.core.envref import env_references
from orchestra.core.units import Duration, RateLimit

Tier = Literal["web", "design", "bi", "ai"]
TIERS: tuple[Tier, ...] = ("web", "design", "bi", "ai")
POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthChecks(_Section):
    """Active MCP `ping` checks of every replica."""

    interval: Duration = Field(10.0, description="Time between two checks of one replica.")
    timeout: Duration = Field(5.0, description="A ping slower than this counts as a failed check.")
    unhealthy_threshold: int = Field(2, ge=1, description="Failed checks in a row that take a replica out.")
    healthy_threshold: int = Field(1, ge=1, description="Passed checks in a row that bring it back.")


class OutlierDetection(_Section):
    """Passive ejection of replicas whose calls keep failing at the transport level."""

    consecutive_5xx: int = Field(
        5,
        ge=1,
        description="Transport failures in a row (crash, dropped connection, timeout; not tool errors) "
        "that eject a replica.",
    )
    base_ejection_time: Duration = Field(
        30.0, description="First ejection length; each further ejection of the same replica adds this again."
    )
    max_ejection_percent: int = Field(
        50, ge=0, le=100, description="At most this share of a pool's replicas is ejected at once."
    )


class CircuitBreakers(_Section):
    """Limits that shed load early instead of queueing without end."""

    max_requests: int = Field(1024, ge=1, description="Calls in flight in the pool at once.")
    max_pending_requests: int = Field(1024, ge=0, description="Calls waiting for a replica to become available.")
    max_retries: int = Field(16, ge=0, description="Retries in flight in the pool at once.")


RetryOn = Literal["connect-failure", "reset", "timeout"]


class RetryPolicy(_Section):
    """Failover of a call to another replica. Only calls that are safe to repeat are ever retried."""

    retry_on: list[RetryOn] = Field(
        default_factory=lambda: ["connect-failure", "reset", "timeout"],
        description="Failures that may be retried: `connect-failure` (replica not reachable, the call "
        "was never sent: retried for every tool), `reset` (replica died or dropped the connection "
        "mid-call), `timeout` (the try outlived `per_try_timeout`).",
    )
    num_retries: int = Field(2, ge=0, le=10, description="Retries after the first try.")
    per_try_timeout: Duration | None = Field(
        None, description="Limit of one try; unset means the pool's whole `timeout`."
    )
    base_interval: Duration = Field(0.025, description="Back-off before the first retry (jittered).")
    max_interval: Duration = Field(0.25, description="Back-off ceiling (jittered exponential).")
    safe_tools: list[str] = Field(
        default_factory=list,
        description="Tools that are safe to repeat though their annotations do not say so "
        "(`readOnlyHint` or `idempotentHint` already make a tool safe).",
    )


class Cache(_Section):
    """Cache of read-only tool results, per pool, tool and canonical arguments."""

    ttl: Duration = Field(0.0, description="How long a result stays fresh; `0` turns the cache off.")
    tools: list[str] | None = Field(
        None,
        description="Tools whose results are cached; unset means every tool annotated `readOnlyHint: true`.",
    )
    max_entries: int = Field(10_000, ge=1, description="In-process cache size (Redis uses `ttl` alone).")


class RateLimits(_Section):
    """Token buckets; shared by every gateway process when `redis_url` is set."""

    requests: RateLimit | None = Field(None, description="Calls to the pool from all clients, e.g. `1000/minute`.")
    per_key: RateLimit | None = Field(None, description="Calls to the pool from one API key, e.g. `100/minute`.")
    burst: int | None = Field(None, ge=1, description="Bucket size; unset means one period's worth of calls.")


class Replicas(_Section):
    """How many upstream replicas a pool runs; stdio pools autoscale between `min` and `max`."""

    min: int = Field(1, ge=0, le=64, description="Replicas kept running (for `dedicated`: idle spares).")
    max: int = Field(1, ge=1, le=64, description="Upper bound of replicas.")
    target_in_flight: int = Field(
        8, ge=1, description="Calls in flight per replica above which the pool adds a replica."
    )
    idle_timeout: Duration = Field(60.0, description="A replica above `min` idle this long is retired.")
    restart_backoff: Duration = Field(
        0.5, description="First delay before restarting a crashed replica (doubles, jittered, up to 30s)."
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"replicas.min ({self.min}) is above replicas.max ({self.max}); raise max or lower min")
        return self


class PoolConfig(_Section):
    """One pool of MCP server replicas behind `/pools/<name>/mcp`."""

    tier: Tier = Field(description="Tier the pool belongs to: web, design, bi or ai.")
    description: str = Field("", description="What the pool is for, shown in `/admin/pools`.")
    command: list[str] | None = Field(
        None,
        description="Stdio upstream: the command the gateway runs for each replica (list or shell-style "
        "string). `${VAR}` references are expanded from the environment.",
    )
    url: str | None = Field(None, description="Streamable HTTP upstream: one URL.")
    urls: list[str] = Field(default_factory=list, description="Streamable HTTP upstream: one URL per replica.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers for URL upstreams, e.g. `Authorization: Bearer ${TOKEN}`.",
    )
    cwd: str | None = Field(None, description="Working directory of stdio replicas.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment of stdio replicas; values may use `${VAR}`."
    )
    enabled: bool = Field(
        True,
        description="Switch the pool off. A pool whose settings reference an unset `${VAR}` (without a "
        "`:-default`) is off too, and the gateway says once which variable to set.",
    )
    replaces: list[str] = Field(
        default_factory=list,
        description="Pools this one stands in for: while this pool is on, they are off. A vendor's real "
        "connector names the embedded sandbox pool it replaces, so setting its key switches over.",
    )
    replicas: Replicas = Field(default_factory=Replicas, description="Replica counts and autoscaling.")
    session: Literal["shared", "dedicated"] = Field(
        "shared",
        description="`shared`: client sessions are multiplexed over the replicas' upstream sessions. "
        "`dedicated`: each client session owns one upstream session for its whole life (a browser).",
    )
    lb_policy: Literal["LEAST_REQUEST", "ROUND_ROBIN", "RANDOM"] = Field(
        "LEAST_REQUEST", description="How a replica is picked for a call or a new dedicated session."
    )
    timeout: Duration = Field(60.0, description="Overall limit of one call, every retry included.")
    startup_timeout: Duration = Field(60.0, description="Limit for a replica to start and answer `initialize`.")
    health_checks: HealthChecks = Field(default_factory=HealthChecks, description="Active health checks.")
    outlier_detection: OutlierDetection = Field(default_factory=OutlierDetection, description="Ejection.")
    circuit_breakers: CircuitBreakers = Field(default_factory=CircuitBreakers, description="Load shedding.")
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy, description="Failover of safe calls.")
    cache: Cache = Field(default_factory=Cache, description="Result cache of read-only tools.")
    rate_limit: RateLimits = Field(default_factory=RateLimits, description="Token-bucket rate limits.")

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: object) -> object:
        return shlex.split(value) if isinstance(value, str) else value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate_shorthand(cls, value: object) -> object:
        return {"requests": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_upstream(self) -> PoolConfig:
        kinds = [bool(self.command), bool(self.url), bool(self.urls)]
        if sum(kinds) != 1:
            raise ValueError("a pool needs exactly one upstream: `command` (stdio), `url` or `urls` (HTTP)")
        if self.session == "dedicated" and self.cache.ttl > 0:
            raise ValueError(
                "`cache` cannot be used with `session: dedicated`: results depend on the session's state; "
                "remove `cache.ttl` or use `session: shared`"
            )
        return self

    @property
    def upstream_urls(self) -> list[str]:
        return [self.url] if self.url else list(self.urls)

    @property
    def is_stdio(self) -> bool:
        return bool(self.command)

    def missing_env(self, environ: dict[str, str]) -> list[str]:
        """Environment variables this pool references that are unset and have no default."""
        texts = [
            *(self.command or []),
            self.url or "",
            *self.urls,
            *self.headers.values(),
            *self.env.values(),
        ]
        return sorted({name for text in texts for name in env_references(text, environ)})


PoolName = Annotated[str, Field(pattern=POOL_NAME.pattern)]


class AuthConfig(_Section):
    """Bearer API keys for clients of the gateway."""

    keys_env: str = Field(
        "ORCHESTRA_GATEWAY_KEYS",
        description="Environment variable holding the accepted keys, comma-separated. Keys are never "
        "read from this file and never logged.",
    )
    allow_anonymous: bool = Field(
        False,
        description="Serve without keys when the variable is unset. Always allowed on a loopback address; "
        "elsewhere the gateway refuses to start without keys unless this is true.",
    )


class GatewayConfig(_Section):
    """The pooled MCP gateway."""

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless told otherwise.")
    port: int = Field(8700, ge=0, le=65535, description="Port to bind.")
    redis_url: str | None = Field(
        None,
        description="Redis for sessions, cache and rate limits shared by every gateway process, e.g. "
        "`${REDIS_URL:-}`; unset keeps them in process.",
    )
    key_prefix: str = Field("orchestra", description="Prefix of every Redis key the gateway writes.")
    session_ttl: Duration = Field(3600.0, description="A client session idle this long is forgotten.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Client authentication.")
    pools: dict[PoolName, PoolConfig] = Field(default_factory=dict, description="The pools, by name.")

    @model_validator(mode="after")
    def _replaced_pools_exist(self) -> GatewayConfig:
        for name, pool in self.pools.items():
            unknown = sorted(set(pool.replaces) - set(self.pools))
            if unknown:
                raise ValueError(f"pool {name!r} replaces unknown pool(s) {unknown}; name pools defined under pools:")
        return self

    def active_pools(self, environ: dict[str, str]) -> tuple[dict[str, PoolConfig], dict[str, str]]:
        """The pools to run, and for every other pool why it is off."""
        off: dict[str, str] = {}
        for name, pool in self.pools.items():
            missing = pool.missing_env(environ)
            if not pool.enabled:
                off[name] = "enabled: false"
            elif missing:
                off[name] = f"set {', '.join(missing)} to turn it on"
        for name, pool in self.pools.items():
            if name not in off:
                for replaced in pool.replaces:
                    off.setdefault(replaced, f"pool {name} replaces it")
        return {n: p for n, p in self.pools.items() if n not in off}, off
