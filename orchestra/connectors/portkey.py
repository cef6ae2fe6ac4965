"""Portkey admin adapter: usage analytics, configs, and one write — replacing a config's body.

Why: Portkey is Orchestra's LLM gateway of record for spend and routing; agents that watch cost or tune routing
need its analytics and configs, and Portkey ships no MCP server for its Admin API. Costs come from Portkey in
cents and are returned in USD.

Admin API (https://portkey.ai/docs/api-reference/admin-api): base https://api.portkey.ai/v1, key in the
`x-portkey-api-key` header.
  GET /analytics/graphs/{requests,cost,tokens,latency}   summary + data_points for a time window
  GET /analytics/summary/cache                           cache hits, total requests, latency, speedup
  GET /analytics/groups/ai-models                        requests per model (paginated)
  GET /configs, GET /configs/{slug}, PUT /configs/{slug} {config}
Analytics need `time_of_generation_min/max` (ISO 8601 with offset) and take an optional `workspace_slug`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.connectors._http import Vendor, expect_object, make_client, request_json

PORTKEY = Vendor(
    name="Portkey",
    base_url="https://api.portkey.ai/v1",
    key_env="PORTKEY_API_KEY",
    auth="header",
    auth_name="x-portkey-api-key",
)
DEFAULT_WINDOW = timedelta(days=7)
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)
# Replacing a config changes how live traffic is routed, and the previous body is not kept by this tool; sending
# the same body twice leaves the same config (Portkey records a new version each time).
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True)

StartTime = Annotated[
    str | None, Field(description="Window start, ISO 8601 (e.g. 2025-01-01T00:00:00Z); default 7 days before end.")
]
EndTime = Annotated[str | None, Field(description="Window end, ISO 8601; default now.")]
Workspace = Annotated[
    str | None, Field(description="Workspace slug; with an organisation key, the default workspace when omitted.")
]


def _when(value: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} '{value}' is not an ISO 8601 date-time like 2025-01-31T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window(start_time: str | None, end_time: str | None, workspace_slug: str | None) -> dict[str, str]:
    """Portkey's analytics query parameters for a validated time window (default: the last 7 days)."""
    end = _when(end_time, "end_time") if end_time else datetime.now(UTC)
    start = _when(start_time, "start_time") if start_time else end - DEFAULT_WINDOW
    if start >= end:
        raise ValueError("start_time must be before end_time")
    params = {
        "time_of_generation_min": start.isoformat(timespec="seconds"),
        "time_of_generation_max": end.isoformat(timespec="seconds"),
    }
    if workspace_slug is not None:
        params["workspace_slug"] = _slug(workspace_slug, "workspace_slug")
    return params


def _slug(value: str, what: str) -> str:
    text = value.strip()
    if not _SLUG.match(text):
        raise ValueError(f"{what} '{value}' is not a Portkey slug (letters, digits, '.', '_' or '-')")
    return text


def _usd(cents: Any) -> float | None:
    return round(cents / 100, 6) if isinstance(cents, int | float) else None


async def get_usage_summary(
    start_time: StartTime = None, end_time: EndTime = None, workspace_slug: Workspace = None
) -> dict[str, Any]:
    """Requests, cost (USD), tokens and latency through Portkey over a time window, with a per-bucket series of
    requests and cost. Reads four Portkey analytics graphs."""
    params = window(start_time, end_time, workspace_slug)
    graphs: dict[str, dict[str, Any]] = {}
    async with make_client(PORTKEY) as client:
        for metric in ("requests", "cost", "tokens", "latency"):
            body = await request_json(PORTKEY, "GET", f"/analytics/graphs/{metric}", client=client, params=params)
            graphs[metric] = expect_object(PORTKEY, body)
    summary = {metric: graph.get("summary") or {} for metric, graph in graphs.items()}
    costs = {p.get("timestamp"): p for p in graphs["cost"].get("data_points") or [] if isinstance(p, dict)}
    series = [
        {
            "timestamp": point.get("timestamp"),
            "requests": point.get("total"),
            "cost_usd": _usd((costs.get(point.get("timestamp")) or {}).get("total")),
        }
        for point in graphs["requests"].get("data_points") or []
        if isinstance(point, dict)
    ]
    latency = summary["latency"]
    return {
        "start_time": params["time_of_generation_min"],
        "end_time": params["time_of_generation_max"],
        "requests": summary["requests"].get("total"),
        "cost_usd": _usd(summary["cost"].get("total")),
        "avg_cost_per_request_usd": _usd(summary["cost"].get("avg")),
        "tokens_total": summary["tokens"].get("total"),
        "avg_tokens_per_request": summary["tokens"].get("avg"),
        "latency_ms": {k: latency.get(k) for k in ("avg", "p50", "p90", "p99")},
        "series": series,
        "source": "portkey",
    }


async def get_cache_summary(
    start_time: StartTime = None, end_time: EndTime = None, workspace_slug: Workspace = None
) -> dict[str, Any]:
    """How well Portkey's cache served a time window: hits, total requests, hit rate, latency of a hit and the
    speedup over uncached requests."""
    params = window(start_time, end_time, workspace_slug)
    body = expect_object(PORTKEY, await request_json(PORTKEY, "GET", "/analytics/summary/cache", params=params))
    summary = body.get("summary") or {}
    hits, total = summary.get("hits"), summary.get("total_requests")
    rate = (
        round(hits / total, 4) if isinstance(hits, int | float) and isinstance(total, int | float) and total else None
    )
    return {
        "start_time": params["time_of_generation_min"],
        "end_time": params["time_of_generation_max"],
        "hits": hits,
        "total_requests": total,
        "hit_rate": rate,
        "avg_hit_latency_ms": summary.get("avg_latency"),
        "cache_speedup_pct": summary.get("cache_speedup"),
        "source": "portkey",
    }


async def get_model_usage(
    start_time: StartTime = None,
    end_time: EndTime = None,
    workspace_slug: Workspace = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Most models to return (1-100).")] = 20,
) -> dict[str, Any]:
    """Requests per AI model through Portkey over a time window, as Portkey groups them."""
    params: dict[str, Any] = {**window(start_time, end_time, workspace_slug), "current_page": 0, "page_size": limit}
    body = expect_object(PORTKEY, await request_json(PORTKEY, "GET", "/analytics/groups/ai-models", params=params))
    models = [
        {"model": row.get("ai_model"), "requests": _int(row.get("requests"))}
        for row in body.get("data") or []
        if isinstance(row, dict)
    ]
    return {
        "start_time": params["time_of_generation_min"],
        "end_time": params["time_of_generation_max"],
        "total_models": body.get("total"),
        "models": models,
        "source": "portkey",
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def list_configs() -> dict[str, Any]:
    """Portkey configs (routing, fallback, retry and cache profiles) visible to this key: slug, name, status."""
    body = expect_object(PORTKEY, await request_json(PORTKEY, "GET", "/configs"))
    return {
        "configs": [
            {
                "slug": c.get("slug"),
                "name": c.get("name"),
                "status": c.get("status"),
                "is_default": bool(c.get("is_default")),
                "workspace_id": c.get("workspace_id"),
                "last_updated_at": c.get("last_updated_at"),
            }
            for c in body.get("data") or []
            if isinstance(c, dict)
        ],
        "source": "portkey",
    }


ConfigId = Annotated[str, Field(description="The config's slug, e.g. pc-routing-1a2b3c (from list_configs).")]


async def get_config(config_id: ConfigId) -> dict[str, Any]:
    """One Portkey config's body (targets, strategy, retry, cache, ...), to read before changing it."""
    slug = _slug(config_id, "config_id")
    body = expect_object(PORTKEY, await request_json(PORTKEY, "GET", f"/configs/{slug}"))
    data = body.get("data") or {}
    return {"slug": slug, "config": data.get("config"), "source": "portkey"}


async def update_config(
    config_id: ConfigId,
    config: Annotated[
        dict[str, Any],
        Field(description="The complete new config body (replaces the current one), e.g. {'retry': {'attempts': 3}}."),
    ],
) -> dict[str, Any]:
    """Replace a Portkey config's body. This changes how live traffic using the config is routed; Portkey keeps
    a version history, this tool does not return the old body (read it with get_config first)."""
    slug = _slug(config_id, "config_id")
    if not config:
        raise ValueError("config is empty; pass the complete new config body")
    body = expect_object(PORTKEY, await request_json(PORTKEY, "PUT", f"/configs/{slug}", json_body={"config": config}))
    data = body.get("data") or {}
    return {
        "slug": slug,
        "updated": bool(body.get("success", True)),
        "version_id": data.get("version_id"),
        "source": "portkey",
    }


def build_server() -> FastMCP:
    """The Portkey MCP server; built on demand so importing this module touches no environment or network."""
    server = FastMCP("portkey", instructions="Portkey usage analytics and config management.")
    for tool in (get_usage_summary, get_cache_summary, get_model_usage, list_configs, get_config):
        server.add_tool(tool, annotations=READ)
    server.add_tool(update_config, annotations=WRITE)
    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
