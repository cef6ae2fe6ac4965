"""The gateway's endpoints, through real MCP clients, in front of real probe-server replicas."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import McpError

from tests.conftest import mcp_client, probe_pool, running_gateway, text_of

NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


async def test_pool_endpoint_lists_and_calls_tools_with_annotations_unchanged(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert {"lookup", "set_value", "append_record", "slow", "crash"} <= set(tools)
            assert tools["lookup"].annotations.readOnlyHint is True
            assert tools["set_value"].annotations.idempotentHint is True
            assert tools["append_record"].annotations.readOnlyHint is False
            result = await client.call_tool("lookup", {"key": "alpha"})
            assert not result.isError
            assert text_of(result).startswith("alpha@")


async def test_tier_and_all_endpoints_namespace_tools_by_pool(tmp_path: Path) -> None:
    pools = {
        "probe-a": probe_pool(tmp_path / "a.log", tier="bi"),
        "probe-b": probe_pool(tmp_path / "b.log", tier="bi"),
        "other": probe_pool(tmp_path / "c.log", tier="web"),
    }
    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/tiers/bi/mcp") as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            assert "probe-a__lookup" in names
            assert "probe-b__lookup" in names
            assert not any(name.startswith("other__") for name in names)
            assert all(NAME_RULE.match(name) for name in names)
            assert len(names) == len(set(names))
            result = await client.call_tool("probe-b__lookup", {"key": "k"})
            assert text_of(result).startswith("k@")
        async with mcp_client(f"{base}/mcp") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"probe-a__lookup", "probe-b__lookup", "other__lookup"} <= names
        assert (tmp_path / "b.log").read_text().startswith("lookup ")
        assert not (tmp_path / "a.log").exists()


async def test_unknown_tool_and_tool_errors_are_reported_not_crashed(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            failed = await client.call_tool("fail", {"message": "boom"})
            assert failed.isError
            assert "boom" in text_of(failed)
            with pytest.raises(McpError, match="unknown tool 'no_such_tool'"):
                await client.call_tool("no_such_tool", {})
            assert text_of(await client.call_tool("lookup", {"key": "still-fine"})).startswith("still-fine@")


async def test_operational_endpoints(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            await client.call_tool("lookup", {"key": "m"})
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["ready"] is True
            pools = (await http.get("/admin/pools")).json()["pools"]
            replica = pools["probe"]["replicas"][0]
            assert replica["state"] == "healthy"
            assert replica["pid"] > 0
            assert "lookup" in pools["probe"]["tools"]
            metrics = (await http.get("/metrics")).text
            assert 'mcp_request_duration_seconds_count{pool="probe",tool="lookup"} 1.0' in metrics
            assert 'mcp_server_health_status{pool="probe",replica="probe-0"} 1.0' in metrics
            assert (await http.post("/pools/nope/mcp", json={})).status_code == 404


async def test_malformed_requests_get_clear_errors(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            bad = await http.post("/pools/probe/mcp", content=b"{not json")
            assert bad.status_code == 400
            assert bad.json()["error"]["code"] == -32700
            batch = await http.post("/pools/probe/mcp", json=[{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
            assert "Mcp-Session-Id header is required" in batch.json()["error"]["message"]  # see test_gateway_headers
            no_session = await http.post("/pools/probe/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert no_session.status_code == 400
            unknown = await http.post(
                "/pools/probe/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"mcp-session-id": "feedface"},
            )
            assert unknown.status_code == 404
