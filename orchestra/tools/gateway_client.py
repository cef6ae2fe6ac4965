"""A client of the gateway's MCP endpoints, for people and scripts (the agents use langchain-mcp-adapters)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

DEFAULT_GATEWAY = "http://127.0.0.1:8700"


def endpoint_url(gateway: str, pool: str | None = None, tier: str | None = None) -> str:
    """The MCP endpoint of one pool, one tier, or (neither given) of everything."""
    base = gateway.rstrip("/")
    if pool:
        return f"{base}/pools/{pool}/mcp"
    if tier:
        return f"{base}/tiers/{tier}/mcp"
    return f"{base}/mcp"


def auth_headers(key_env: str = "ORCHESTRA_GATEWAY_KEY") -> dict[str, str]:
    """`Authorization` from the environment, when a key is set there."""
    key = os.environ.get(key_env)
    return {"authorization": f"Bearer {key}"} if key else {}


@contextlib.asynccontextmanager
async def gateway_session(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with one gateway endpoint."""
    async with (
        httpx.AsyncClient(headers=headers or {}, timeout=httpx.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def list_tools(url: str, headers: dict[str, str] | None = None) -> list[types.Tool]:
    async with gateway_session(url, headers) as session:
        return (await session.list_tools()).tools


async def call_tool(
    url: str, name: str, arguments: dict[str, Any], headers: dict[str, str] | None = None
) -> types.CallToolResult:
    async with gateway_session(url, headers) as session:
        return await session.call_tool(name, arguments)


def result_text(result: types.CallToolResult) -> str:
    """The result as a person reads it: text blocks as they are, other blocks named by type."""
    parts = [block.text if isinstance(block, types.TextContent) else f"[{block.type}]" for block in result.content]
    return "\n".join(parts)
