"""One bad part must not take down the rest: scarce dedicated sessions, broken upstreams, rogue replies, logs.

Waits are bounded generously (a hang, not a slow run, is what fails them); speed lives in bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import McpError

from tests.conftest import (
    ACCEPT,
    ROOT,
    mcp_client,
    probe_http_server,
    probe_pool,
    raw_session,
    running_gateway,
    text_of,
    tool_call,
)
from tests.gateway_process import gateway_process

ROGUE = [sys.executable, str(ROOT / "tests" / "upstreams" / "rogue_server.py")]


def rogue_pool(mode: str, **overrides: Any) -> dict[str, Any]:
    return {"tier": "ai", "command": [*ROGUE, mode], "startup_timeout": "20s", "timeout": "20s", **overrides}


async def rpc_error(coroutine: Any) -> types.ErrorData:
    with pytest.raises(McpError) as raised:
        await coroutine
    return raised.value.error


async def test_a_full_dedicated_pool_says_so_at_once_and_idle_sessions_give_their_upstream_back(
    tmp_path: Path,
) -> None:
    pool = probe_pool(
        tmp_path / "exec.log", session="dedicated", replicas={"min": 1, "max": 2},
        dedicated={"idle_timeout": "3s", "wait": "0.5s"},
    )  # fmt: skip
    async with running_gateway({"probe": pool, "other": probe_pool(tmp_path / "other.log")}) as (base, app):
        url = f"{base}/pools/probe/mcp"
        async with mcp_client(url) as a, mcp_client(url) as b, mcp_client(url) as c:
            await a.call_tool("set_value", {"key": "k", "value": "a"})
            await b.call_tool("set_value", {"key": "k", "value": "b"})
            full = await rpc_error(asyncio.wait_for(c.call_tool("lookup", {"key": "c"}), 10))
            assert full.code == -32011, full.message
            assert "is full" in full.message
            assert full.data["retry_after"] == 0.5
            # Listing never waits on the busy pool, on any endpoint.
            for path in ("mcp", "tiers/ai/mcp"):
                async with mcp_client(f"{base}/{path}") as lister:
                    names = {t.name for t in (await asyncio.wait_for(lister.list_tools(), 10)).tools}
                    assert {"probe__lookup", "other__lookup"} <= names

            await asyncio.sleep(4.5)  # past idle_timeout (3s) and a sweep (every 1.5s)
            released = await rpc_error(a.call_tool("counter_value", {"key": "k"}))
            assert released.code == -32014
            assert "released after 3s without calls" in released.message
            assert text_of(await c.call_tool("lookup", {"key": "c"})).startswith("c@")  # c got a browser at last
            replicas = app.state.gateway.pools["probe"].describe()["replicas"]
            assert sum(1 for r in replicas if r["owner"] and not r["draining"]) == 1  # c's: a's and b's idled out


async def test_expired_client_sessions_release_their_dedicated_upstream(tmp_path: Path) -> None:
    pool = probe_pool(tmp_path / "exec.log", session="dedicated", replicas={"min": 1, "max": 3})
    async with running_gateway({"probe": pool}, session_ttl="1s") as (base, app):
        router = app.state.gateway.router
        async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
            session = await raw_session(http, "/pools/probe/mcp")
            call = tool_call("lookup", {"key": "x"})
            assert (
                await http.post("/pools/probe/mcp", json=call, headers={"mcp-session-id": session})
            ).status_code == 200
            assert router.bound_sessions == 1
            # Abandoned: no DELETE. After the TTL the session is gone, and so is the upstream process it owned.
            deadline = time.monotonic() + 15
            while router.bound_sessions and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert router.bound_sessions == 0
            gone = await http.post("/pools/probe/mcp", json=call, headers={"mcp-session-id": session})
            assert gone.status_code == 404
            assert (await app.state.gateway.describe())["client_sessions"] == 0


async def test_a_pool_that_dies_at_start_is_reported_and_the_others_serve(tmp_path: Path) -> None:
    pools = {"dead": rogue_pool("exit-at-start"), "probe": probe_pool(tmp_path / "exec.log")}
    started = time.monotonic()
    async with running_gateway(pools) as (base, app):
        assert time.monotonic() - started < 15  # not the 60 s startup_timeout of the dead pool
        described = (await app.state.gateway.describe())["pools"]
        assert described["dead"]["status"] == "broken"
        assert "exited with code 1: fatal: missing API key" in described["dead"]["reason"]
        assert described["probe"]["status"] == "ready"
        async with mcp_client(f"{base}/tiers/ai/mcp") as client:
            names = {t.name for t in (await asyncio.wait_for(client.list_tools(), 10)).tools}
            assert "probe__lookup" in names
            error = await rpc_error(asyncio.wait_for(client.call_tool("dead__echo", {}), 10))
            assert error.code == -32012
            assert "missing API key" in error.message
            assert text_of(await client.call_tool("probe__lookup", {"key": "ok"})).startswith("ok@")
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.get("/readyz")  # the broken pool is reported, and keeps no traffic from the others
            assert answer.status_code == 200
            assert answer.json() | {"state_store": None} == {
                "ready": True,
                "pools_not_ready": ["dead"],
                "pools_starting": [],
                "state_store": None,
            }


async def test_a_pool_that_goes_down_after_start_keeps_the_gateway_ready_for_the_others(tmp_path: Path) -> None:
    remote = contextlib.ExitStack()
    pools = {
        "remote": {"tier": "ai", "url": remote.enter_context(probe_http_server()),
                   "health_checks": {"interval": "0.5s", "timeout": "1s"}},
        "probe": probe_pool(tmp_path / "exec.log"),
    }  # fmt: skip
    async with running_gateway(pools) as (base, _), httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/readyz")).json()["pools_not_ready"] == []
        remote.close()  # the vendor's server goes away
        for _ in range(100):
            answer = await http.get("/readyz")
            if answer.json()["pools_not_ready"] == ["remote"]:
                break
            await asyncio.sleep(0.1)
        assert answer.status_code == 200, answer.text  # the probe pool still serves behind a load balancer
        assert answer.json()["pools_not_ready"] == ["remote"]


def test_an_endless_tools_cursor_neither_blocks_start_up_nor_sigterm(tmp_path: Path) -> None:
    with gateway_process(tmp_path, {"loop": rogue_pool("endless-cursor")}) as (base, process):
        pools = httpx.get(f"{base}/admin/pools").json()["pools"]
        assert pools["loop"]["tools"] == ["echo", "huge", "pid", "surrogate"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down


async def test_a_client_s_open_get_stream_does_not_hold_a_stopping_gateway(tmp_path: Path) -> None:
    with gateway_process(tmp_path, {"probe": probe_pool(tmp_path / "exec.log")}) as (base, process):
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            session = await raw_session(http, "/pools/probe/mcp")
            headers = {"accept": "text/event-stream", "mcp-session-id": session}
            async with http.stream("GET", "/pools/probe/mcp", headers=headers) as stream:
                assert stream.status_code == 200
                await anext(stream.aiter_bytes())  # the stream is open
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(process.wait, 20) in (0, -signal.SIGTERM)
                assert time.monotonic() - started < 15  # the grace period, not forever


async def test_oversized_and_malformed_upstream_replies_fail_only_their_call(tmp_path: Path) -> None:
    pools = {"rogue": rogue_pool("serve", max_message_size="1MiB")}
    async with running_gateway(pools) as (base, _):
        async with mcp_client(f"{base}/pools/rogue/mcp") as client:
            pid = text_of(await client.call_tool("pid", {}))
            for id_last in (False, True):
                error = await rpc_error(client.call_tool("huge", {"megabytes": 5, "id_last": id_last}))
                assert error.code == -32015
                assert "over the pool's max_message_size (1 MiB)" in error.message
            assert text_of(await client.call_tool("pid", {})) == pid  # the same replica kept serving
            assert text_of(await client.call_tool("huge", {"megabytes": 0.5})) == "x" * 2**19
            assert text_of(await client.call_tool("surrogate", {})) == "a\ufffdb"


async def test_bad_messages_get_json_rpc_errors_and_disturb_nothing(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
            headers = {
                "content-type": "application/json",
                "mcp-session-id": await raw_session(http, "/pools/probe/mcp"),
            }
            for bad_id in ({}, [1], 1.5, None, True):
                reply = await http.post(
                    "/pools/probe/mcp", json={"jsonrpc": "2.0", "id": bad_id, "method": "ping"}, headers=headers
                )
                assert reply.status_code == 400, bad_id
                assert reply.json()["error"]["code"] == -32600
            for number in (b"NaN", b"Infinity", b"-Infinity", b"1e999999"):  # not JSON: upstreams would never answer
                body = b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"lookup","arguments":{"key":'
                reply = await http.post("/pools/probe/mcp", content=body + number + b"}}}", headers=headers)
                assert reply.status_code == 400, number
                assert reply.json()["error"]["code"] == -32700
            for params in ({"requestId": [1]}, {"requestId": {}}, {}, None):
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
                assert (await http.post("/pools/probe/mcp", json=cancel, headers=headers)).status_code in (202, 400)
            big = await http.post("/pools/probe/mcp", content=b'{"x": "' + b"a" * (10 * 2**20) + b'"}', headers=headers)
            assert big.status_code == 413
            assert "max_request_bytes" in big.json()["error"]["message"]
            ok = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"key": "k"}), headers=headers)
            assert ok.json()["result"]["content"][0]["text"].startswith("k@")


@pytest.mark.parametrize("upstream", ["stdio", "http"])
async def test_log_messages_reach_only_the_session_whose_call_made_them(tmp_path: Path, upstream: str) -> None:
    received: dict[str, list[str]] = {"a": [], "b": []}

    def collector(name: str) -> Any:
        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            received[name].append(str(params.data))

        return on_log

    with contextlib.ExitStack() as stack:
        if upstream == "http":
            pool = {"tier": "ai", "url": stack.enter_context(probe_http_server())}
        else:
            pool = probe_pool(tmp_path / "exec.log")
        async with running_gateway({"probe": pool}) as (base, _):
            url = f"{base}/pools/probe/mcp"
            async with (
                mcp_client(url, logging_callback=collector("a")) as a,
                mcp_client(url, logging_callback=collector("b")) as b,
            ):
                await a.set_logging_level("info")
                await b.set_logging_level("info")
                await a.call_tool("slow", {"seconds": 0.3, "tag": "A-alone"})
                assert received["a"] == ["A-alone step 0", "A-alone step 1", "A-alone step 2"]
                await asyncio.gather(
                    a.call_tool("slow", {"seconds": 0.6, "tag": "A"}), b.call_tool("slow", {"seconds": 0.6, "tag": "B"})
                )
    assert not [m for m in received["a"] if m.startswith("B ")]
    assert not [m for m in received["b"] if m.startswith(("A ", "A-alone"))]
    if upstream == "http":  # each call's own response stream carries its logs: nothing is ambiguous
        assert [m for m in received["b"] if m.startswith("B ")] == ["B step 0", "B step 1", "B step 2"]


async def test_a_thread_whose_upstream_was_released_opens_a_new_session(tmp_path: Path) -> None:
    from orchestra.tools.sessions import ThreadTools, ToolCallError

    pool = probe_pool(tmp_path / "exec.log", session="dedicated", dedicated={"idle_timeout": "1s"})
    async with running_gateway({"probe": pool}) as (base, _):
        tools = ThreadTools(base)
        try:
            await tools.call("ai", "probe", "set_value", {"key": "k", "value": "v"})
            await asyncio.sleep(2.5)
            with pytest.raises(ToolCallError, match="released after 1s"):
                await tools.call("ai", "probe", "counter_value", {"key": "k"})
            fresh = await tools.call("ai", "probe", "counter_value", {"key": "k"})
            assert fresh.ok
            assert fresh.text == ""  # a new upstream session: the old state is gone, and said so above
            [note] = tools.reopened  # what the progress stream says about it
            assert note.startswith("the ai tools session was opened again (")
            assert "released after 1s" in note
        finally:
            await tools.aclose()


async def test_a_thread_whose_gateway_died_fails_its_call_instead_of_waiting(tmp_path: Path) -> None:
    from orchestra.tools.sessions import ThreadTools, ToolCallError

    with gateway_process(tmp_path, {"probe": probe_pool(tmp_path / "exec.log")}) as (base, process):
        tools = ThreadTools(base)
        try:
            assert (await tools.call("ai", "probe", "lookup", {"key": "k"})).ok
            process.kill()
            process.wait(10)
            with pytest.raises(ToolCallError):
                await asyncio.wait_for(tools.call("ai", "probe", "lookup", {"key": "k"}), 30)
            with pytest.raises(BaseExceptionGroup) as next_call:  # the next call says it cannot reach the gateway
                await asyncio.wait_for(tools.call("ai", "probe", "lookup", {"key": "k"}), 30)
            assert next_call.group_contains(httpx.ConnectError, depth=None)
        finally:
            await tools.aclose()


async def test_an_idle_thread_releases_its_sessions_and_says_so_when_it_comes_back(tmp_path: Path) -> None:
    from orchestra.tools.sessions import ToolSessions

    pool = probe_pool(tmp_path / "exec.log", session="dedicated", replicas={"min": 1, "max": 3})
    async with running_gateway({"probe": pool}) as (base, app):
        sessions = ToolSessions(base)
        try:
            await sessions.for_thread("t1").call("ai", "probe", "set_value", {"key": "k", "value": "v"})
            assert app.state.gateway.router.bound_sessions == 1
            assert await sessions.release_idle(idle_for=0) == 1
            deadline = time.monotonic() + 15  # the gateway lets the browser-like upstream go with the session
            while app.state.gateway.router.bound_sessions and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert app.state.gateway.router.bound_sessions == 0
            again = sessions.for_thread("t1")
            assert again.reopened == ["the thread's tool sessions were opened again (released after 0s without use)"]
            assert (await again.call("ai", "probe", "counter_value", {"key": "k"})).text == ""
        finally:
            await sessions.aclose()
