"""A small MCP server for gateway tests: one tool per behaviour a pool must handle.

Every call is appended to the file named by $PROBE_EXEC_LOG (`tool pid`), so a test can count how often a tool
really ran upstream, and on which replica.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import ToolAnnotations

server = FastMCP("probe")
_values: dict[tuple[int, str], str] = {}


def _record(tool: str) -> None:
    path = os.environ.get("PROBE_EXEC_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{tool} {os.getpid()}\n")


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def lookup(key: str) -> str:
    """Read-only: echo the key with the replica's pid."""
    _record("lookup")
    return f"{key}@{os.getpid()}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=True))
def set_value(key: str, value: str, ctx: Context) -> str:
    """Idempotent write: set a key in this MCP session's memory."""
    _record("set_value")
    _values[(id(ctx.session), key)] = value
    return f"{key}={value}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=False, destructiveHint=False))
def append_record(text: str) -> str:
    """Non-idempotent write: append a record (counted in the exec log)."""
    _record("append_record")
    return f"appended {text}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def slow(seconds: float, ctx: Context, steps: int = 3, tag: str = "slow") -> str:
    """Read-only and slow: reports progress and logs (`<tag> step <n>`) while it works."""
    _record("slow")
    for step in range(steps):
        await ctx.report_progress(step, steps, f"step {step}")
        await ctx.info(f"{tag} step {step}")
        await asyncio.sleep(seconds / steps)
    _record("slow_done")
    return f"slept {seconds}@{os.getpid()}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=False))
async def slow_write(seconds: float) -> str:
    """Non-idempotent and slow: the write lands at the start, the answer at the end."""
    _record("slow_write")
    await asyncio.sleep(seconds)
    return "written"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=False))
async def long_job(seconds: float, ctx: Context, every: float = 0.2) -> str:
    """Non-idempotent and long: reports progress every `every` seconds (when asked for it) until it is done."""
    _record("long_job")
    elapsed = 0.0
    while elapsed < seconds:
        await ctx.report_progress(elapsed, seconds, "working")
        await asyncio.sleep(every)
        elapsed += every
    _record("long_job_done")
    return f"done in {seconds}s@{os.getpid()}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=False))
def crash() -> str:
    """Kill this replica's process in the middle of the call."""
    _record("crash")
    sys.stdout.flush()
    os._exit(3)


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def fail(message: str) -> str:
    """Read-only tool that reports a tool error."""
    raise ValueError(message)


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def counter_value(key: str, ctx: Context) -> str:
    """Read back what set_value stored in this MCP session."""
    return _values.get((id(ctx.session), key), "")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    else:
        server.run("stdio")
