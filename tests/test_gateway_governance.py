"""Cache, rate limits and API keys, in front of real probe replicas."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import McpError

from tests.conftest import executions, mcp_client, probe_pool, running_gateway, text_of


async def test_read_only_results_are_cached_and_errors_and_writes_are_not(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    pools = {"probe": probe_pool(log, cache={"ttl": "1s"})}
    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            first = text_of(await client.call_tool("lookup", {"key": "a"}))
            assert text_of(await client.call_tool("lookup", {"key": "a"})) == first
            await client.call_tool("lookup", {"key": "b"})  # other arguments, other entry
            assert len(executions(log, "lookup")) == 2
            for _ in range(2):
                assert (await client.call_tool("fail", {"message": "x"})).isError
                await client.call_tool("append_record", {"text": "t"})
            assert len(executions(log, "append_record")) == 2
            await asyncio.sleep(1.2)  # expired
            await client.call_tool("lookup", {"key": "a"})
            assert len(executions(log, "lookup")) == 3
        async with httpx.AsyncClient(base_url=base) as http:
            metrics = (await http.get("/metrics")).text
    assert 'mcp_cache_hits_total{pool="probe",tool="lookup"} 1.0' in metrics
    assert 'mcp_cache_misses_total{pool="probe",tool="lookup"} 3.0' in metrics


async def test_cache_keys_ignore_argument_order(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    pools = {"probe": probe_pool(log, cache={"ttl": "60s", "tools": ["set_value"]})}
    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            await client.call_tool("set_value", {"key": "k", "value": "v"})
            await client.call_tool("set_value", {"value": "v", "key": "k"})
            await client.call_tool("lookup", {"key": "not-listed"})
            await client.call_tool("lookup", {"key": "not-listed"})
    assert len(executions(log, "set_value")) == 1
    assert len(executions(log, "lookup")) == 2


async def test_pool_rate_limit_refuses_with_retry_after(tmp_path: Path) -> None:
    pools = {"probe": probe_pool(tmp_path / "exec.log", rate_limit="3/minute")}
    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            for _ in range(3):
                await client.call_tool("lookup", {"key": "x"})
            with pytest.raises(McpError) as refused:
                await client.call_tool("lookup", {"key": "x"})
    error = refused.value.error
    assert error.code == -32010
    assert error.data["retryable"] is True
    assert 15 < error.data["retry_after"] <= 20
    assert "3/minute" in error.message


async def test_api_keys_are_required_and_limited_per_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keys = "alpha-key-123,beta-key-456"
    environ = {**os.environ, "ORCHESTRA_GATEWAY_KEYS": keys}
    pools = {"probe": probe_pool(tmp_path / "exec.log", rate_limit={"per_key": "2/minute"})}
    async with running_gateway(pools, environ=environ) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.post("/pools/probe/mcp", json={})).status_code == 401
            wrong = await http.post("/pools/probe/mcp", json={}, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert (await http.get("/admin/pools")).status_code == 401
            assert (await http.get("/healthz")).status_code == 200
        url = f"{base}/pools/probe/mcp"
        async with mcp_client(url, {"authorization": "Bearer alpha-key-123"}) as alpha:
            async with mcp_client(url, {"authorization": "Bearer beta-key-456"}) as beta:
                for _ in range(2):
                    await alpha.call_tool("lookup", {"key": "a"})
                with pytest.raises(McpError, match="for this API key"):
                    await alpha.call_tool("lookup", {"key": "a"})
                assert text_of(await beta.call_tool("lookup", {"key": "b"})).startswith("b@")
    assert "alpha-key-123" not in caplog.text
    assert "beta-key-456" not in caplog.text


async def test_non_loopback_bind_without_keys_is_refused() -> None:
    from orchestra.gateway.app import Gateway, GatewayStartError
    from orchestra.gateway.config import GatewayConfig

    gateway = Gateway(GatewayConfig(host="0.0.0.0"), environ={})
    with pytest.raises(GatewayStartError, match="ORCHESTRA_GATEWAY_KEYS"):
        await gateway.start()
