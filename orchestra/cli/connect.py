"""`orchestra connect URL`: a stdio MCP server that bridges to one gateway endpoint over streamable HTTP.

For clients that only launch stdio servers (Claude Desktop, Cursor, many IDEs). Both sides are the `mcp` SDK's
own transports (`stdio_server`, `streamable_http_client`); the bridge passes every JSON-RPC message between them
unchanged, in both directions: requests, responses and notifications, including the server's own requests
(sampling, elicitation, roots) and the client's answers. The client's `initialize` goes through as it is, so the
gateway sees the client's real capabilities and protocol version.

stdout carries protocol only; logs go to stderr. The command ends with 0 when stdin closes (ending the gateway
session), and with 1 and one line on stderr when the gateway cannot be reached, refuses the key, or ends the
session; requests still in flight then get a JSON-RPC error first, so the client is not left waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    import httpx
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from mcp.shared.message import SessionMessage

log = logging.getLogger("orchestra.connect")

DEFAULT_KEY_ENV = "ORCHESTRA_GATEWAY_KEY"
_CONNECTION_CLOSED = -32000  # the SDK's code for a connection that ended under a request (mcp.types)
_LINE_LIMIT = 2**28  # one JSON-RPC message per line; images and resources make long lines
_DRAIN = 5.0  # seconds, after stdin closes, for answers already on their way (and for stdout to take them)


class BridgeError(Exception):
    """The gateway session cannot go on; the message says why and what to do."""


class _Pending:
    """Ids of the client's requests the gateway has not answered yet."""

    def __init__(self) -> None:
        self.ids: set[Any] = set()
        self._none = asyncio.Event()
        self._none.set()
        self._watched: dict[Any, asyncio.Event] = {}

    def add(self, request_id: Any) -> None:
        self.ids.add(request_id)
        self._none.clear()

    def discard(self, request_id: Any) -> None:
        self.ids.discard(request_id)
        if request_id in self._watched:
            self._watched.pop(request_id).set()
        if not self.ids:
            self._none.set()

    async def answer_to(self, request_id: Any) -> None:
        if request_id in self.ids:
            await self._watched.setdefault(request_id, asyncio.Event()).wait()

    async def answered(self) -> None:
        await self._none.wait()


def connect(
    url: Annotated[
        str,
        typer.Argument(
            help="The gateway endpoint: http://HOST:PORT/pools/NAME/mcp, /tiers/NAME/mcp or /mcp "
            "(a URL without a path means /mcp)."
        ),
    ],
    key_env: Annotated[
        str, typer.Option("--key-env", help="Environment variable holding the gateway API key, if keys are set.")
    ] = DEFAULT_KEY_ENV,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each message to stderr.")] = False,
) -> None:
    """Serve a gateway endpoint to a stdio-only MCP client (Claude Desktop, Cursor, IDEs): stdin/stdout on one
    side, streamable HTTP to the gateway on the other, every message passed through unchanged.

    Example: `ORCHESTRA_GATEWAY_KEY=... orchestra connect http://127.0.0.1:8700/tiers/bi/mcp`
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.WARNING,
        format="orchestra connect: %(levelname)s %(message)s",
    )
    if not verbose:  # the SDK's and httpx's own tracebacks would only repeat the one line the bridge writes
        for name in ("mcp", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    key = os.environ.get(key_env, "").strip()
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        code = asyncio.run(bridge(endpoint_of(url), headers, key_env=key_env))
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


def endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print(f"orchestra connect: {url!r} is not an http(s) URL; e.g. http://127.0.0.1:8700/mcp", file=sys.stderr)
        raise typer.Exit(2)
    return url.rstrip("/") + "/mcp" if parts.path in ("", "/") else url


async def bridge(url: str, headers: dict[str, str], *, key_env: str = DEFAULT_KEY_ENV) -> int:
    """Pass messages between this process's stdio and `url` until stdin closes (0) or the session fails (1)."""
    import anyio
    import httpx
    from mcp.server.stdio import stdio_server

    timeout = httpx.Timeout(30, read=3600)  # a tool may work for long without a word; the gateway bounds it
    async with httpx.AsyncClient(headers=headers, timeout=timeout) as http:
        try:
            await preflight(http, url, key_env)
        except BridgeError as exc:
            log.error("%s", exc)
            return 1
        stdin, stdout = await _open_stdio()
        code = 1
        try:
            # The SDK's stdio reader and writer wait on the client for as long as it is connected: this scope
            # ends them once the bridge is done.
            with anyio.CancelScope() as scope:
                async with stdio_server(stdin=stdin, stdout=stdout) as (from_client, to_client):
                    code = await _serve(http, url, key_env, from_client, to_client, stdout)
                    scope.cancel()
        finally:
            await stdout.close()
        return code


async def _serve(
    http: httpx.AsyncClient,
    url: str,
    key_env: str,
    from_client: MemoryObjectReceiveStream[SessionMessage | Exception],
    to_client: MemoryObjectSendStream[SessionMessage],
    stdout: _Stdout,
) -> int:
    import anyio
    from mcp.client.streamable_http import streamable_http_client

    pending = _Pending()
    try:
        async with (
            streamable_http_client(url, http_client=http) as (from_gateway, to_gateway, _),
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(_downstream, from_gateway, to_client, pending)
            await _upstream(from_client, to_gateway, pending)
            with anyio.move_on_after(_DRAIN):  # stdin closed: answers already on their way still reach stdout
                await pending.answered()
            tasks.cancel_scope.cancel()
        return 0
    except Exception as exc:  # the SDK's transport raises an exception group out of its task group
        problem = _describe(exc, url, key_env)
    log.error("%s", problem)
    stdout.fail(pending.ids, problem)
    return 1


async def preflight(http: httpx.AsyncClient, url: str, key_env: str) -> None:
    """One request that opens no session: is the endpoint there, and does it take our key? A `ping` without a
    session gets 400 from a gateway (and from the SDK's servers) once Host, Origin and key have passed."""
    import httpx

    ping = {"jsonrpc": "2.0", "id": "orchestra-connect-preflight", "method": "ping"}
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    try:
        reply = await http.post(url, json=ping, headers=headers)
    except httpx.HTTPError as exc:
        raise BridgeError(f"cannot reach the gateway at {url} ({type(exc).__name__}: {exc or 'no answer'}); "
                          "start it with `orchestra gateway` or check the URL") from None  # fmt: skip
    if reply.status_code < 300 or reply.status_code == 400:
        return
    raise BridgeError(_refusal(reply.status_code, _detail(reply), url, key_env))


def _refusal(status: int, detail: str, url: str, key_env: str) -> str:
    if status == 401:
        given = "the key in $" + key_env if os.environ.get(key_env, "").strip() else f"no key (${key_env} is unset)"
        return f"the gateway refused {given} (HTTP 401): set {key_env} to one of the keys the gateway has"
    if status == 403:
        return f"the gateway refused this Host (HTTP 403): {detail}"
    if status in (404, 405):
        return f"no MCP endpoint at {url} (HTTP {status}: {detail}); use /pools/NAME/mcp, /tiers/NAME/mcp or /mcp"
    return f"the gateway answered HTTP {status}: {detail}"


def _detail(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:200] or reply.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return str(body.get("detail") or error or body)[:200]
    return str(body)[:200]


def _describe(exc: BaseException, url: str, key_env: str) -> str:
    import httpx

    leaf = _leaf(exc)
    if isinstance(leaf, BridgeError):
        return str(leaf)
    if isinstance(leaf, httpx.HTTPStatusError):
        response = leaf.response
        return _refusal(response.status_code, _detail(response) if response.is_stream_consumed else "", url, key_env)
    if isinstance(leaf, httpx.HTTPError):
        return f"lost the gateway at {url} ({type(leaf).__name__}: {leaf or 'no answer'})"
    return f"the gateway session failed: {type(leaf).__name__}: {leaf}"


def _leaf(exc: BaseException) -> BaseException:
    """The exception that explains a failure: inside exception groups, ours or an HTTP error before others."""
    import httpx

    leaves: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        else:
            leaves.append(current)
    for kind in (BridgeError, httpx.HTTPError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0] if leaves else exc


async def _upstream(
    from_client: MemoryObjectReceiveStream[SessionMessage | Exception],
    to_gateway: MemoryObjectSendStream[SessionMessage],
    pending: _Pending,
) -> None:
    """Client to gateway, until stdin closes. Lines that are not JSON-RPC are logged and skipped."""
    from mcp import types

    async for item in from_client:
        if isinstance(item, Exception):
            log.warning("skipped a line from the client that is not a JSON-RPC message: %s", item)
            continue
        root = item.message.root
        if isinstance(root, types.JSONRPCRequest):
            pending.add(root.id)
        log.debug("client -> gateway: %s", _summary(root))
        await to_gateway.send(item)
        if isinstance(root, types.JSONRPCRequest) and root.method == "initialize":
            # What follows needs the session the answer opens; a client that does not wait for it (a script
            # piping messages in) is made to wait here.
            await pending.answer_to(root.id)


async def _downstream(
    from_gateway: MemoryObjectReceiveStream[SessionMessage | Exception],
    to_client: MemoryObjectSendStream[SessionMessage],
    pending: _Pending,
) -> None:
    """Gateway to client. A session the gateway ended (HTTP 404, which the SDK reports as "Session terminated")
    cannot come back: the bridge stops so the client sees its server end, rather than failing every call."""
    from mcp import types

    async for item in from_gateway:
        if isinstance(item, Exception):
            log.warning("skipped a message from the gateway: %s", item)
            continue
        root = item.message.root
        log.debug("gateway -> client: %s", _summary(root))
        if isinstance(root, types.JSONRPCError) and root.error.message == "Session terminated":
            raise BridgeError("the gateway ended this session (it expired, or the gateway restarted); reconnect")
        await to_client.send(item)
        if isinstance(root, types.JSONRPCResponse | types.JSONRPCError):
            pending.discard(root.id)  # after it is on its way to stdout, so that the bridge can end then
    raise BridgeError("the connection to the gateway closed")


def _summary(root: Any) -> str:
    method = getattr(root, "method", None)
    ident = getattr(root, "id", None)
    kind = "request" if method and ident is not None else "notification" if method else "response"
    return f"{kind} {method or ''} id={ident}".replace("  ", " ")


class _StdinLines:
    """stdin as lines for the SDK's `stdio_server`, read by the event loop instead of a worker thread, so the
    bridge can stop while the client is still connected."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class _Stdout:
    """stdout for the SDK's `stdio_server`: each message is written whole (so lines never interleave) into the
    event loop's pipe transport, or straight to a file."""

    def __init__(self, writer: asyncio.StreamWriter | None) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self.write_now(text)

    def write_now(self, text: str) -> None:
        if self._writer is not None:
            if not self._writer.is_closing():
                self._writer.write(text.encode())
        else:
            sys.stdout.buffer.write(text.encode())

    async def flush(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
        else:
            sys.stdout.buffer.flush()

    def fail(self, pending: set[Any], problem: str) -> None:
        """A JSON-RPC error for every request the gateway will not answer now."""
        from mcp import types

        for request_id in sorted(pending, key=str):
            error = types.ErrorData(code=_CONNECTION_CLOSED, message=problem)
            reply = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
            self.write_now(reply.model_dump_json(by_alias=True, exclude_none=True) + "\n")

    async def close(self) -> None:
        """Written messages reach the client before the pipe closes."""
        if self._writer is None:
            sys.stdout.buffer.flush()
            return
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self._writer.drain(), _DRAIN)
        self._writer.close()


async def _open_stdio() -> tuple[_StdinLines | None, _Stdout]:
    """Pipes, sockets and terminals are served by the event loop; regular files (which never keep a reader
    waiting) by the SDK's default reader and plain writes."""
    loop = asyncio.get_running_loop()
    stdin: _StdinLines | None = None
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    with contextlib.suppress(ValueError, OSError):
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
        stdin = _StdinLines(reader)
    writer: asyncio.StreamWriter | None = None
    with contextlib.suppress(ValueError, OSError):
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout.buffer)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return stdin, _Stdout(writer)
