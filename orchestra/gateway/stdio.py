"""JSON-RPC over the stdin and stdout of an MCP server process that the gateway owns.

The process runs in its own process group (`npx` starts children of its own), so stopping a replica stops
all of it and no replica outlives the gateway. Its stderr goes to our log; its exit fails every request in
flight at once, with the exit code and its last words on stderr. A reply over `max_message_size` fails only
its own call: the line is skipped, not buffered, and the process keeps serving.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import signal
from typing import Any

from orchestra.gateway.errors import ReplicaReset, ReplicaUnreachable, ReplyTooLarge
from orchestra.gateway.rpc import Connection, Notice

log = logging.getLogger("orchestra.gateway.replica")

_STOP_GRACE = 3.0
_EXIT_WAIT = 1.0  # how long an ended stdout waits for the exit code and the last stderr lines
# Where a JSON-RPC reply names its id: first (Python SDKs) or last (the TypeScript SDK) in the object.
_ID_AT_START = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(\d+)\s*,')
_ID_AT_END = re.compile(rb'[,{]\s*"id"\s*:\s*(\d+)\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$')


class StdioConnection(Connection):
    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str | None,
        label: str,
        max_message_size: int,
        on_notice: Notice | None = None,
    ) -> None:
        super().__init__(label, on_notice=on_notice)
        self._argv, self._env, self._cwd = argv, env, cwd
        self._max_message_size = max_message_size
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=5)
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
                limit=self._max_message_size,
                start_new_session=True,
            )
        except OSError as exc:
            raise ReplicaUnreachable(f"{self.label} could not start {self._argv[0]!r}: {exc.strerror}") from None
        self.pid = self._process.pid
        self._tasks = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    async def _read_stdout(self) -> None:
        assert self._process is not None
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while True:
                try:
                    line = await stdout.readuntil(b"\n")
                except asyncio.IncompleteReadError as end:
                    line = end.partial
                    if not line:
                        break
                except asyncio.LimitOverrunError as over:
                    await self._skip_oversized(stdout, over.consumed)
                    continue
                await self._handle_line(line)
        except ConnectionError as exc:
            log.warning("%s: stdout unreadable: %r", self.label, exc)
        finally:
            reason = await self._exit_reason()
            self._fail_pending(ReplicaReset(f"{self.label} {reason}"))
            self.ended.set()

    def listen(self) -> None:
        if self.modern is not None:  # the stream's notices come on stdout like any other message
            self._spawn(self._write(self.listen_request()))

    async def _handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("%s wrote a line that is not JSON: %.200r", self.label, line)
            return
        if not isinstance(message, dict):
            return
        if "method" not in message:
            request_id = message.get("id")
            future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
            if future is not None and not future.done():
                future.set_result(message)
        else:
            await self._dispatch_incoming(message)

    async def _skip_oversized(self, stdout: asyncio.StreamReader, consumed: int) -> None:
        """Drop a line over the size limit without holding it, then fail the call it answered."""
        head, tail, size = b"", b"", 0
        while True:
            chunk = await stdout.read(consumed)
            head, tail, size = head or chunk[:256], (tail + chunk)[-256:], size + len(chunk)
            try:
                rest = await stdout.readuntil(b"\n")
            except asyncio.LimitOverrunError as over:
                consumed = over.consumed
                continue
            except asyncio.IncompleteReadError as end:
                rest = end.partial
            tail, size = (tail + rest)[-256:], size + len(rest)
            break
        found = _ID_AT_START.search(head) or _ID_AT_END.search(tail)
        future = self._pending.pop(int(found.group(1)), None) if found else None
        limit = f"{self._max_message_size / 2**20:g} MiB"
        log.warning("%s sent a %.1f MiB message, over max_message_size (%s); skipped", self.label, size / 2**20, limit)
        if future is not None and not future.done():
            message = (
                f"the upstream's reply was {size / 2**20:.1f} MiB, over the pool's max_message_size ({limit}); "
                "ask for less (a page, a filter) or raise the limit"
            )
            future.set_exception(ReplyTooLarge(message))

    async def _read_stderr(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        with contextlib.suppress(ValueError, ConnectionError):
            while line := await self._process.stderr.readline():
                text = line.decode(errors="replace").rstrip()
                if text:
                    self._stderr_tail.append(text[:300])
                log.debug("%s stderr: %s", self.label, text)

    async def _exit_reason(self) -> str:
        """`exited with code N: <its last stderr line>`, or `closed its output` while it still runs."""
        process = self._process
        assert process is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), _EXIT_WAIT)
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), _EXIT_WAIT)
        said = f": {self._stderr_tail[-1]}" if self._stderr_tail else ""
        if process.returncode is None:
            return f"closed its output{said}"
        return f"exited with code {process.returncode}{said}"

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
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
            except (ConnectionError, RuntimeError):  # most often it exited: say how, in its own words
                raise ReplicaUnreachable(f"{self.label} {await self._exit_reason()}") from None

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
        self._fail_pending(ReplicaReset(f"{self.label} was stopped"))
