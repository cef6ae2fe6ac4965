"""OpenRouter adapter: read-only views of the model catalogue and the account's credits.

Why: agents choosing or budgeting models need current prices and context windows, and the remaining credit;
OpenRouter exposes both over HTTP but ships no MCP server for them. Prices are converted from OpenRouter's
USD-per-token strings to USD per million tokens, the unit people compare.

API (https://openrouter.ai/docs/api-reference): base https://openrouter.ai/api/v1, `Authorization: Bearer <key>`.
  GET /models    the catalogue: data[] of {id, name, context_length, pricing{prompt, completion}, ...}
  GET /credits   data{total_credits, total_usage} (OpenRouter documents it as needing a management key)
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.connectors._http import Vendor, expect_object, request_json

OPENROUTER = Vendor(
    name="OpenRouter", base_url="https://openrouter.ai/api/v1", key_env="OPENROUTER_API_KEY", auth="bearer"
)
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)


def per_million(value: Any) -> float | None:
    """USD per million tokens from OpenRouter's USD-per-token string; None when unknown or variable (negative)."""
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    if price < 0:
        return None
    return round(price * 1_000_000, 6)


def _model(entry: dict[str, Any]) -> dict[str, Any]:
    pricing = entry.get("pricing") or {}
    return {
        "id": entry.get("id"),
        "name": entry.get("name"),
        "context_length": entry.get("context_length"),
        "pricing": {
            "prompt_per_million_usd": per_million(pricing.get("prompt")),
            "completion_per_million_usd": per_million(pricing.get("completion")),
        },
    }


async def list_models(
    search: Annotated[
        str | None, Field(description="Case-insensitive text to match in the model id or name, e.g. 'claude'.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="Most models to return (1-500).")] = 100,
) -> dict[str, Any]:
    """Models available on OpenRouter with their context length and prompt/completion prices in USD per million
    tokens, optionally filtered by a search text. total_matches counts every match, models holds at most limit."""
    needle = search.strip().lower() if search is not None else ""
    if search is not None and not needle:
        raise ValueError("search is empty; leave it out to list every model")
    body = expect_object(OPENROUTER, await request_json(OPENROUTER, "GET", "/models"))
    entries = [e for e in body.get("data") or [] if isinstance(e, dict)]
    if needle:
        entries = [e for e in entries if needle in f"{e.get('id', '')} {e.get('name', '')}".lower()]
    return {
        "total_matches": len(entries),
        "models": [_model(e) for e in entries[:limit]],
        "pricing_unit": "USD per 1M tokens",
        "source": "openrouter",
    }


async def get_credits() -> dict[str, Any]:
    """The OpenRouter account's total purchased credits, total usage and what remains, in USD."""
    body = expect_object(OPENROUTER, await request_json(OPENROUTER, "GET", "/credits"))
    data = body.get("data") or {}
    total, usage = data.get("total_credits"), data.get("total_usage")
    remaining = round(total - usage, 6) if isinstance(total, int | float) and isinstance(usage, int | float) else None
    return {
        "total_credits": total,
        "total_usage": usage,
        "remaining": remaining,
        "currency": "USD",
        "source": "openrouter",
    }


def build_server() -> FastMCP:
    """The OpenRouter MCP server; built on demand so importing this module touches no environment or network."""
    server = FastMCP("openrouter", instructions="OpenRouter model catalogue (prices, context windows) and credits.")
    server.add_tool(list_models, annotations=READ)
    server.add_tool(get_credits, annotations=READ)
    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
