"""The gateway's session state: evicted when expired or over the cap, counted, and a Redis outage survived."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestra.gateway.stores import MemorySessionStore, SessionRecord
from tests.conftest import ACCEPT, free_port, probe_pool, raw_session, running_gateway, tool_call


async def test_expired_sessions_are_evicted_and_the_oldest_go_past_the_cap() -> None:
    store = MemorySessionStore(ttl=0.2, max_sessions=3)
    for number in range(5):
        await store.save(SessionRecord(id=f"s{number}", endpoint="all", protocol_version="2025-06-18"))
    assert await store.count() == 3
    assert await store.load("s0") is None  # least recently used, evicted for the cap
    assert await store.load("s4") is not None
    await asyncio.sleep(0.3)
    assert await store.count() == 0  # expired records are not held past their TTL
    for number in range(1000):
        await store.save(SessionRecord(id=f"t{number}", endpoint="all", protocol_version="2025-06-18"))
    assert await store.count() == 3


async def test_admin_pools_counts_client_sessions(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
            sessions = [await raw_session(http, "/pools/probe/mcp") for _ in range(4)]
            assert (await http.get("/admin/pools")).json()["client_sessions"] == 4
            await http.delete("/pools/probe/mcp", headers={"mcp-session-id": sessions[0]})
            assert (await http.get("/admin/pools")).json()["client_sessions"] == 3


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed; run `make test`"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def test_a_redis_outage_gives_retryable_json_errors_and_recovers_by_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with redis_server(port) as first:
        settings = {"redis_url": f"redis://127.0.0.1:{port}/0"}
        async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, **settings) as (base, _):
            async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
                session = {"mcp-session-id": await raw_session(http, "/pools/probe/mcp")}
                first.terminate()
                first.wait(10)
                caplog.set_level(logging.WARNING, logger="orchestra.gateway")
                for _ in range(20):
                    down = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"key": "k"}), headers=session)
                    assert down.status_code == 503
                    assert down.headers["retry-after"] == "1"
                    error = down.json()["error"]
                    assert error["code"] == -32016
                    assert error["data"]["retryable"] is True
                    assert (await http.post("/pools/probe/mcp", json={"jsonrpc": "2.0"})).status_code == 400
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["state_store"] == "unreachable"
                outage_lines = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
                assert len(outage_lines) == 1
                assert not [r for r in caplog.records if r.exc_info]  # no tracebacks
                with redis_server(port):
                    deadline = time.monotonic() + 10
                    while (await http.get("/readyz")).status_code != 200:
                        assert time.monotonic() < deadline, "the gateway did not recover"
                        await asyncio.sleep(0.1)
                    # The new Redis has no sessions (no persistence here): the old one is gone, a new one works.
                    again = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"k": 1}), headers=session)
                    assert again.status_code == 404
                    fresh = {"mcp-session-id": await raw_session(http, "/pools/probe/mcp")}
                    ok = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"key": "k"}), headers=fresh)
                    assert ok.json()["result"]["content"][0]["text"].startswith("k@")
                assert [r for r in caplog.records if "Redis is reachable again" in r.getMessage()]
