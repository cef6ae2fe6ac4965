"""The `gateway:` section of `config/orchestra.yaml`, in Envoy's vocabulary.

Every field carries its type, default and meaning here; `docs/gateway.md` is generated from these models
(`orchestra config docs`), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestra.core.envref import env_references
from orchestra.core.units import ByteSize, Duration, RateLimit

Tier = Literal["web", "design", "bi", "ai"]
TIERS: tuple[Tier, ...] = ("web", "design", "bi", "ai")
POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
EGRESS_PROXY_VAR = "ORCHESTRA_EGRESS_PROXY"
EGRESS_PROXY_REF = f"${{{EGRESS_PROXY_VAR}}}"
GATEWAY_ORIGIN_VAR = "ORCHESTRA_GATEWAY_ORIGIN"


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
    """Failover to another replica, only of calls safe to repeat; of a slow call only where `retry_on` allows."""

    retry_on: list[RetryOn] = Field(
        default_factory=lambda: ["connect-failure", "reset"],
        description="Failures that may be retried: `connect-failure` (replica not reachable, the call "
        "was never sent: retried for every tool), `reset` (replica died or dropped the connection "
        "mid-call: retried for safe tools), `timeout` (the try sent no result and no progress for "
        "`per_try_timeout`: retried for safe tools only when listed here, so a slow tool is not run twice).",
    )
    num_retries: int = Field(2, ge=0, le=10, description="Retries after the first try.")
    per_try_timeout: Duration | None = Field(
        None,
        description="Limit of one try without a result or progress (each progress notification resets it); "
        "unset means the pool's `timeout`.",
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


class ToolFilter(_Section):
    """Which upstream tools a pool exposes; applied to listing and to calling alike."""

    allow: list[str] | None = Field(
        None,
        description="Only these tools are listed and callable; unset allows every tool the upstream offers "
        "(minus `deny`). An allow list also keeps tools an upstream adds later out until they are reviewed.",
    )
    deny: list[str] = Field(
        default_factory=list, description="Tools never listed or callable, e.g. ones that run code or read files."
    )

    def permits(self, tool: str) -> bool:
        return tool not in self.deny and (self.allow is None or tool in self.allow)


class PromptFilter(_Section):
    """Which upstream prompts a pool exposes: listing, `prompts/get` and completion of their arguments alike."""

    allow: list[str] | None = Field(
        None,
        description="Only these prompts are listed and usable; unset allows every prompt the upstream offers "
        "(minus `deny`), except on a pool with a `tools.allow` list, whose prompts stay hidden until listed here.",
    )
    deny: list[str] = Field(default_factory=list, description="Prompts never listed or usable.")

    def permits(self, name: str, *, reviewed_pool: bool) -> bool:
        if name in self.deny:
            return False
        return name in self.allow if self.allow is not None else not reviewed_pool


_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}([/?#]|$)")


class ResourceFilter(_Section):
    """Which upstream resources a pool exposes, by URI glob (`*` matches anything, `/` included), e.g.
    `file:///srv/reports/*`: applied to listing, templates, reading, subscribing and completion alike. While
    either list is set, URIs with `.` or `..` segments (plain or %-encoded) are refused, so a path cannot
    climb out of an allowed folder."""

    allow: list[str] | None = Field(
        None,
        description="Only resources whose URI (or URI template) matches one of these globs are listed and "
        "readable; unset allows every resource the upstream offers (minus `deny`), except on a pool with a "
        "`tools.allow` list, whose resources stay hidden until listed here.",
    )
    deny: list[str] = Field(
        default_factory=list, description="URI globs never listed or readable, e.g. `file:///etc/*`."
    )

    def permits(self, uri: str, *, reviewed_pool: bool) -> bool:
        if self.allow is None and not self.deny:
            return not reviewed_pool
        if _DOT_SEGMENT.search(unquote(unquote(uri)).replace("\\", "/")):
            return False
        if any(fnmatch.fnmatchcase(uri, pattern) for pattern in self.deny):
            return False
        if self.allow is None:
            return not reviewed_pool
        return any(fnmatch.fnmatchcase(uri, pattern) for pattern in self.allow)


class Egress(_Section):
    """Where a pool's upstream may send requests (fetch servers, browsers).

    The gateway runs an HTTP proxy for the pool at `${ORCHESTRA_EGRESS_PROXY}`, which the pool's command must
    use (e.g. `--proxy-server ${ORCHESTRA_EGRESS_PROXY}`): every request and every redirect leaves through it, and
    it checks the destination after DNS resolution, then connects to the address it checked. URL arguments of
    the pool's tools are checked by the same rules before a call is sent.
    """

    allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins (`scheme://host:port`) allowed even on private or loopback addresses, e.g. "
        "`${ORCHESTRA_SANDBOX_URL}`. Matched exactly; the gateway's own address is never allowed.",
    )
    allow_private: bool = Field(
        False,
        description="Allow private, loopback, link-local and other non-public addresses for every origin. "
        "Leave off: list the internal origins a pool needs in `allow_origins` instead.",
    )
    allow_public: bool = Field(True, description="Allow public internet addresses (http and https).")
    url_arguments: list[str] = Field(
        default_factory=lambda: ["url"],
        description="Tool argument names holding URLs; their values must be http(s) URLs that this policy "
        "allows, or the call is refused before it reaches the upstream.",
    )
    max_connections: int = Field(256, ge=1, description="Connections through the pool's proxy at once.")
    connect_timeout: Duration = Field(10.0, description="Limit for resolving and connecting to a destination.")


class DedicatedLimits(_Section):
    """Limits of `session: dedicated` pools, whose upstream sessions (a browser each) are scarce."""

    idle_timeout: Duration = Field(
        600.0,
        description="A client session's upstream session unused this long is released (its browser closes); "
        "the client's next call gets -32014 and must initialize a new session.",
    )
    wait: Duration = Field(
        5.0,
        description="How long a new client session waits for a free upstream session when the pool is at "
        "`replicas.max`, before it is told -32011 'pool full, retry after'.",
    )


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
    cwd: str | None = Field(
        None, description="Working directory of stdio replicas (`${VAR}` expanded, created if missing)."
    )
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
    stateful: list[str] = Field(
        default_factory=list,
        description="Upstream tools that change state kept in the caller's upstream session (e.g. "
        "`toggle-simulated-logging`). On a `shared` URL pool, a client session's first call of one of them gives "
        "that client session an upstream session of its own, used for all its later requests to the pool (as "
        "`dedicated`); other client sessions stay on the shared ones. Not for stdio `shared` pools.",
    )
    lb_policy: Literal["LEAST_REQUEST", "ROUND_ROBIN", "RANDOM"] = Field(
        "LEAST_REQUEST", description="How a replica is picked for a call or a new dedicated session."
    )
    timeout: Duration = Field(
        60.0,
        description="Limit of one call without a result or progress, every retry included; each progress "
        "notification resets it, so a call that reports progress runs as long as it needs.",
    )
    startup_timeout: Duration = Field(60.0, description="Limit for a replica to start and answer `initialize`.")
    health_checks: HealthChecks = Field(default_factory=HealthChecks, description="Active health checks.")
    outlier_detection: OutlierDetection = Field(default_factory=OutlierDetection, description="Ejection.")
    circuit_breakers: CircuitBreakers = Field(default_factory=CircuitBreakers, description="Load shedding.")
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy, description="Failover of safe calls.")
    cache: Cache = Field(default_factory=Cache, description="Result cache of read-only tools.")
    rate_limit: RateLimits = Field(default_factory=RateLimits, description="Token-bucket rate limits.")
    tools: ToolFilter = Field(default_factory=ToolFilter, description="Which upstream tools are exposed.")
    prompts: PromptFilter = Field(default_factory=PromptFilter, description="Which upstream prompts are exposed.")
    resources: ResourceFilter = Field(
        default_factory=ResourceFilter, description="Which upstream resources are exposed."
    )
    egress: Egress | None = Field(
        None, description="Outbound request policy, enforced by a proxy of the gateway's; unset means none."
    )
    dedicated: DedicatedLimits = Field(
        default_factory=DedicatedLimits, description="Idle release and waiting of dedicated sessions."
    )
    max_message_size: ByteSize = Field(
        32 * 2**20,
        description="Largest message accepted from an upstream; a larger reply fails its call (the replica "
        "keeps serving).",
    )

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
        if self.egress is not None and not any(EGRESS_PROXY_REF in text for text in self._upstream_texts()):
            raise ValueError(
                f"`egress` is enforced by a proxy the upstream must use: reference {EGRESS_PROXY_REF} in "
                "`command`, `env` or `headers` (e.g. `--proxy-server ${ORCHESTRA_EGRESS_PROXY}`)"
            )
        if self.session == "dedicated" and self.cache.ttl > 0:
            raise ValueError(
                "`cache` cannot be used with `session: dedicated`: results depend on the session's state; "
                "remove `cache.ttl` or use `session: shared`"
            )
        if self.stateful and self.session == "shared" and self.is_stdio:
            raise ValueError(
                "`stateful` needs a URL upstream (each client session gets its own upstream session there); for a "
                "stdio pool whose tools keep per-session state use `session: dedicated`"
            )
        return self

    @property
    def reviewed(self) -> bool:
        """A pool with a `tools.allow` list exposes only what was reviewed: its prompts and resources too."""
        return self.tools.allow is not None

    def permits_prompt(self, name: str) -> bool:
        return self.prompts.permits(name, reviewed_pool=self.reviewed)

    def permits_resource(self, uri: str) -> bool:
        return self.resources.permits(uri, reviewed_pool=self.reviewed)

    @property
    def upstream_urls(self) -> list[str]:
        return [self.url] if self.url else list(self.urls)

    @property
    def is_stdio(self) -> bool:
        return bool(self.command)

    def _upstream_texts(self) -> list[str]:
        return [*(self.command or []), self.url or "", *self.urls, *self.headers.values(), *self.env.values()]

    def missing_env(self, environ: dict[str, str]) -> list[str]:
        """Environment variables this pool references that are unset and have no default (the gateway sets
        `ORCHESTRA_GATEWAY_ORIGIN`, and `ORCHESTRA_EGRESS_PROXY` for a pool with `egress`, itself)."""
        provided = {GATEWAY_ORIGIN_VAR: "set by the gateway"}
        if self.egress is not None:
            provided[EGRESS_PROXY_VAR] = "set by the gateway"
        texts = self._upstream_texts()
        return sorted({name for text in texts for name in env_references(text, {**environ, **provided})})


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


class HttpAccess(_Section):
    """Which HTTP requests reach the MCP endpoints and `/admin/pools`: MCP's DNS-rebinding rules and size limits."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="`Host` header values accepted (`name` or `name:port`) besides the loopback names "
        "`127.0.0.1`, `localhost` and `[::1]`; `*` accepts any Host. Others get 403. On a wildcard bind "
        "(`0.0.0.0`, `::`) the gateway refuses to start while this is empty: list the names clients use.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="`Origin` values (`scheme://host[:port]`) of web pages allowed to call the gateway from a "
        "browser. Requests without an Origin header (MCP clients outside browsers) are not affected; any "
        "other Origin, `null` included, gets 403.",
    )
    max_request_bytes: ByteSize = Field(4 * 2**20, description="Largest request body accepted; larger gets 413.")


class MetricsAccess(_Section):
    """Who may read `/metrics`, which names every pool, replica and tool."""

    require_key: bool = Field(True, description="Ask for an API key, like `/admin/pools` (when keys are set).")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve `/metrics` only on this separate port (same address, no key), e.g. for a "
        "Prometheus scraper inside the cluster; the main port then answers 404 there.",
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
    http: HttpAccess = Field(default_factory=HttpAccess, description="Host and Origin checks, request limits.")
    metrics: MetricsAccess = Field(default_factory=MetricsAccess, description="Access to `/metrics`.")
    max_sessions: int = Field(
        10_000,
        ge=1,
        description="Client sessions kept at once by one gateway process (in-process store); the least "
        "recently used is evicted first.",
    )
    startup_wait: Duration = Field(
        15.0,
        description="How long start-up waits for pools to become ready before serving; a pool not ready by "
        "then keeps starting in the background and is reported in `/admin/pools`.",
    )
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
