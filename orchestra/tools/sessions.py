"""MCP tool sessions that live as long as a conversation thread.

langchain-mcp-adapters opens a new MCP session for every tool call unless a session is held open, and with a
new session a browser opened in one step is `about:blank` in the next. Each thread here holds one session per
gateway tier for its whole life, so the gateway keeps the thread's dedicated upstream sessions (its browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.interceptors import MCPToolCallRequest, MCPToolCallResult
from langchain_mcp_adapters.tools import load_mcp_tools
from mcp import ClientSession, types
from mcp.shared.exceptions import McpError
from opentelemetry.trace import SpanKind

from orchestra.core import tracing
from orchestra.core.writes import before_external_write, journaling
from orchestra.tools.gateway_client import endpoint_url

TIERS = ("web", "design", "bi", "ai")
T = TypeVar("T")
SESSION_LOST = -32014  # the gateway's code for "your upstream session is gone; initialize a new session"


class ToolCallError(RuntimeError):
    """A tool answered with an error result, or the gateway refused the call."""


@dataclass
class ToolCall:
    """One call as a report cites it: `E3 crm.hubspot-search-objects`."""

    id: str
    pool: str
    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: Any
    text: str
    duration_ms: float

    @property
    def label(self) -> str:
        return f"{self.pool}.{self.tool}"


class ThreadTools:
    """The tools of one thread: a held-open MCP session per tier, and a ledger of every call made."""

    def __init__(self, gateway: str, headers: dict[str, str] | None = None) -> None:
        connections = {
            tier: {"transport": "streamable_http", "url": endpoint_url(gateway, tier=tier), "headers": headers or {}}
            for tier in TIERS
        }
        self._client = MultiServerMCPClient(connections)  # type: ignore[arg-type]
        self._sessions: dict[str, ClientSession] = {}
        self._requests: asyncio.Queue[tuple[str, asyncio.Future[ClientSession]] | None] = asyncio.Queue()
        self._holder: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._annotations: dict[str, dict[str, types.ToolAnnotations | None]] = {}
        self._lost: dict[str, str] = {}  # tier -> why its session ended, until a new one is opened
        self.reopened: list[str] = []  # notes for the progress stream: sessions opened again, and why
        self.calls: list[ToolCall] = []
        self.last_used = time.monotonic()
        self.busy = 0  # calls in flight

    async def _hold(self) -> None:
        """Open and close every session in this one task: the SDK's transports are task-bound contexts,
        and a graph runs each node in a task of its own."""
        async with contextlib.AsyncExitStack() as stack:
            while (request := await self._requests.get()) is not None:
                tier, opened = request
                try:
                    opened.set_result(await stack.enter_async_context(self._client.session(tier)))
                except Exception as exc:  # reported to the caller that asked for the session
                    opened.set_exception(exc)

    async def session(self, tier: str) -> ClientSession:
        async with self._lock:
            if tier not in self._sessions:
                if self._holder is None:
                    self._holder = asyncio.create_task(self._hold(), name="thread tool sessions")
                opened: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
                await self._requests.put((tier, opened))
                self._sessions[tier] = await opened
                if tier in self._lost:
                    self.reopened.append(f"the {tier} tools session was opened again ({self._lost.pop(tier)})")
            return self._sessions[tier]

    async def _annotations_of(self, tier: str, name: str) -> types.ToolAnnotations | None:
        if tier not in self._annotations:
            listed = await self._while_held((await self.session(tier)).list_tools())
            self._annotations[tier] = {t.name: t.annotations for t in listed.tools}
        return self._annotations[tier].get(name)

    async def repeatable(self, tier: str, pool: str, tool: str) -> bool:
        """Whether calling `<pool>__<tool>` again with the same arguments gives the same answer and changes nothing
        (its MCP annotations say read-only and idempotent), so an earlier result may stand in for a new call."""
        annotations = await self._annotations_of(tier, f"{pool}__{tool}")
        return bool(annotations and annotations.readOnlyHint and annotations.idempotentHint)

    async def _journal_if_write(self, tier: str, name: str) -> None:
        """Announce a call that is not safe to repeat (neither read-only nor idempotent, the gateway's rule) to the
        run's write journal, when there is one (`orchestra.core.writes`)."""
        if not journaling():
            return
        annotations = await self._annotations_of(tier, name)
        if not (annotations and (annotations.readOnlyHint or annotations.idempotentHint)):
            await before_external_write(name.replace("__", ".", 1))

    async def langchain_tools(self, tier: str) -> list[BaseTool]:
        """The tier's tools for a LangChain agent, bound to this thread's session."""

        async def journaled(
            request: MCPToolCallRequest, handler: Callable[[MCPToolCallRequest], Awaitable[MCPToolCallResult]]
        ) -> MCPToolCallResult:
            await self._journal_if_write(tier, request.name)
            return await handler(request)

        return await load_mcp_tools(await self.session(tier), tool_interceptors=[journaled])

    async def call(self, tier: str, pool: str, tool: str, arguments: dict[str, Any]) -> ToolCall:
        """Call `<pool>__<tool>` on the tier endpoint; the call goes into the ledger whether it worked or not."""
        started = time.perf_counter()
        self.busy += 1
        try:
            await self._journal_if_write(tier, f"{pool}__{tool}")
            return await self._call(tier, pool, tool, arguments, started)
        finally:
            self.busy -= 1
            self.last_used = time.monotonic()

    async def _call(self, tier: str, pool: str, tool: str, arguments: dict[str, Any], started: float) -> ToolCall:
        with tracing.tracer().start_as_current_span(
            f"tools/call {pool}.{tool}", kind=SpanKind.CLIENT, attributes={"mcp.pool": pool, "mcp.tool": tool}
        ):
            # With LangSmith tracing on, each call through the gateway is a tool run under the graph step's run.
            metadata = {"pool": pool, "tool": tool, "tier": tier}
            async with tracing.langsmith_tool_run(f"{pool}.{tool}", arguments, metadata) as run:
                call = await self._traced_call(tier, pool, tool, arguments, started)
                if run is not None:
                    run.add_metadata({"duration_ms": call.duration_ms, "evidence": call.id})
                    run.end(outputs={"result": call.result})
                return call

    async def _traced_call(
        self, tier: str, pool: str, tool: str, arguments: dict[str, Any], started: float
    ) -> ToolCall:
        session = await self.session(tier)
        meta = tracing.carrier() or None  # the run's trace goes on through the gateway (W3C trace context)
        try:
            result = await self._while_held(session.call_tool(f"{pool}__{tool}", arguments, meta=meta))
        except Exception as exc:  # the gateway's JSON-RPC errors: recorded, then raised as ours
            if _session_gone(exc):  # e.g. its browser was released after idling: the next call opens a new one
                self._sessions.pop(tier, None)
                self._lost[tier] = str(exc)[:300]
            call = self._record(pool, tool, arguments, False, None, str(exc), self._took(started, exc))
            raise ToolCallError(f"{call.label} failed: {exc}") from None
        text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
        took = self._took(started, result)
        call = self._record(pool, tool, arguments, not result.isError, _structured(result, text), text, took)
        if result.isError:
            raise ToolCallError(f"{call.label} said: {text[:500]}")
        return call

    async def _while_held(self, call: Awaitable[T]) -> T:
        """`call`'s result; or, when the task holding this thread's connections ends first (the gateway went
        away), that task's error, instead of a call left waiting forever. The next call reconnects."""
        holder = self._holder
        task = asyncio.ensure_future(call)
        if holder is None:
            return await task
        await asyncio.wait({task, holder}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        self._sessions.clear()
        self._holder = None
        lost = None if holder.cancelled() else holder.exception()
        raise lost or ConnectionError("the connection to the gateway closed")

    def _took(self, started: float, answer: object) -> float:
        """How long a call took, in ms, from when it started to its `answer` (a result, or the error it raised)."""
        return round((time.perf_counter() - started) * 1000, 1)

    def _record(
        self, pool: str, tool: str, arguments: dict[str, Any], ok: bool, result: Any, text: str, took: float
    ) -> ToolCall:
        call = ToolCall(f"E{len(self.calls) + 1}", pool, tool, arguments, ok, result, text, took)
        self.calls.append(call)
        return call

    async def aclose(self) -> None:
        if self._holder is not None:
            await self._requests.put(None)
            await asyncio.gather(self._holder, return_exceptions=True)
            self._holder = None
        self._sessions.clear()


def _session_gone(exc: Exception) -> bool:
    """The gateway ended this MCP session (-32014), or no longer knows it (the SDK's 404 'Session terminated')."""
    return isinstance(exc, McpError) and (exc.error.code == SESSION_LOST or exc.error.message == "Session terminated")


def _structured(result: types.CallToolResult, text: str) -> Any:
    """The result's JSON: structured content when sent (FastMCP wraps non-objects in `result`), else parsed text."""
    content = result.structuredContent
    if content is not None:
        return content["result"] if set(content) == {"result"} else content
    try:
        return json.loads(text)
    except ValueError:
        return text


_RELEASED_KEPT = 10_000


class ToolSessions:
    """Thread id -> its tools, for a process that serves many threads (`orchestra serve`, `langgraph dev`): held
    while the thread is active, released by `release_idle`, reopened (and said so) when the thread comes back."""

    def __init__(self, gateway: str, headers: dict[str, str] | None = None) -> None:
        self._gateway, self._headers = gateway, headers
        self._threads: dict[str, ThreadTools] = {}
        # Why a thread's sessions went, to say so when it comes back; bounded, since most threads never come back.
        self._released: OrderedDict[str, str] = OrderedDict()

    def for_thread(self, thread_id: str) -> ThreadTools:
        if thread_id not in self._threads:
            tools = ThreadTools(self._gateway, self._headers)
            if thread_id in self._released:
                tools.reopened.append(f"the thread's tool sessions were opened again ({self._released.pop(thread_id)})")
            self._threads[thread_id] = tools
        self._threads[thread_id].last_used = time.monotonic()
        return self._threads[thread_id]

    async def release_idle(self, idle_for: float) -> int:
        """Close the sessions of threads unused for `idle_for` seconds (their browsers go back to the pool);
        returns how many threads were released."""
        now = time.monotonic()
        idle = [t for t, tools in self._threads.items() if now - tools.last_used > idle_for and not tools.busy]
        for thread_id in idle:
            await self._threads.pop(thread_id).aclose()
            self._released[thread_id] = f"released after {idle_for:g}s without use"
            while len(self._released) > _RELEASED_KEPT:
                self._released.popitem(last=False)
        return len(idle)

    async def forget(self, thread_id: str) -> None:
        """Close the sessions of a thread that is gone (deleted, or a stateless run's thread), right away."""
        self._released.pop(thread_id, None)
        if (tools := self._threads.pop(thread_id, None)) is not None:
            await tools.aclose()

    async def aclose(self) -> None:
        for tools in self._threads.values():
            await tools.aclose()
        self._threads.clear()
