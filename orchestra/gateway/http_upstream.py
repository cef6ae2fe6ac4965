"""JSON-RPC over MCP's streamable HTTP transport, client side, to an upstream server at a URL.

aiohttp rather than httpx on this path: against the same MCP server, one POST cost 2.2-2.5 ms with httpx and
0.6-1.1 ms with aiohttp (bench notes in the closing note of the gateway issue); this hop is on every call.

Besides the POSTs, each upstream session keeps the server's GET stream open (reopened with back-off and
`Last-Event-ID`), where a server sends what belongs to no request: list changes and resource updates.

A server may close a call's SSE stream before the reply (SSE polling, SEP-1699): it has sent an event id (often in
an empty "priming" event) and a `retry` delay, and the rest of the call's stream is fetched with a GET carrying
`Last-Event-ID`, after that delay, as many times as the server closes it; a stream that breaks without closing is
resumed the same way. Reconnections that bring nothing new are bounded (`_RESUME_ATTEMPTS` in a row).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from mcp import types

from orchestra.core import tracing
from orchestra.gateway.errors import ReplicaReset, ReplicaUnreachable, ReplyTooLarge
from orchestra.gateway.modern import NAMED_METHODS, encode_header, parameter_headers
from orchestra.gateway.rpc import NO_CALL, Connection, Notice, RpcError, lost

log = logging.getLogger("orchestra.gateway.replica")

_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_SENT = (aiohttp.ClientError, asyncio.TimeoutError)
_LISTEN_BACKOFF = (0.5, 30.0)  # first and longest wait before reopening a GET stream that broke
_RESUME_ATTEMPTS = 5  # reconnections in a row to a call's stream that bring no new event, before giving up
_RESUME_WAIT = (1.0, 30.0)  # wait before reconnecting when the server named no `retry`, and the longest honoured
_ERAS: dict[str, str] = {}  # upstream URL -> "modern" or "legacy", as its first connection found


@dataclass
class SseCursor:
    """Where a server-sent event stream stands: the last event id seen, and the server's `retry` delay (ms)."""

    last_id: str | None = None
    retry_ms: int | None = None

    @property
    def wait(self) -> float:
        return _RESUME_WAIT[0] if self.retry_ms is None else min(self.retry_ms / 1000, _RESUME_WAIT[1])


class HttpConnection(Connection):
    """One upstream MCP session over HTTP; every request is a POST, answered with JSON or an SSE stream."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str],
        label: str,
        max_message_size: int,
        session_id: str | None = None,
        on_notice: Notice | None = None,
    ) -> None:
        super().__init__(label, on_notice=on_notice)
        self.url = url
        self._max_message_size = max_message_size
        self.session_id = session_id
        self.protocol_version: str | None = None
        self._base_headers = {
            **headers,
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        self._http: aiohttp.ClientSession | None = None
        self._schemas: dict[str, Any] = {}  # a modern server's tools' input schemas, by name

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:  # created on first use, inside the running event loop
            self._http = aiohttp.ClientSession(
                headers=self._base_headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=30),
            )
        return self._http

    def _headers(self) -> dict[str, str]:
        headers = tracing.carrier()  # W3C trace context: the call's trace continues upstream
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        if self.modern or self.protocol_version:
            headers["mcp-protocol-version"] = self.modern or self.protocol_version  # type: ignore[assignment]
        return headers

    async def initialize(self) -> types.InitializeResult:
        """A modern server's discovery, or a legacy session. The era found is kept for the URL (MCP: "cache the
        result for the lifetime of the origin"), so only the first connection probes; a failed start forgets it."""
        era = _ERAS.pop(self.url, None)
        init = await (self.open_session() if era == "legacy" else super().initialize())
        _ERAS[self.url] = "modern" if self.modern else "legacy"
        self.protocol_version = init.protocolVersion
        return init

    def _message_headers(self, message: dict[str, Any]) -> dict[str, str]:
        """A modern request mirrors its method, name and `x-mcp-header` arguments in headers."""
        headers = self._headers()
        method = message.get("method")
        if self.modern is None or not isinstance(method, str) or "id" not in message:
            return headers
        params = message.get("params") or {}
        headers["mcp-method"] = method
        field = NAMED_METHODS.get(method)
        if field is not None and params.get(field) is not None:
            headers["mcp-name"] = encode_header(params[field])
        if method == "tools/call":
            headers.update(parameter_headers(self._schemas.get(params.get("name")), params.get("arguments")))
        return headers

    def _learn_schemas(self, reply: dict[str, Any]) -> None:
        """Input schemas from a modern server's tools/list, for the `Mcp-Param-*` headers of calls."""
        tools = (reply.get("result") or {}).get("tools")
        for tool in tools if isinstance(tools, list) else ():
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                self._schemas[tool["name"]] = tool.get("inputSchema")

    @contextlib.asynccontextmanager
    async def _post(self, message: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        if self.ended.is_set():
            raise ReplicaUnreachable(f"{self.label}: the upstream session has ended")
        body = json.dumps(message, separators=(",", ":"))
        try:
            response = await self._client().post(self.url, data=body, headers=self._message_headers(message))
        except _NOT_SENT as exc:
            raise ReplicaUnreachable(f"{self.label} is not reachable ({type(exc).__name__})") from None
        except _SENT:
            raise lost(self.label) from None
        try:
            await self._check_status(response, message)
            yield response
        except _SENT:
            raise lost(self.label) from None
        finally:
            response.release()

    async def _check_status(self, response: aiohttp.ClientResponse, message: dict[str, Any]) -> None:
        if response.status == 404 and self.session_id:
            self.ended.set()  # the server forgot the session before handling this request
            raise ReplicaUnreachable(f"{self.label}: the upstream session expired")
        if response.status >= 500:
            raise ReplicaReset(f"{self.label} answered HTTP {response.status}")
        if response.status >= 400 and self.modern and response.content_type == "application/json":
            return  # a modern server's refusals are JSON-RPC errors with a 4xx status: read as replies
        if response.status >= 400:
            text = (await response.text(errors="replace"))[:300]
            raise RpcError({"code": -32600, "message": f"upstream answered HTTP {response.status}: {text}"})
        if message.get("method") == "initialize" and "mcp-session-id" in response.headers:
            self.session_id = response.headers["mcp-session-id"]

    async def _exchange(self, request_id: int, message: dict[str, Any]) -> dict[str, Any]:
        cursor = SseCursor()
        async with self._post(message) as response:
            try:
                if response.content_type != "text/event-stream":
                    reply = json.loads(await self._read_capped(response))
                else:
                    reply = await self._read_stream(response, request_id, cursor)
            except ValueError as exc:
                raise ReplicaReset(f"{self.label} sent a reply that is not JSON-RPC ({exc})") from None
        if reply is None:
            if self.modern:  # the revision has no resumable streams: the request is lost with its stream
                raise lost(self.label)
            reply = await self._resume(request_id, cursor)
        if self.modern and message.get("method") == "tools/list" and isinstance(reply, dict):
            self._learn_schemas(reply)
        return reply

    async def _read_stream(
        self, response: aiohttp.ClientResponse, request_id: int, cursor: SseCursor, *, resumed: bool = False
    ) -> dict[str, Any] | None:
        """Notifications as they come, then our reply; None when the stream ended or broke without it after an
        event id (the server means the client to resume it). A POST's stream is read to its end (the server closes
        it after the reply) so the connection returns to the pool instead of being dropped; a `resumed` one (GET)
        may stay open after the reply, so it is left as soon as the reply is in."""
        reply: dict[str, Any] | None = None
        try:
            async for data in _sse_events(response, self._max_message_size, self._too_large, cursor):
                incoming = json.loads(data)
                if "method" in incoming:
                    await self._dispatch_incoming(incoming, on_stream_of=request_id)
                elif incoming.get("id") == request_id:
                    reply = incoming
                    if resumed:
                        break
        except _SENT:
            if reply is None and cursor.last_id is None:
                raise
        if reply is None and cursor.last_id is None:
            raise lost(self.label)  # the stream ended without our answer, and cannot be resumed
        return reply

    async def _resume(self, request_id: int, cursor: SseCursor) -> dict[str, Any]:
        """The rest of a call's stream, by GET with `Last-Event-ID`, after the server's `retry` delay; again each
        time the server closes it, until the reply comes, or `_RESUME_ATTEMPTS` reconnections in a row bring
        nothing new."""
        fruitless = 0
        while fruitless < _RESUME_ATTEMPTS:
            await asyncio.sleep(cursor.wait)
            if self.ended.is_set():
                break
            seen = cursor.last_id
            headers = {**self._headers(), "accept": "text/event-stream", "last-event-id": seen or ""}
            try:
                async with self._client().get(self.url, headers=headers) as response:
                    if response.status == 404 and self.session_id:
                        self.ended.set()
                        raise ReplicaReset(f"{self.label}: the upstream session expired during the call")
                    if response.status >= 400 or response.content_type != "text/event-stream":
                        raise ReplicaReset(f"{self.label} refused to resume the call's stream (HTTP {response.status})")
                    reply = await self._read_stream(response, request_id, cursor, resumed=True)
                    if reply is not None:
                        return reply
            except _SENT as exc:
                log.debug("%s: resuming a call's stream failed (%r)", self.label, exc)
            except ValueError as exc:
                raise ReplicaReset(f"{self.label} sent a reply that is not JSON-RPC ({exc})") from None
            fruitless = 0 if cursor.last_id != seen else fruitless + 1
        raise ReplicaReset(f"{self.label} closed the call's stream and did not resume it within {_RESUME_ATTEMPTS} "
                           "reconnections")  # fmt: skip

    def listen(self) -> None:
        self._spawn(self._listen())

    def _open_listening(self, cursor: SseCursor) -> Any:
        """The request for the server's stream of notices: a legacy session's GET stream (resumed after
        `cursor`), or a modern server's `subscriptions/listen` to every list change."""
        if self.modern is None:
            headers = {**self._headers(), "accept": "text/event-stream"}
            if cursor.last_id:
                headers["last-event-id"] = cursor.last_id
            return self._client().get(self.url, headers=headers)
        message = self.listen_request()
        body = json.dumps(message, separators=(",", ":"))
        return self._client().post(self.url, data=body, headers=self._message_headers(message))

    async def _listen(self) -> None:
        """The server's stream of notices, for as long as the session lives; reopened with jittered back-off when
        it breaks. A server that offers none (405, or any other refusal) is not asked again."""
        backoff, cursor = _LISTEN_BACKOFF[0], SseCursor()
        while not self.ended.is_set():
            try:
                async with self._open_listening(cursor) as response:
                    if 400 <= response.status < 500 or response.content_type != "text/event-stream":
                        log.debug("%s offers no notification stream (HTTP %d)", self.label, response.status)
                        return
                    backoff = _LISTEN_BACKOFF[0]
                    async for data in _sse_events(response, self._max_message_size, self._too_large, cursor):
                        with contextlib.suppress(ValueError):
                            incoming = json.loads(data)
                            if isinstance(incoming, dict) and "method" in incoming:
                                await self._dispatch_incoming(incoming, on_stream_of=NO_CALL)
            except (*_SENT, ReplyTooLarge) as exc:
                log.debug("%s: GET stream broke (%r); reopening", self.label, exc)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, _LISTEN_BACKOFF[1])

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > self._max_message_size:
                raise self._too_large()
        return bytes(body)

    def _too_large(self) -> ReplyTooLarge:
        # The response is released unread, so its connection closes; the upstream session itself lives on.
        limit = f"{self._max_message_size / 2**20:g} MiB"
        return ReplyTooLarge(f"the upstream's reply is over the pool's max_message_size ({limit}); ask for less "
                             "(a page, a filter) or raise the limit")  # fmt: skip

    async def _send_notification(self, message: dict[str, Any]) -> None:
        async with self._post(message) as response:
            await response.read()

    async def _reply_error(self, request_id: Any, code: int, text: str) -> None:
        with contextlib.suppress(Exception):
            await self._send_notification(
                {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}
            )

    async def close(self, *, end_session: bool = True) -> None:
        """Close; with `end_session`, also end the upstream session (DELETE) rather than leave it to others."""
        await super().close()
        if self._http is None:
            return
        if end_session and self.session_id:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with self._http.delete(self.url, headers=self._headers(), timeout=aiohttp.ClientTimeout(total=5)):
                    pass
        await self._http.close()


async def _sse_events(
    response: aiohttp.ClientResponse, max_event: int, too_large: Callable[[], Exception], cursor: SseCursor
) -> AsyncIterator[str]:
    """The `data` of each server-sent event with data; `cursor` follows the `id` and `retry` fields (of events
    without data too: servers send such "priming" events so that a stream can be resumed). Hand-written because it
    is on every call's path: a line-by-line decoder (httpx-sse) cost 0.5 ms a call here, this costs microseconds."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk.replace(b"\r\n", b"\n")
        *events, buffer = buffer.split(b"\n\n")
        if len(buffer) > max_event:
            raise too_large()
        for event in events:
            data: list[bytes] = []
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    data.append(line[5:].removeprefix(b" "))
                elif line.startswith(b"id:"):
                    cursor.last_id = line[3:].strip().decode(errors="replace") or None
                elif line.startswith(b"retry:") and line[6:].strip().isdigit():
                    cursor.retry_ms = int(line[6:].strip())
            if any(data):
                yield b"\n".join(data).decode()
