"""`orchestra connect URL` as a stdio-only client (Claude Desktop, Cursor) runs it: a subprocess driven over stdio
by the `mcp` SDK's own client, through a real gateway to real upstream servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError

from tests.conftest import ROOT, executions, free_port, http_server, probe_pool, running_gateway, text_of

KEYS = {"ORCHESTRA_GATEWAY_KEYS": "key-one,key-two"}
CONFORMANCE_SERVER = [sys.executable, str(ROOT / "tests" / "upstreams" / "conformance_server.py")]


def connect_argv(url: str) -> list[str]:
    return [sys.executable, "-m", "orchestra", "connect", url]


@contextlib.asynccontextmanager
async def bridged(url: str, key: str | None, errlog: Path, **options: Any) -> AsyncIterator[ClientSession]:
    """An SDK client session with `orchestra connect url`, launched as a stdio server the way IDEs launch one."""
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_GATEWAY_KEY"}
    if key is not None:
        env["ORCHESTRA_GATEWAY_KEY"] = key
    argv = connect_argv(url)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=ROOT)
    with errlog.open("w") as stderr:
        async with (
            stdio_client(params, errlog=stderr) as (read, write),
            ClientSession(read, write, **options) as session,
        ):
            await session.initialize()
            yield session


async def run_connect(url: str, key: str | None, stdin: bytes = b"") -> tuple[int, bytes, str]:
    """Run the bridge with `stdin` as its whole input; its exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_GATEWAY_KEY"}
    if key is not None:
        env["ORCHESTRA_GATEWAY_KEY"] = key
    process = await asyncio.create_subprocess_exec(
        *connect_argv(url),
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out, err.decode()


async def test_tools_notifications_and_cancellation_pass_both_ways(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    logs: list[Any] = []
    progress: list[float] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with running_gateway({"probe": probe_pool(log)}, environ={**os.environ, **KEYS}) as (base, _):
        url = f"{base}/pools/probe/mcp"
        async with bridged(url, "key-two", tmp_path / "stderr.log", logging_callback=on_log) as client:
            assert "lookup" in {tool.name for tool in (await client.list_tools()).tools}
            assert text_of(await client.call_tool("lookup", {"key": "via-stdio"})).startswith("via-stdio@")

            await client.set_logging_level("info")  # server to client: progress and log notifications
            result = await client.call_tool("slow", {"seconds": 0.3, "steps": 3}, progress_callback=on_progress)
            assert text_of(result).startswith("slept 0.3@")
            assert progress == [0, 1, 2]
            assert logs == ["slow step 0", "slow step 1", "slow step 2"]

            request_id = client._request_id  # client to server: the cancellation of the next request
            call = asyncio.create_task(client.call_tool("slow", {"seconds": 2, "steps": 1}))
            while len(executions(log, "slow")) < 2:
                await asyncio.sleep(0.02)
            cancelled = types.CancelledNotification(params=types.CancelledNotificationParams(requestId=request_id))
            await client.send_notification(types.ClientNotification(cancelled))
            with pytest.raises(McpError, match="request cancelled"):
                await call
            await asyncio.sleep(2.5)
            assert executions(log, "slow_done") == [executions(log, "slow")[0]]  # only the first slow call ended
        assert (tmp_path / "stderr.log").read_text() == ""  # nothing to say when all goes well


def conformance_http_server() -> contextlib.AbstractContextManager[str]:
    return http_server(CONFORMANCE_SERVER)


async def test_server_initiated_requests_reach_the_stdio_client_and_its_answer_goes_back(tmp_path: Path) -> None:
    asked: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="scripted"
        )

    # Directly to a streamable HTTP server that samples: the bridge is the same for any endpoint.
    with conformance_http_server() as url:
        async with bridged(url, None, tmp_path / "stderr.log", sampling_callback=sampling) as client:
            result = await client.call_tool("test_sampling", {"prompt": "the answer?"})
            assert text_of(result) == "LLM response: forty-two"
    assert asked == ["the answer?"]


async def test_server_initiated_requests_reach_the_stdio_client_through_the_gateway(tmp_path: Path) -> None:
    asked: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="scripted"
        )

    # The same through the gateway's pool endpoint: the upstream asks the gateway, the gateway asks the client
    # whose call it is (on the call's stream), the bridge passes it on, and the answers go back the same way.
    pools = {"conformance": {"tier": "ai", "command": CONFORMANCE_SERVER, "startup_timeout": "20s", "timeout": "20s"}}
    async with running_gateway(pools) as (base, _):
        url = f"{base}/pools/conformance/mcp"
        async with bridged(url, None, tmp_path / "stderr.log", sampling_callback=sampling) as client:
            result = await client.call_tool("test_sampling", {"prompt": "the answer?"})
            assert text_of(result) == "LLM response: forty-two"
    assert asked == ["the answer?"]


async def test_stdin_closing_ends_the_bridge_cleanly_with_only_protocol_on_stdout(tmp_path: Path) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "pipe", "version": "1"}},
    }
    messages = [
        init,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "lookup", "arguments": {"key": "p"}}},
    ]
    stdin = b"".join(json.dumps(message).encode() + b"\n" for message in messages)
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, app):
        code, out, err = await run_connect(f"{base}/pools/probe/mcp", None, stdin)
        assert (code, err) == (0, "")
        replies = {reply["id"]: reply for reply in map(json.loads, out.decode().splitlines())}
        assert replies[1]["result"]["protocolVersion"] == "2025-06-18"
        assert replies[2]["result"]["content"][0]["text"].startswith("p@")
        assert await app.state.gateway.router.sessions.count() == 0  # the bridge ended its gateway session


async def test_a_refused_key_a_wrong_path_or_no_gateway_fail_at_once_with_one_clear_line(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, environ={**os.environ, **KEYS}) as (
        base,
        _,
    ):
        for key in ("wrong", None):
            code, out, err = await run_connect(f"{base}/pools/probe/mcp", key)
            assert (code, out) == (1, b"")
            assert "(HTTP 401): set ORCHESTRA_GATEWAY_KEY to one of the keys the gateway has" in err
            assert ("the key in $ORCHESTRA_GATEWAY_KEY" if key else "no key") in err
            assert "Traceback" not in err
        code, out, err = await run_connect(f"{base}/pools/nope/mcp", "key-one")
        assert (code, out) == (1, b"")
        assert "no MCP endpoint at" in err
        assert "no such endpoint /pools/nope/mcp" in err
    code, out, err = await run_connect(f"http://127.0.0.1:{free_port()}/mcp", "key-one")
    assert (code, out) == (1, b"")
    assert "cannot reach the gateway at http://127.0.0.1:" in err
    assert err.count("\n") == 1


async def test_a_session_the_gateway_ended_fails_what_is_pending_and_ends_the_bridge(tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.log"
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, app):
        async with bridged(f"{base}/pools/probe/mcp", None, errlog) as client:
            call = asyncio.create_task(client.call_tool("slow", {"seconds": 20, "steps": 1}))
            await asyncio.sleep(0.5)
            router = app.state.gateway.router
            for session_id in list(router.sessions._records):  # as when it expires, or the gateway restarts
                await router.end_session(session_id)
            for pending in (client.send_ping(), call):
                with pytest.raises(McpError, match="the gateway ended this session") as raised:
                    await pending
                assert raised.value.error.code == -32000
    assert errlog.read_text().count("the gateway ended this session (it expired, or the gateway restarted)") == 1
