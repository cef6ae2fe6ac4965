"""The Portkey admin adapter against recorded Admin API responses (respx), through FastMCP's in-memory client."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
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

from orchestra.connectors import portkey
from tests.connectors import support

BASE = "https://api.portkey.ai/v1"
KEY = "pk-test-key-6a7e90c1"
RECORDINGS = Path(__file__).parent / "recordings" / "portkey"
WINDOW = {"start_time": "2025-05-01T00:00:00Z", "end_time": "2025-05-04T00:00:00Z"}
WINDOW_PARAMS = {
    "time_of_generation_min": "2025-05-01T00:00:00+00:00",
    "time_of_generation_max": "2025-05-04T00:00:00+00:00",
}


def reply(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=json.loads((RECORDINGS / name).read_text()))


async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
    return await support.call_tool(portkey.build_server, tool, arguments)


def error_text(result: CallToolResult) -> str:
    return support.error_text(result, KEY)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTKEY_API_KEY", KEY)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def test_usage_summary_reads_four_graphs_and_converts_cents(api: respx.MockRouter) -> None:
    routes = {
        metric: api.get(f"/analytics/graphs/{metric}").mock(return_value=reply(f"graphs_{metric}.json"))
        for metric in ("requests", "cost", "tokens", "latency")
    }

    usage = (await call("get_usage_summary", {**WINDOW, "workspace_slug": "research-ws"})).structuredContent

    for route in routes.values():
        request = route.calls.last.request
        assert request.headers["x-portkey-api-key"] == KEY
        assert dict(request.url.params) == {**WINDOW_PARAMS, "workspace_slug": "research-ws"}
    assert usage["requests"] == 1842
    assert usage["cost_usd"] == 46.25
    assert usage["avg_cost_per_request_usd"] == 0.0251
    assert usage["tokens_total"] == 3912004
    assert usage["avg_tokens_per_request"] == 2124
    assert usage["latency_ms"] == {"avg": 1840, "p50": 1420, "p90": 3310, "p99": 7250}
    assert usage["series"][1] == {"timestamp": "2025-05-02T00:00:00.000Z", "requests": 701, "cost_usd": 18.02}
    assert (usage["start_time"], usage["end_time"]) == ("2025-05-01T00:00:00+00:00", "2025-05-04T00:00:00+00:00")
    assert usage["source"] == "portkey"


async def test_default_window_is_the_last_seven_days(api: respx.MockRouter) -> None:
    route = api.get("/analytics/summary/cache").mock(return_value=reply("summary_cache.json"))

    before = datetime.now(UTC).replace(microsecond=0)
    await call("get_cache_summary", {})

    params = dict(route.calls.last.request.url.params)
    end = datetime.fromisoformat(params["time_of_generation_max"])
    start = datetime.fromisoformat(params["time_of_generation_min"])
    assert end >= before
    assert end - start == timedelta(days=7)
    assert "workspace_slug" not in params


async def test_cache_summary(api: respx.MockRouter) -> None:
    api.get("/analytics/summary/cache").mock(return_value=reply("summary_cache.json"))

    cache = (await call("get_cache_summary", WINDOW)).structuredContent

    assert cache["hits"] == 368
    assert cache["total_requests"] == 1842
    assert cache["hit_rate"] == 0.1998
    assert cache["avg_hit_latency_ms"] == 42
    assert cache["cache_speedup_pct"] == 97


async def test_model_usage_pages_and_parses_counts(api: respx.MockRouter) -> None:
    route = api.get("/analytics/groups/ai-models").mock(return_value=reply("groups_ai_models.json"))

    usage = (await call("get_model_usage", {**WINDOW, "limit": 3})).structuredContent

    assert dict(route.calls.last.request.url.params) == {**WINDOW_PARAMS, "current_page": "0", "page_size": "3"}
    assert usage["total_models"] == 3
    assert usage["models"][0] == {"model": "nw-large-2", "requests": 1104}


async def test_list_and_get_configs(api: respx.MockRouter) -> None:
    api.get("/configs").mock(return_value=reply("configs_list.json"))
    one = api.get("/configs/pc-resear-7f3a21").mock(return_value=reply("config_get.json"))

    listed = (await call("list_configs", {})).structuredContent
    config = (await call("get_config", {"config_id": "pc-resear-7f3a21"})).structuredContent

    assert listed["configs"][0] == {
        "slug": "pc-resear-7f3a21",
        "name": "Research fallback",
        "status": "active",
        "is_default": True,
        "workspace_id": "8c1f0b7e-3a55-4d0e-9b5e-2f6c1d9a7b31",
        "last_updated_at": "2025-04-23T23:36:06.000Z",
    }
    assert one.calls.last.request.headers["x-portkey-api-key"] == KEY
    assert config["config"]["strategy"] == {"mode": "fallback"}
    assert config["config"]["targets"][0]["provider"] == "northwind-ai"


async def test_update_config_puts_the_new_body(api: respx.MockRouter) -> None:
    route = api.put("/configs/pc-resear-7f3a21").mock(return_value=reply("config_update.json"))
    new_body = {"retry": {"attempts": 3}, "strategy": {"mode": "loadbalance"}}

    updated = (await call("update_config", {"config_id": "pc-resear-7f3a21", "config": new_body})).structuredContent

    request = route.calls.last.request
    assert request.method == "PUT"
    assert request.headers["x-portkey-api-key"] == KEY
    assert json.loads(request.content) == {"config": new_body}
    assert updated == {
        "slug": "pc-resear-7f3a21",
        "updated": True,
        "version_id": "abe447e2-f6aa-4229-93b7-8ee3183b6667",
        "source": "portkey",
    }


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_cache_summary", {"start_time": "last tuesday"}, "is not an ISO 8601 date-time"),
        ("get_cache_summary", {"start_time": "2025-05-04T00:00:00Z", "end_time": "2025-05-01T00:00:00Z"}, "before"),
        ("get_usage_summary", {"workspace_slug": "../admin"}, "is not a Portkey slug"),
        ("get_config", {"config_id": "pc/../../users"}, "is not a Portkey slug"),
        ("update_config", {"config_id": "pc-resear-7f3a21", "config": {}}, "config is empty"),
        ("get_model_usage", {"limit": 1000}, "less than or equal to 100"),
    ],
)
async def test_bad_input_is_a_tool_error(api: respx.MockRouter, tool: str, arguments: dict, expected: str) -> None:
    assert expected in error_text(await call(tool, arguments))
    assert not api.calls


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply("error_401.json", 401), "the API key in $PORTKEY_API_KEY was refused by Portkey (HTTP 401)"),
        (reply("error_403.json", 403), "Portkey said: You do not have enough permissions"),
        (httpx.Response(429, headers={"Retry-After": "3"}), "rate limited by Portkey, retry after 3 s"),
        (httpx.Response(500, json={"success": False}), "Portkey failed (HTTP 500); retry later"),
        (httpx.ConnectError("refused"), "cannot reach Portkey"),
    ],
)
async def test_vendor_failures_become_clear_tool_errors(api: respx.MockRouter, response: Any, expected: str) -> None:
    route = api.get("/configs")
    route.mock(side_effect=response) if isinstance(response, Exception) else route.mock(return_value=response)

    assert expected in error_text(await call("list_configs", {}))


async def test_missing_key_names_the_variable(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTKEY_API_KEY")

    assert "PORTKEY_API_KEY is not set" in error_text(
        await call("update_config", {"config_id": "pc-x", "config": {"a": 1}})
    )
    assert not api.calls


async def test_annotations_mark_the_one_write() -> None:
    async with create_connected_server_and_client_session(portkey.build_server()._mcp_server) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == {
        "get_usage_summary",
        "get_cache_summary",
        "get_model_usage",
        "list_configs",
        "get_config",
        "update_config",
    }
    write = tools.pop("update_config").annotations
    assert (write.readOnlyHint, write.destructiveHint, write.idempotentHint, write.openWorldHint) == (
        False,
        True,
        True,
        True,
    )
    for tool in tools.values():
        assert (tool.annotations.readOnlyHint, tool.annotations.openWorldHint) == (True, True)
        assert all(prop.get("description") for prop in tool.inputSchema["properties"].values())


async def test_runs_as_a_stdio_server() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "orchestra.connectors.portkey"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}

    assert "update_config" in names
    assert len(names) == 6
