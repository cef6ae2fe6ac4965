"""Failover: safe calls move to another replica, writes are never repeated, dead sessions say so."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import McpError

from tests.conftest import executions, mcp_client, probe_pool, running_gateway, text_of


async def wait_for_execution(exec_log: Path, tool: str, count: int = 1) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = executions(exec_log, tool)
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.02)
    raise AssertionError(f"{tool} never ran")


async def healthy_replicas(base: str, pool: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        replicas = (await http.get("/admin/pools")).json()["pools"][pool]["replicas"]
    return sum(1 for r in replicas if r["state"] == "healthy")


async def wait_healthy(base: str, pool: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while await healthy_replicas(base, pool) < count:
        assert time.monotonic() < deadline, f"{pool} never had {count} healthy replicas"
        await asyncio.sleep(0.1)


def three_replicas(exec_log: Path, **overrides: object) -> dict[str, object]:
    return probe_pool(exec_log, replicas={"min": 3, "max": 3, "restart_backoff": "0.1s"}, **overrides)


async def test_read_only_call_survives_its_replica_being_killed(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    async with running_gateway({"probe": three_replicas(log)}) as (base, _):
        await wait_healthy(base, "probe", 3)
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            call = asyncio.create_task(client.call_tool("slow", {"seconds": 1.5}))
            [victim] = await wait_for_execution(log, "slow")
            os.kill(int(victim), signal.SIGKILL)
            result = await call
            assert not result.isError
            survivor = text_of(result).rsplit("@", 1)[1]
            assert survivor != victim
            assert executions(log, "slow") == [victim, survivor]


async def test_write_call_is_not_repeated_when_its_replica_dies(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    async with running_gateway({"probe": three_replicas(log)}) as (base, _):
        await wait_healthy(base, "probe", 3)
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            call = asyncio.create_task(client.call_tool("slow_write", {"seconds": 1.5}))
            [victim] = await wait_for_execution(log, "slow_write")
            os.kill(int(victim), signal.SIGKILL)
            with pytest.raises(McpError, match="may or may not have run"):
                await call
            await asyncio.sleep(0.5)
            assert executions(log, "slow_write") == [victim]
            # The crash tool kills its own replica mid-call: same rule, and the pool recovers.
            with pytest.raises(McpError, match="may or may not have run"):
                await client.call_tool("crash", {})
            assert len(executions(log, "crash")) == 1
            await wait_healthy(base, "probe", 3)
            assert text_of(await client.call_tool("lookup", {"key": "after"})).startswith("after@")


async def test_reads_under_load_lose_nothing_while_replicas_are_killed_one_by_one(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    async with running_gateway({"probe": three_replicas(log)}) as (base, app):
        await wait_healthy(base, "probe", 3)
        failures: list[BaseException] = []
        done = 0
        stop = asyncio.Event()

        async def worker(index: int) -> None:
            nonlocal done
            async with mcp_client(f"{base}/pools/probe/mcp") as client:
                while not stop.is_set():
                    try:
                        result = await client.call_tool("lookup", {"key": f"w{index}"})
                        assert not result.isError, text_of(result)
                        done += 1
                    except Exception as exc:  # counted: the assertion below must see none
                        failures.append(exc)

        workers = [asyncio.create_task(worker(i)) for i in range(8)]
        pool = app.state.gateway.pools["probe"]
        killed = []
        for _ in range(3):
            await asyncio.sleep(0.7)
            victim = next(r for r in pool.replicas if r.state == "healthy" and r.pid not in killed)
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)
            await wait_healthy(base, "probe", 3)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*workers)
        assert failures == []
        assert done > 100
        assert len(set(executions(log, "lookup"))) >= 4  # restarted replicas served calls too


async def test_dedicated_sessions_keep_their_replica_and_lose_it_loudly(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    pool = probe_pool(log, session="dedicated", replicas={"min": 1, "max": 4})
    async with running_gateway({"probe": pool}) as (base, app):
        async with mcp_client(f"{base}/pools/probe/mcp") as alice, mcp_client(f"{base}/pools/probe/mcp") as bob:
            await alice.call_tool("set_value", {"key": "k", "value": "alice"})
            await bob.call_tool("set_value", {"key": "k", "value": "bob"})
            for _ in range(3):
                assert text_of(await alice.call_tool("counter_value", {"key": "k"})) == "alice"
                assert text_of(await bob.call_tool("counter_value", {"key": "k"})) == "bob"
            alice_pid, bob_pid = executions(log, "set_value")
            assert alice_pid != bob_pid
            os.kill(int(alice_pid), signal.SIGKILL)
            with pytest.raises(McpError, match="initialize a new session"):
                await asyncio.wait_for(alice.call_tool("counter_value", {"key": "k"}), 10)
            with pytest.raises(McpError):  # the session is gone: 404, the client must initialize again
                await asyncio.wait_for(alice.call_tool("counter_value", {"key": "k"}), 10)
            assert text_of(await bob.call_tool("counter_value", {"key": "k"})) == "bob"
        async with mcp_client(f"{base}/pools/probe/mcp") as carol:
            assert text_of(await carol.call_tool("counter_value", {"key": "k"})) == ""
        # Ended sessions retire their replicas; the pool keeps one idle spare.
        deadline = time.monotonic() + 10
        gateway_pool = app.state.gateway.pools["probe"]
        while any(r.owner for r in gateway_pool.replicas) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not any(r.owner for r in gateway_pool.replicas)
