"""Balancing, active health checks and outlier ejection, with replicas frozen by SIGSTOP."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from pathlib import Path

from tests.conftest import executions, mcp_client, probe_pool, running_gateway, text_of
from tests.test_gateway_failover import wait_healthy


def pid_of(result: object) -> str:
    return text_of(result).rsplit("@", 1)[1]


async def test_round_robin_spreads_calls_evenly(tmp_path: Path) -> None:
    pool = probe_pool(tmp_path / "exec.log", replicas={"min": 3, "max": 3}, lb_policy="ROUND_ROBIN")
    async with running_gateway({"probe": pool}) as (base, _):
        await wait_healthy(base, "probe", 3)
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            pids = [pid_of(await client.call_tool("lookup", {"key": str(i)})) for i in range(9)]
    assert sorted(collections.Counter(pids).values()) == [3, 3, 3]


async def test_least_request_avoids_the_busy_replica(tmp_path: Path) -> None:
    pool = probe_pool(tmp_path / "exec.log", replicas={"min": 2, "max": 2})
    async with running_gateway({"probe": pool}) as (base, _):
        await wait_healthy(base, "probe", 2)
        async with mcp_client(f"{base}/pools/probe/mcp") as client:
            busy = asyncio.create_task(client.call_tool("slow", {"seconds": 1.5}))
            while not executions(tmp_path / "exec.log", "slow"):
                await asyncio.sleep(0.02)
            [busy_pid] = executions(tmp_path / "exec.log", "slow")
            quick = [pid_of(await client.call_tool("lookup", {"key": str(i)})) for i in range(5)]
            await busy
    assert busy_pid not in quick


async def test_a_frozen_replica_leaves_rotation_and_comes_back(tmp_path: Path) -> None:
    pool = probe_pool(
        tmp_path / "exec.log",
        replicas={"min": 2, "max": 2},
        health_checks={"interval": "0.2s", "timeout": "0.3s", "unhealthy_threshold": 2, "healthy_threshold": 1},
        retry_policy={"per_try_timeout": "0.5s"},
        outlier_detection={"consecutive_5xx": 1, "base_ejection_time": "2s", "max_ejection_percent": 50},
    )
    async with running_gateway({"probe": pool}) as (base, app):
        await wait_healthy(base, "probe", 2)
        replicas = app.state.gateway.pools["probe"].replicas
        frozen = replicas[0]
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 10
            while frozen.state != "unhealthy":
                assert time.monotonic() < deadline, "the frozen replica was never marked unhealthy"
                await asyncio.sleep(0.05)
            async with mcp_client(f"{base}/pools/probe/mcp") as client:
                pids = {pid_of(await client.call_tool("lookup", {"key": str(i)})) for i in range(6)}
            assert pids == {str(replicas[1].pid)}
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while frozen.state != "healthy":
            assert time.monotonic() < deadline, "the thawed replica never came back"
            await asyncio.sleep(0.05)


async def test_replica_that_keeps_timing_out_is_ejected_and_reads_fail_over(tmp_path: Path) -> None:
    pool = probe_pool(
        tmp_path / "exec.log",
        replicas={"min": 2, "max": 2},
        lb_policy="ROUND_ROBIN",
        health_checks={"interval": "30s"},  # only the calls themselves notice the frozen replica
        retry_policy={"per_try_timeout": "0.4s", "num_retries": 2, "retry_on": ["timeout"]},  # retry slow reads
        outlier_detection={"consecutive_5xx": 2, "base_ejection_time": "30s", "max_ejection_percent": 50},
    )
    async with running_gateway({"probe": pool}) as (base, app):
        await wait_healthy(base, "probe", 2)
        replicas = app.state.gateway.pools["probe"].replicas
        frozen, other = replicas
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            async with mcp_client(f"{base}/pools/probe/mcp") as client:
                for i in range(6):  # every read succeeds: timeouts on the frozen replica are retried elsewhere
                    assert pid_of(await client.call_tool("lookup", {"key": str(i)})) == str(other.pid)
            assert frozen.ejections == 1
            assert frozen.describe(time.monotonic())["state"] == "ejected"
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
