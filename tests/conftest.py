"""Shared fixtures: real gateways, real MCP servers and real Redis, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette

from orchestra.core.serving import serve_in_loop
from orchestra.gateway.app import create_app
from orchestra.gateway.config import GatewayConfig

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING_SERVER = [str(ROOT / "node_modules" / ".bin" / "mcp-server-everything")]
PROBE_SERVER = [sys.executable, str(ROOT / "tests" / "upstreams" / "probe_server.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe_pool(exec_log: Path, **overrides: Any) -> dict[str, Any]:
    """A pool of probe-server replicas whose executions are counted in `exec_log`."""
    pool: dict[str, Any] = {
        "tier": "ai",
        "command": PROBE_SERVER,
        "env": {"PROBE_EXEC_LOG": str(exec_log)},
        "health_checks": {"interval": "0.5s", "timeout": "2s"},
        "startup_timeout": "20s",
        "timeout": "20s",
    }
    pool.update(overrides)
    return pool


def executions(exec_log: Path, tool: str) -> list[str]:
    """PIDs of the replicas that ran `tool`, one per execution."""
    if not exec_log.exists():
        return []
    return [line.split()[1] for line in exec_log.read_text().splitlines() if line.split()[0] == tool]


@contextlib.asynccontextmanager
async def serving(app: Starlette, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn in this event loop, on a (free) loopback port; yields its base URL."""
    async with serve_in_loop(app, port) as url:
        yield url


@contextlib.asynccontextmanager
async def running_gateway(
    pools: dict[str, Any], environ: dict[str, str] | None = None, **settings: Any
) -> AsyncIterator[tuple[str, Starlette]]:
    """A gateway app served in this event loop; yields its base URL and the app. The gateway knows its real port,
    as `orchestra gateway` does, so its egress proxies keep that port out of reach."""
    settings.setdefault("port", free_port())
    config = GatewayConfig.model_validate({"pools": pools, **settings})
    app = create_app(config, environ if environ is not None else dict(os.environ))
    async with serving(app, port=config.port) as base:
        yield base, app


@contextlib.asynccontextmanager
async def mcp_client(
    url: str, headers: dict[str, str] | None = None, **session_options: Any
) -> AsyncIterator[ClientSession]:
    """A real MCP client session over streamable HTTP."""
    async with (
        httpx.AsyncClient(headers=headers or {}, timeout=httpx.Timeout(30, read=120)) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write, **session_options) as session,
    ):
        await session.initialize()
        yield session


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
ACCEPT = {"accept": "application/json, text/event-stream"}


async def raw_session(
    http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, protocol: str = "2025-06-18"
) -> str:
    """Initialize a session with plain HTTP (for tests that send what no SDK would); returns its id."""
    initialize = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": protocol}}
    reply = await http.post(path, json=initialize, headers={**ACCEPT, **(headers or {})})
    assert reply.status_code == 200, reply.text
    return reply.headers["mcp-session-id"]


def tool_call(name: str, arguments: dict[str, Any], request_id: int = 2) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@contextlib.contextmanager
def http_server(command: list[str]) -> Iterator[str]:
    """A test upstream (`command --http PORT`) as a process of its own until the block ends; yields its MCP URL."""
    port = free_port()
    process = subprocess.Popen([*command, "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            assert time.monotonic() < deadline, f"{command[-1]} did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def probe_http_server() -> contextlib.AbstractContextManager[str]:
    return http_server(PROBE_SERVER)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run `make test` (it installs it) or apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)
