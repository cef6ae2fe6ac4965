"""Scale: autoscaling of stdio pools, several gateway processes sharing Redis, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import McpError

from tests.conftest import (
    executions,
    free_port,
    mcp_client,
    probe_http_server,
    probe_pool,
    running_gateway,
    serving,
    text_of,
)
from tests.gateway_process import gateway_process
from tests.upstreams.round_robin_proxy import round_robin_proxy


def live_replicas(app: object) -> int:
    pool = app.state.gateway.pools["probe"]  # type: ignore[attr-defined]
    return sum(1 for r in pool.replicas if not r.finished and not r.draining)


async def test_stdio_pool_scales_out_under_load_and_retires_idle_replicas(tmp_path: Path) -> None:
    replicas = {"min": 1, "max": 3, "target_in_flight": 1, "idle_timeout": "1s"}
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log", replicas=replicas)}) as (base, app):
        assert live_replicas(app) == 1
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            calls = [asyncio.create_task(client.call_tool("slow", {"seconds": 2.5})) for _ in range(4)]
            peak = 0
            while not all(call.done() for call in calls):
                peak = max(peak, live_replicas(app))
                await asyncio.sleep(0.05)
            assert all(not call.result().isError for call in calls)
            assert peak == 3
            deadline = time.monotonic() + 15
            while live_replicas(app) > 1:
                assert time.monotonic() < deadline, "idle replicas were not retired"
                await asyncio.sleep(0.2)
            assert text_of(await client.call_tool("lookup", {"key": "after"})).startswith("after@")


async def test_two_gateway_processes_share_sessions_cache_and_limits_through_redis(
    tmp_path: Path, redis_url: str
) -> None:
    log = tmp_path / "exec.log"
    pools = {"probe": probe_pool(log, cache={"ttl": "60s"}, rate_limit={"requests": "8/minute"})}
    settings = {"redis_url": "${REDIS_URL}", "key_prefix": f"t{free_port()}"}
    env = {"REDIS_URL": redis_url}
    with (
        gateway_process(tmp_path, pools, env, **settings) as (gateway_a, _),
        gateway_process(tmp_path, pools, env, **settings) as (gateway_b, _),
    ):
        proxy = round_robin_proxy([gateway_a, gateway_b])
        async with serving(proxy) as base:
            async with mcp_client(f"{base}/pools/probe/mcp") as client:
                first = text_of(await client.call_tool("lookup", {"key": "shared"}))
                for _ in range(3):  # alternate gateways: the session and the cached result are shared
                    assert text_of(await client.call_tool("lookup", {"key": "shared"})) == first
                assert len(executions(log, "lookup")) == 1
                for i in range(4):
                    await client.call_tool("lookup", {"key": f"k{i}"})
                with pytest.raises(McpError, match="8/minute"):  # 8 calls in all, counted across both
                    await client.call_tool("lookup", {"key": "over"})
            assert set(proxy.state.served) == {gateway_a, gateway_b}


async def test_dedicated_http_session_moves_between_gateway_processes(tmp_path: Path, redis_url: str) -> None:
    with probe_http_server() as upstream:
        pools = {"probe": {"tier": "ai", "url": upstream, "session": "dedicated"}}
        settings = {"redis_url": redis_url, "key_prefix": f"t{free_port()}"}
        with (
            gateway_process(tmp_path, pools, **settings) as (gateway_a, _),
            gateway_process(tmp_path, pools, **settings) as (gateway_b, _),
        ):
            proxy = round_robin_proxy([gateway_a, gateway_b])
            async with serving(proxy) as base:
                async with mcp_client(f"{base}/pools/probe/mcp") as client:
                    await client.call_tool("set_value", {"key": "k", "value": "mine"})
                    for _ in range(4):  # served by both gateways, always the same upstream session
                        assert text_of(await client.call_tool("counter_value", {"key": "k"})) == "mine"
                async with mcp_client(f"{base}/pools/probe/mcp") as other:
                    assert text_of(await other.call_tool("counter_value", {"key": "k"})) == ""


def replica_pids(base: str) -> list[int]:
    pools = httpx.get(f"{base}/admin/pools").json()["pools"]
    return [r["pid"] for pool in pools.values() for r in pool["replicas"] if r["pid"]]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_gateway_stops_every_replica(tmp_path: Path, stop_signal: signal.Signals) -> None:
    everything = [str(Path(sys.prefix).parent / "node_modules" / ".bin" / "mcp-server-everything")]
    pools = {
        "probe": probe_pool(tmp_path / "exec.log", replicas={"min": 3, "max": 3}),
        "everything": {"tier": "ai", "command": everything, "replicas": {"min": 2, "max": 2}},
    }
    with gateway_process(tmp_path, pools) as (base, process):
        deadline = time.monotonic() + 30
        while len(pids := replica_pids(base)) < 5:
            assert time.monotonic() < deadline, f"only {len(pids)} replicas started"
            time.sleep(0.1)
        assert all(alive(pid) for pid in pids)
        process.send_signal(stop_signal)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status names it.
        assert process.wait(30) in (0, -stop_signal, 128 + stop_signal)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []
    # npx-style servers start children of their own: none of the process groups has a member left.
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
