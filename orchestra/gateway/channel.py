"""One upstream MCP session: a connection (stdio process or HTTP session) that has been initialized."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from mcp import types

from orchestra.gateway.errors import GatewayError, ReplicaUnreachable
from orchestra.gateway.http_upstream import HttpConnection
from orchestra.gateway.rpc import CallLog, Connection, Notice, Progress, RpcError, ToolResult
from orchestra.gateway.stdio import StdioConnection

log = logging.getLogger("orchestra.gateway.replica")

ConnectionFactory = Callable[[Notice | None], Connection]
ChannelNotice = Callable[["Channel", str, dict[str, Any]], None]
"""Told of an upstream's notifications outside calls, with the channel (upstream session) that sent them."""


def stdio_connection(
    argv: list[str], env: dict[str, str], cwd: str | None, label: str, max_message_size: int
) -> ConnectionFactory:
    return lambda on_notice: StdioConnection(
        argv, env=env, cwd=cwd, label=label, max_message_size=max_message_size, on_notice=on_notice
    )


def http_connection(
    url: str, headers: dict[str, str], label: str, max_message_size: int, session_id: str | None = None
) -> ConnectionFactory:
    """An HTTP upstream session; with `session_id`, it rejoins a session another gateway process opened."""
    return lambda on_notice: HttpConnection(
        url, headers=headers, label=label, max_message_size=max_message_size, session_id=session_id,
        on_notice=on_notice,
    )  # fmt: skip


class Channel:
    """`start()` (open and initialize), then `request()` from any task, then `close()`."""

    def __init__(
        self,
        factory: ConnectionFactory,
        *,
        label: str,
        on_notice: ChannelNotice | None = None,
        initialize: bool = True,
    ) -> None:
        self.label = label
        self.init_result: types.InitializeResult | None = None
        self.connection = factory(None if on_notice is None else lambda method, params: on_notice(self, method, params))
        self._initialize = initialize
        self._started = False

    @property
    def closed(self) -> asyncio.Event:
        return self.connection.ended

    @property
    def alive(self) -> bool:
        return self._started and not self.connection.ended.is_set()

    @property
    def pid(self) -> int | None:
        return self.connection.pid

    @property
    def session_id(self) -> str | None:
        return self.connection.session_id

    async def start(self, timeout: float) -> None:
        """Open the connection and initialize; raises `ReplicaUnreachable` when it cannot."""
        try:
            async with asyncio.timeout(timeout):
                if isinstance(self.connection, StdioConnection):
                    await self.connection.open()
                if self._initialize:
                    self.init_result = await self.connection.initialize()
                self.connection.listen()
        except TimeoutError:
            await self.close()
            raise ReplicaUnreachable(f"{self.label} did not start within {timeout:g}s") from None
        except ReplicaUnreachable:
            await self.close()
            raise
        except GatewayError as exc:  # it exited or hung up during initialize: its own words say why
            await self.close()
            raise ReplicaUnreachable(f"{self.label} failed to start: {exc.message}") from None
        except Exception as exc:  # whatever the server did instead of initializing, the replica is not up
            await self.close()
            raise ReplicaUnreachable(f"{self.label} failed to start: {exc!r}") from None
        self._started = True

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        progress: Progress | None = None,
        log_to: CallLog | None = None,
    ) -> Any:
        if not self.alive:
            raise ReplicaUnreachable(f"{self.label} is not connected")
        return await self.connection.request(method, params, progress=progress, log_to=log_to)

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        progress: Progress | None = None,
        log_to: CallLog | None = None,
    ) -> ToolResult:
        """The upstream's `CallToolResult` as it sent it: the gateway passes results through unchanged."""
        params = {"name": name, "arguments": arguments or {}, **((log_to.carry if log_to else None) or {})}
        result = await self.request("tools/call", params, progress=progress, log_to=log_to)
        if not isinstance(result, dict) or not isinstance(result.get("content", []), list):
            raise RpcError({"code": types.INTERNAL_ERROR, "message": f"{self.label} sent a malformed tool result"})
        return result

    async def ping(self, timeout: float) -> None:
        """A health check: `ping`, or `server/discover` for a modern server (its revision has no ping)."""
        await asyncio.wait_for(self.request("server/discover" if self.connection.modern else "ping"), timeout)

    async def close(self, *, end_session: bool = True) -> None:
        await self.connection.close(end_session=end_session)


async def first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
