"""What every connector test does: call a tool of the adapter's server in process, and read an error result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult


async def call_tool(build_server: Callable[[], FastMCP], tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with create_connected_server_and_client_session(build_server()._mcp_server) as session:
        return await session.call_tool(tool, arguments)


def error_text(result: CallToolResult, key: str) -> str:
    """The error's text, after checking it is an error and does not leak the API key."""
    assert result.isError, result
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert key not in text
    return text
