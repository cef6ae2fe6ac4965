"""One upstream MCP session and the transport under it, kept open by a task of its own.

The SDK's transports are async context managers whose cancel scopes must be entered and left by one task, so
each channel runs a task that holds them for the channel's whole life; calls from any task go through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError
from mcp.shared.session import ProgressFnT, RequestResponder

from orchestra.gateway.errors import ReplicaReset, ReplicaUnreachable
from orchestra.gateway.stdio import stdio_transport

log = logging.getLogger("orchestra.gateway.replica")

Streams = tuple[Any, Any, "TransportInfo"]
LogSink = Callable[[types.LoggingMessageNotificationParams], Awaitable[None]]
Opener = Callable[[], AbstractAsyncContextManager[Streams]]


@dataclass
class TransportInfo:
    """What a transport tells its channel: the process (stdio), the upstream session id (HTTP), its end."""

    pid: int | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    session_id: Callable[[], str | None] = lambda: None


class UpstreamSession(ClientSession):
    """A client session that tells the server when a request it sent is abandoned.

    The SDK's `send_request` forgets a request on cancellation without saying so; MCP asks the sender to
    send `notifications/cancelled`, so a cancelled or timed-out client call stops its upstream work too.
    """

    async def send_request(self, request: Any, result_type: Any, *args: Any, **kwargs: Any) -> Any:
        request_id = self._request_id  # the id the base class assigns next, before it first awaits
        try:
            return await super().send_request(request, result_type, *args, **kwargs)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception), anyio.move_on_after(1):
                await self.send_notification(
                    types.ClientNotification(
                        types.CancelledNotification(
                            params=types.CancelledNotificationParams(requestId=request_id, reason="cancelled")
                        )
                    )
                )
            raise


def stdio_opener(argv: list[str], env: dict[str, str], cwd: str | None, label: str) -> Opener:
    @contextlib.asynccontextmanager
    async def open_stdio() -> AsyncIterator[Streams]:
        async with stdio_transport(argv, env=env, cwd=cwd, label=label) as (read, write, process):
            yield read, write, TransportInfo(pid=process.pid, ended=process.exited)

    return open_stdio


def http_opener(url: str, headers: dict[str, str], session_id: str | None = None) -> Opener:
    """A streamable HTTP transport; with `session_id`, it rejoins an upstream session opened elsewhere."""

    @contextlib.asynccontextmanager
    async def open_http() -> AsyncIterator[Streams]:
        all_headers = {**headers, **({"mcp-session-id": session_id} if session_id else {})}
        timeout = httpx.Timeout(30.0, read=300.0)
        async with (
            httpx.AsyncClient(headers=all_headers, timeout=timeout) as client,
            streamable_http_client(url, http_client=client, terminate_on_close=session_id is None) as streams,
        ):
            read, write, get_session_id = streams
            yield read, write, TransportInfo(session_id=lambda: session_id or get_session_id())

    return open_http


class Channel:
    """An upstream session: `start()`, then `request()` from any task, then `close()`."""

    def __init__(
        self,
        opener: Opener,
        *,
        label: str,
        on_log: LogSink | None = None,
        on_tools_changed: Callable[[], None] | None = None,
        initialize: bool = True,
    ) -> None:
        self.label = label
        self.transport = TransportInfo()
        self.init_result: types.InitializeResult | None = None
        self.error: BaseException | None = None
        self._opener = opener
        self._on_log = on_log
        self._on_tools_changed = on_tools_changed
        self._initialize = initialize
        self._session: UpstreamSession | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiting: set[asyncio.Task[Any]] = set()
        self._orphaned: set[asyncio.Task[Any]] = set()

    @property
    def alive(self) -> bool:
        return self._session is not None and not self.closed.is_set() and not self.transport.ended.is_set()

    async def start(self, timeout: float) -> None:
        """Open the transport and initialize; raises `ReplicaUnreachable` when it cannot."""
        self._task = asyncio.create_task(self._run(), name=f"channel {self.label}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            await self.close()
            raise ReplicaUnreachable(f"{self.label} did not start within {timeout:g}s") from None
        if not self.alive:
            await self.close()
            raise ReplicaUnreachable(f"{self.label} failed to start: {self.error!r}") from self.error

    async def _run(self) -> None:
        try:
            async with self._opener() as (read, write, transport):
                self.transport = transport
                async with UpstreamSession(
                    read,
                    write,
                    logging_callback=self._forward_log,
                    message_handler=self._handle_message,
                ) as session:
                    if self._initialize:
                        self.init_result = await session.initialize()
                    self._session = session
                    self._ready.set()
                    await first_of(self._closing, transport.ended)
        except Exception as exc:  # the transport failed: the channel is dead, the replica decides what next
            self.error = exc
            log.debug("%s closed: %r", self.label, exc)
        finally:
            self.closed.set()
            self._ready.set()
            # Requests sent just before the end would wait for an answer that cannot come: end them now.
            for task in self._waiting:
                self._orphaned.add(task)
                task.cancel()

    async def _forward_log(self, params: types.LoggingMessageNotificationParams) -> None:
        if self._on_log is not None:
            await self._on_log(params)

    async def _handle_message(
        self,
        message: RequestResponder[types.ServerRequest, types.ClientResult] | types.ServerNotification | Exception,
    ) -> None:
        is_list_change = isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ToolListChangedNotification
        )
        if is_list_change and self._on_tools_changed is not None:
            self._on_tools_changed()

    async def request(
        self,
        request: types.ClientRequest,
        result_type: type[Any],
        *,
        progress: ProgressFnT | None = None,
    ) -> Any:
        """Send one request; transport failures become `ReplicaReset`, the server's own errors stay `McpError`."""
        session = self._session
        if session is None or self.closed.is_set():
            raise ReplicaUnreachable(f"{self.label} is not connected")
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            return await session.send_request(request, result_type, progress_callback=progress)
        except asyncio.CancelledError:
            if task not in self._orphaned:
                raise
            task.uncancel()
            raise ReplicaReset(f"{self.label} went away during the call") from None
        except McpError as exc:
            if exc.error.code == types.CONNECTION_CLOSED and await self._died():
                raise ReplicaReset(f"{self.label} went away during the call") from None
            raise
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ReplicaReset(f"{self.label} went away during the call") from None
        finally:
            self._waiting.discard(task)
            self._orphaned.discard(task)

    async def ping(self, timeout: float) -> None:
        await asyncio.wait_for(self.request(types.ClientRequest(types.PingRequest()), types.EmptyResult), timeout)

    async def _died(self) -> bool:
        """Whether the transport is gone (a server may also answer -32000 on its own)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), 0.5)
        return self.closed.is_set()

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            if not self._task.done():
                self._task.cancel()


async def first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
