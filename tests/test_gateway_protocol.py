"""MCP semantics through the gateway: progress, logs, cancellation, third-party servers, LangChain clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_mcp_adapters.client import MultiServerMCPClient
from mcp import types

from tests.conftest import (
    EVERYTHING_SERVER,
    executions,
    free_port,
    mcp_client,
    probe_pool,
    running_gateway,
    text_of,
)


async def test_progress_and_logs_pass_through(tmp_path: Path) -> None:
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp", logging_callback=on_log) as client:
            await client.set_logging_level("info")
            result = await client.call_tool("slow", {"seconds": 0.3, "steps": 3}, progress_callback=on_progress)
            assert text_of(result).startswith("slept 0.3@")
    assert [p[0] for p in progress] == [0, 1, 2]
    assert progress[0][1] == 3
    assert progress[1][2] == "step 1"
    assert [log.data for log in logs] == ["slow step 0", "slow step 1", "slow step 2"]


async def test_everything_server_tools_and_progress_through_the_gateway() -> None:
    pools = {"everything": {"tier": "ai", "command": EVERYTHING_SERVER, "replicas": {"min": 2, "max": 2}}}
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/pools/everything/mcp") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert len(tools) >= 10
            assert tools["echo"].annotations.readOnlyHint is True
            assert text_of(await client.call_tool("echo", {"message": "hi"})) == "Echo: hi"
            assert "42" in text_of(await client.call_tool("get-sum", {"a": 40, "b": 2}))
            result = await client.call_tool(
                "trigger-long-running-operation", {"duration": 1, "steps": 4}, progress_callback=on_progress
            )
            assert not result.isError
    assert progress == [1, 2, 3, 4]


async def test_cancellation_reaches_the_upstream(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with running_gateway({"probe": probe_pool(log)}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            init = await http.post(
                "/pools/probe/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                },
            )
            session = {"mcp-session-id": init.headers["mcp-session-id"]}
            call = asyncio.create_task(
                http.post(
                    "/pools/probe/mcp",
                    headers=session,
                    json={
                        "jsonrpc": "2.0",
                        "id": 7,
                        "method": "tools/call",
                        "params": {"name": "slow", "arguments": {"seconds": 1.5}},
                    },
                )
            )
            while not executions(log, "slow"):
                await asyncio.sleep(0.02)
            cancel = await http.post(
                "/pools/probe/mcp",
                headers=session,
                json={"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}},
            )
            assert cancel.status_code == 202
            reply = (await call).json()
            assert reply["error"]["message"] == "request cancelled"
            await asyncio.sleep(2)
            assert executions(log, "slow_done") == []  # the upstream handler was cancelled too


async def test_langchain_mcp_adapters_client_uses_tier_endpoint(tmp_path: Path) -> None:
    pools = {"probe": probe_pool(tmp_path / "exec.log", tier="bi")}
    async with running_gateway(pools) as (base, _):
        client = MultiServerMCPClient({"bi": {"transport": "streamable_http", "url": f"{base}/tiers/bi/mcp"}})
        tools = {tool.name: tool for tool in await client.get_tools()}
        assert "probe__lookup" in tools
        output = await tools["probe__lookup"].ainvoke({"key": "lc"})
        assert "lc@" in str(output)


@contextlib.contextmanager
def everything_http_servers(count: int) -> Iterator[list[str]]:
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [*EVERYTHING_SERVER, "streamableHttp"],
            env={**os.environ, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 20
        for port in ports:
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "everything server did not start"
                    time.sleep(0.1)
        yield [f"http://127.0.0.1:{port}/mcp" for port in ports]
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


@pytest.mark.parametrize("session", ["shared", "dedicated"])
async def test_http_upstream_pool_balances_over_urls(session: str) -> None:
    with everything_http_servers(2) as urls:
        pools = {"everything": {"tier": "ai", "urls": urls, "session": session}}
        async with running_gateway(pools) as (base, app):
            clients = [mcp_client(f"{base}/pools/everything/mcp") for _ in range(4)]
            async with contextlib.AsyncExitStack() as stack:
                sessions = [await stack.enter_async_context(c) for c in clients]
                results = await asyncio.gather(
                    *(s.call_tool("echo", {"message": f"m{i}"}) for i, s in enumerate(sessions))
                )
                assert [text_of(r) for r in results] == [f"Echo: m{i}" for i in range(4)]
                replicas = app.state.gateway.pools["everything"].replicas
                assert [r.state for r in replicas] == ["healthy", "healthy"]
                if session == "dedicated":
                    assert sorted(r.sessions for r in replicas) == [2, 2]
