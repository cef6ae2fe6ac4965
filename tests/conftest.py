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

from orchestra.gateway.app import create_app
from orchestra.gateway.config import GatewayConfig
from orchestra.gateway.server import serve_in_loop

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
    """A gateway app served in this event loop; yields its base URL and the app."""
    config = GatewayConfig.model_validate({"pools": pools, **settings})
    app = create_app(config, environ if environ is not None else dict(os.environ))
    async with serving(app) as base:
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


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


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
