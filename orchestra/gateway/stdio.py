"""Stdio transport to an MCP server process that the gateway owns.

The SDK's `stdio_client` hides the process; a pool needs it: its PID for `/admin/pools`, the moment it exits
(to fail in-flight calls at once and restart it), its stderr in our logs, and its whole process group
stopped on shutdown (`npx` starts children of its own), so no replica outlives the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import types
from mcp.shared.message import SessionMessage

log = logging.getLogger("orchestra.gateway.replica")

_LINE_LIMIT = 64 * 1024 * 1024  # one JSON-RPC message per line; page snapshots can be large
_STOP_GRACE = 3.0


@dataclass
class StdioProcess:
    """The running server process, as seen by its replica."""

    pid: int
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    returncode: int | None = None


@contextlib.asynccontextmanager
async def stdio_transport(
    argv: list[str], *, env: dict[str, str], cwd: str | None, label: str
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
        StdioProcess,
    ]
]:
    """Start `argv` in its own process group and speak JSON-RPC lines over its stdin and stdout."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        limit=_LINE_LIMIT,
        start_new_session=True,
    )
    info = StdioProcess(pid=process.pid)
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](16)

    async def read_stdout() -> None:
        assert process.stdout is not None
        async with to_session:
            while line := await process.stdout.readline():
                try:
                    message = types.JSONRPCMessage.model_validate_json(line)
                except ValueError as exc:
                    log.warning("%s wrote a line that is not JSON-RPC: %.200r", label, line)
                    await to_session.send(exc)
                    continue
                await to_session.send(SessionMessage(message))

    async def write_stdin() -> None:
        assert process.stdin is not None
        async with from_session:
            async for session_message in from_session:
                data = session_message.message.model_dump_json(by_alias=True, exclude_none=True)
                process.stdin.write(data.encode() + b"\n")
                await process.stdin.drain()

    async def read_stderr() -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            log.debug("%s stderr: %s", label, line.decode(errors="replace").rstrip())

    async def watch_exit() -> None:
        info.returncode = await process.wait()
        info.exited.set()

    tasks = [asyncio.create_task(t()) for t in (read_stdout, read_stderr, watch_exit)]
    writer = asyncio.create_task(write_stdin())
    try:
        yield read_stream, write_stream, info
    finally:
        writer.cancel()
        await _stop_process_group(process, info)
        for task in tasks:
            task.cancel()
        await asyncio.gather(writer, *tasks, return_exceptions=True)


async def _stop_process_group(process: asyncio.subprocess.Process, info: StdioProcess) -> None:
    """MCP's stdio shutdown: close stdin, then SIGTERM, then SIGKILL, for the whole process group."""
    if process.stdin is not None:
        with contextlib.suppress(Exception):
            process.stdin.close()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(info.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), _STOP_GRACE)
            break
        except TimeoutError:
            continue
    # Children that outlived their leader still belong to the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(info.pid, signal.SIGKILL)
