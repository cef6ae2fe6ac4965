"""Long-running tools (issue 10, item 4): progress keeps a call alive, a slow tool is never run twice, a timed-out
call says the tool may still be running, and an upstream that closes a call's SSE stream mid-call (SEP-1699
polling) is resumed with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import McpError

from tests.conformance.harness import conformance_server
from tests.conftest import (
    EVERYTHING_SERVER,
    executions,
    mcp_client,
    probe_http_server,
    probe_pool,
    running_gateway,
    text_of,
)

# Each try may be silent 0.5 s, the whole call 1.5 s; every kind of failure may be retried (for safe tools).
TIGHT = {"timeout": "1.5s", "retry_policy": {"per_try_timeout": "0.5s", "num_retries": 2,
                                             "retry_on": ["connect-failure", "reset", "timeout"]}}  # fmt: skip


@pytest.fixture(params=["stdio", "http"])
def probe_upstream(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """How the probe server is reached: a stdio replica, or a URL (its executions logged all the same)."""
    log = tmp_path / "exec.log"
    if request.param == "stdio":
        yield {}
        return
    monkeypatch.setenv("PROBE_EXEC_LOG", str(log))
    with probe_http_server() as url:
        yield {"url": url, "command": None}


def _pool(tmp_path: Path, upstream: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    pool = probe_pool(tmp_path / "exec.log", **overrides)
    if upstream:
        pool.pop("command"), pool.pop("env")
        pool["url"] = upstream["url"]
    return pool


async def _settle(log: Path, tool: str, seconds: float = 1.5) -> list[str]:
    await asyncio.sleep(seconds)  # long enough for a retry, had there been one, to have started
    return executions(log, tool)


async def test_a_call_that_reports_progress_outlives_its_timeouts_and_runs_once(
    tmp_path: Path, probe_upstream: dict[str, Any]
) -> None:
    log = tmp_path / "exec.log"
    pool = _pool(tmp_path, probe_upstream, replicas={"min": 2, "max": 2}, **TIGHT)
    async with running_gateway({"probe": pool}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            # 3 s: six times the per-try limit, twice the call's; the client asked for no progress itself
            result = await client.call_tool("long_job", {"seconds": 3.0, "every": 0.2})
            assert not result.isError
            assert text_of(result).startswith("done in 3.0s")
            seen: list[float] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(progress)

            # a read-only tool (safe to repeat, timeouts retried on this pool) is not repeated while it reports
            result = await client.call_tool("slow", {"seconds": 2.4, "steps": 8}, progress_callback=on_progress)
            assert not result.isError, text_of(result)
            assert len(seen) == 8  # relayed to the client that asked for them
    assert len(executions(log, "long_job")) == len(executions(log, "long_job_done")) == 1
    assert len(executions(log, "slow")) == len(executions(log, "slow_done")) == 1


async def test_a_silent_slow_call_times_out_with_a_clear_error_and_ran_once(
    tmp_path: Path, probe_upstream: dict[str, Any]
) -> None:
    log = tmp_path / "exec.log"
    pool = _pool(tmp_path, probe_upstream, replicas={"min": 2, "max": 2}, **TIGHT)
    async with running_gateway({"probe": pool}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            with pytest.raises(McpError) as raised:
                await client.call_tool("slow_write", {"seconds": 3.0})
    error = raised.value.error
    assert error.code == -32001, error
    assert "timed out" in error.message, error.message
    assert "may still be running" in error.message, error.message
    assert re.search(r"sent no result and no progress for 0\.[5-9]s .*per_try_timeout is 0\.5s", error.message)
    assert error.data["may_still_be_running"] is True
    assert error.data["retryable"] is False
    assert len(await _settle(log, "slow_write")) == 1


async def test_a_slow_read_only_tool_is_not_retried_by_default(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    pool = probe_pool(log, replicas={"min": 2, "max": 2}, timeout="3s", retry_policy={"per_try_timeout": "0.5s"})
    async with running_gateway({"probe": pool}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            with pytest.raises(McpError) as raised:  # one progress notification at the start, then silence
                await client.call_tool("slow", {"seconds": 2.0, "steps": 1})
    assert raised.value.error.code == -32001
    assert "per_try_timeout" in raised.value.error.message
    assert raised.value.error.data["retryable"] is True  # read-only: the client may repeat it
    assert len(await _settle(log, "slow")) == 1


async def test_a_slow_read_only_tool_is_retried_where_config_allows(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    pool = probe_pool(
        log,
        replicas={"min": 2, "max": 2},
        timeout="5s",
        retry_policy={"per_try_timeout": "0.5s", "num_retries": 1, "retry_on": ["timeout"]},
    )
    async with running_gateway({"probe": pool}) as (base, _):
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            with pytest.raises(McpError) as raised:
                await client.call_tool("slow", {"seconds": 2.0, "steps": 1})
    assert raised.value.error.code == -32001
    assert "2 tries" in raised.value.error.message
    ran = executions(log, "slow")
    assert len(ran) == 2
    assert ran[0] != ran[1]  # once on each replica


@pytest.mark.parametrize("endpoint", ["pool", "tier", "all", "dedicated"])
async def test_an_upstream_that_closes_the_stream_mid_call_is_resumed(endpoint: str) -> None:
    """SEP-1699: the conformance server's `test_reconnection` closes its SSE stream mid-call after a priming event
    (an id and `retry: 500`); the gateway reconnects with GET and `Last-Event-ID` and gets the result."""
    with conformance_server() as url:
        pool: dict[str, Any] = {"tier": "ai", "url": url, "timeout": "20s", "startup_timeout": "20s"}
        if endpoint == "dedicated":
            pool["session"] = "dedicated"
        async with running_gateway({"conf": pool}) as (base, _):
            path = {"tier": "/tiers/ai/mcp", "all": "/mcp"}.get(endpoint, "/pools/conf/mcp")
            name = "test_reconnection" if endpoint in ("pool", "dedicated") else "conf__test_reconnection"
            async with mcp_client(f"{base}{path}") as client:
                result = await client.call_tool(name, {})
                assert not result.isError, text_of(result)
                assert text_of(result) == "Reconnection test completed successfully"
                # the session still serves calls afterwards
                again = await client.call_tool(name, {})
                assert text_of(again) == "Reconnection test completed successfully"


async def test_the_reference_servers_long_running_operation_passes_through() -> None:
    """The issue's case, scaled down: server-everything's long-running operation (annotated read-only, progress at
    each step) outlives the pool's per-try limit and its timeout, with timeout retries allowed."""
    pool = {"tier": "ai", "command": EVERYTHING_SERVER, "startup_timeout": "30s", **TIGHT}
    async with running_gateway({"everything": pool}) as (base, _):
        async with mcp_client(f"{base}/pools/everything/mcp") as client:
            result = await client.call_tool("trigger-long-running-operation", {"duration": 3, "steps": 10})
    assert not result.isError
    assert "Long running operation completed" in text_of(result)
