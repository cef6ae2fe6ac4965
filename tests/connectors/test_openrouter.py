"""The OpenRouter adapter against recorded API responses (respx), through FastMCP's in-memory client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult

from orchestra.connectors import openrouter
from tests.connectors import support

BASE = "https://openrouter.ai/api/v1"
KEY = "sk-or-v1-test-8d2c55e1"
RECORDINGS = Path(__file__).parent / "recordings" / "openrouter"


def reply(name: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=json.loads((RECORDINGS / name).read_text()), **kwargs)


async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
    return await support.call_tool(openrouter.build_server, tool, arguments)


def error_text(result: CallToolResult) -> str:
    return support.error_text(result, KEY)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def test_list_models_converts_prices_to_usd_per_million(api: respx.MockRouter) -> None:
    route = api.get("/models").mock(return_value=reply("models.json"))

    listed = (await call("list_models", {})).structuredContent

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert listed["total_matches"] == 4
    assert listed["pricing_unit"] == "USD per 1M tokens"
    by_id = {model["id"]: model for model in listed["models"]}
    assert by_id["northwind-ai/nw-large-2"] == {
        "id": "northwind-ai/nw-large-2",
        "name": "Northwind AI: NW Large 2",
        "context_length": 200000,
        "pricing": {"prompt_per_million_usd": 3.0, "completion_per_million_usd": 15.0},
    }
    assert by_id["northwind-ai/nw-mini"]["pricing"] == {
        "prompt_per_million_usd": 0.15,
        "completion_per_million_usd": 0.6,
    }
    assert by_id["aurora-labs/aurora-7b:free"]["pricing"]["prompt_per_million_usd"] == 0.0
    # A router's price depends on the model it picks; OpenRouter marks that with -1.
    assert by_id["router/auto-select"]["pricing"] == {
        "prompt_per_million_usd": None,
        "completion_per_million_usd": None,
    }
    assert listed["source"] == "openrouter"


async def test_list_models_search_and_limit(api: respx.MockRouter) -> None:
    api.get("/models").mock(return_value=reply("models.json"))

    northwind = (await call("list_models", {"search": "NORTHWIND", "limit": 1})).structuredContent
    nothing = (await call("list_models", {"search": "no-such-model"})).structuredContent

    assert northwind["total_matches"] == 2
    assert [model["id"] for model in northwind["models"]] == ["northwind-ai/nw-large-2"]
    assert nothing == {"total_matches": 0, "models": [], "pricing_unit": "USD per 1M tokens", "source": "openrouter"}


async def test_get_credits(api: respx.MockRouter) -> None:
    route = api.get("/credits").mock(return_value=reply("credits.json"))

    credits = (await call("get_credits", {})).structuredContent

    assert route.calls.last.request.headers["Authorization"] == f"Bearer {KEY}"
    assert credits == {
        "total_credits": 100.5,
        "total_usage": 25.75,
        "remaining": 74.75,
        "currency": "USD",
        "source": "openrouter",
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [({"search": "  "}, "search is empty"), ({"limit": 0}, "greater than or equal to 1")],
)
async def test_bad_input_is_a_tool_error(api: respx.MockRouter, arguments: dict, expected: str) -> None:
    assert expected in error_text(await call("list_models", arguments))
    assert not api.calls


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply("error_401.json", 401), "the API key in $OPENROUTER_API_KEY was refused by OpenRouter (HTTP 401)"),
        (reply("error_429.json", 429, headers={"Retry-After": "60"}), "rate limited by OpenRouter, retry after 60 s"),
        (reply("error_429.json", 429), "rate limited by OpenRouter; retry later"),
        (httpx.Response(500, json={"error": {"code": 500, "message": "Internal"}}), "OpenRouter failed (HTTP 500)"),
        (httpx.ConnectError("dns failure"), "cannot reach OpenRouter"),
    ],
)
async def test_vendor_failures_become_clear_tool_errors(api: respx.MockRouter, response: Any, expected: str) -> None:
    route = api.get("/credits")
    route.mock(side_effect=response) if isinstance(response, Exception) else route.mock(return_value=response)

    assert expected in error_text(await call("get_credits", {}))


async def test_missing_key_names_the_variable(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")

    assert "OPENROUTER_API_KEY is not set" in error_text(await call("list_models", {}))
    assert not api.calls


async def test_tools_are_read_only_and_described() -> None:
    async with create_connected_server_and_client_session(openrouter.build_server()._mcp_server) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == {"list_models", "get_credits"}
    for tool in tools.values():
        assert (tool.annotations.readOnlyHint, tool.annotations.openWorldHint) == (True, True)
        assert all(prop.get("description") for prop in tool.inputSchema["properties"].values())


async def test_runs_as_a_stdio_server() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "orchestra.connectors.openrouter"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}

    assert names == {"list_models", "get_credits"}
