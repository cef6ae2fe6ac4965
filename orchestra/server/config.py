"""The `server:` section of `config/orchestra.yaml`: `orchestra serve`, the LangGraph-API-compatible server.

Every field carries its type, default and meaning here; `docs/server.md` is generated from these models
(`orchestra config docs`). Nothing here imports the web framework, so loading settings stays cheap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestra.core.units import ByteSize, Duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerAuth(_Section):
    """API keys, each bound to a tenant."""

    keys_env: str = Field(
        "ORCHESTRA_SERVER_KEYS",
        description="Environment variable holding the accepted keys, comma-separated, each `tenant=key` or a "
        "bare `key` (its tenant is then `key-` and a hash prefix of the key). Clients send one as `X-Api-Key` "
        "or `Authorization: Bearer`. Keys are never read from this file and never logged.",
    )
    allow_anonymous: bool = Field(
        False,
        description="Serve without keys when the variable is unset (every client is then tenant `local`). "
        "Always allowed on a loopback address; elsewhere the server refuses to start without keys unless "
        "this is true.",
    )


class ServerHttp(_Section):
    """Which HTTP requests are served: Host and Origin checks against DNS rebinding, and size limits."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="`Host` header values accepted (`name` or `name:port`) besides `127.0.0.1`, `localhost`, "
        "`[::1]` and the bound address; `*` accepts any Host. Others get 403. On a wildcard bind (`0.0.0.0`, "
        "`::`) the server refuses to start while this is empty: list the names clients use.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="`Origin` values (`scheme://host[:port]`) of other web pages allowed to call the server from "
        "a browser (e.g. an agent-chat-ui on another port). Pages served by the server itself (same origin) "
        "and clients without an Origin header are always allowed; any other Origin gets 403.",
    )
    max_request_bytes: ByteSize = Field(16 * 2**20, description="Largest request body accepted; larger gets 413.")


class ServerRuns(_Section):
    """How runs execute and how long their event streams can be replayed."""

    max_concurrent: int = Field(
        32,
        ge=1,
        description="Runs executing at once in this process, across all threads; later runs wait as `pending` "
        "(the `orchestra_server_queue_depth` metric). With `REDIS_URL` this is the process's share: every server "
        "process on the Redis takes up to this many runs from the shared queue.",
    )
    timeout: Duration = Field(3600.0, description="A run still going after this long is stopped with status `timeout`.")
    stream_heartbeat: Duration = Field(
        5.0,
        description="A streaming response sends a comment (SSE) or whitespace (`/wait`, `/join`) this often "
        "while the run is quiet, so proxies keep the connection open.",
    )
    event_retention: Duration = Field(
        600.0,
        description="How long a finished run's events stay in memory (in Redis with `REDIS_URL`), replayable with "
        "`Last-Event-ID`.",
    )
    tool_session_idle: Duration = Field(
        900.0,
        description="A thread's tool sessions (its browser, its MCP sessions) are closed after this long without "
        "a tool call, never during one; the thread's next call opens them again.",
    )
    max_retained_streams: int = Field(
        1000,
        ge=1,
        description="Finished runs whose events are kept in memory at most; the oldest are forgotten first "
        "(without `REDIS_URL`; in Redis they go after `event_retention`).",
    )
    lost_after: Duration = Field(
        5.0,
        ge=1.0,
        description="With `REDIS_URL`: a server process that has sent no heartbeat for a run this long (rounded up "
        "to whole seconds) is taken for lost, and another process resumes the run from its last checkpoint, once. "
        "Heartbeats go every fifth of it; keep it above the longest time a process's event loop may stall.",
    )


class ServerMetrics(_Section):
    """Who may read `/metrics`, which names graphs and counts runs per status."""

    require_key: bool = Field(True, description="Ask for an API key, like every other route (when keys are set).")


class ServerConfig(_Section):
    """`orchestra serve`: the LangGraph API subset that `langgraph-sdk` and agent-chat-ui use."""

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless told otherwise.")
    port: int = Field(8800, ge=0, le=65535, description="Port to bind.")
    key_prefix: str = Field(
        "orchestra:server",
        description="Prefix of the Redis keys holding thread and run records (when `REDIS_URL` is set).",
    )
    auth: ServerAuth = Field(default_factory=ServerAuth, description="Client authentication and tenants.")
    http: ServerHttp = Field(default_factory=ServerHttp, description="Host and Origin checks, request limits.")
    runs: ServerRuns = Field(default_factory=ServerRuns, description="Run execution and event replay.")
    metrics: ServerMetrics = Field(default_factory=ServerMetrics, description="Access to `/metrics`.")
