"""JSON-RPC over the stdin and stdout of an MCP server process that the gateway owns.

The process runs in its own process group (`npx` starts children of its own), so stopping a replica stops
all of it and no replica outlives the gateway. Its stderr goes to our log; its exit fails every request in
flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from typing import Any

from orchestra.gateway.errors import ReplicaUnreachable
from orchestra.gateway.rpc import Connection, LogSink, lost

log = logging.getLogger("orchestra.gateway.replica")

_LINE_LIMIT = 64 * 1024 * 1024  # one JSON-RPC message per line; page snapshots can be large
_STOP_GRACE = 3.0


class StdioConnection(Connection):
    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str | None,
        label: str,
        on_log: LogSink | None = None,
        on_tools_changed: Any = None,
    ) -> None:
        super().__init__(label, on_log=on_log, on_tools_changed=on_tools_changed)
        self._argv, self._env, self._cwd = argv, env, cwd
        self._process: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                cwd=self._cwd,
                limit=_LINE_LIMIT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ReplicaUnreachable(f"{self.label} could not start {self._argv[0]!r}: {exc.strerror}") from None
        self.pid = self._process.pid
        self._tasks = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    async def _read_stdout(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        try:
            while line := await self._process.stdout.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("%s wrote a line that is not JSON: %.200r", self.label, line)
                    continue
                if not isinstance(message, dict):
                    continue
                if "method" not in message:
                    future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    await self._dispatch_incoming(message)
        except (ValueError, ConnectionError) as exc:  # an over-long line, or the pipe broke
            log.warning("%s: stdout unreadable: %r", self.label, exc)
        finally:
            self._fail_pending()
            self.ended.set()

    async def _read_stderr(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        with contextlib.suppress(ValueError, ConnectionError):
            while line := await self._process.stderr.readline():
                log.debug("%s stderr: %s", self.label, line.decode(errors="replace").rstrip())

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(lost(self.label))
        self._pending.clear()

    async def _write(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or self.ended.is_set():
            raise ReplicaUnreachable(f"{self.label} is not running")
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        async with self._write_lock:
            try:
                process.stdin.write(data)
                await process.stdin.drain()
            except (ConnectionError, RuntimeError):
                raise ReplicaUnreachable(f"{self.label} stopped reading its input") from None

    async def _exchange(self, request_id: int, message: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        # A caller that gave up (timeout, cancel) no longer awaits it: mark its failure as seen.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._pending[request_id] = future
        try:
            await self._write(message)
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def _send_notification(self, message: dict[str, Any]) -> None:
        await self._write(message)

    async def _reply_error(self, request_id: Any, code: int, text: str) -> None:
        with contextlib.suppress(ReplicaUnreachable):
            await self._write({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}})

    async def close(self, *, end_session: bool = True) -> None:
        """MCP's stdio shutdown for the whole process group: close stdin, then SIGTERM, then SIGKILL."""
        await super().close(end_session=end_session)
        process = self._process
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(Exception):
                    process.stdin.close()
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, sig)
                try:
                    await asyncio.wait_for(asyncio.shield(process.wait()), _STOP_GRACE)
                    break
                except TimeoutError:
                    continue
            with contextlib.suppress(ProcessLookupError, PermissionError):  # children that outlived their leader
                os.killpg(process.pid, signal.SIGKILL)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail_pending()
