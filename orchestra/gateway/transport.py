"""MCP's streamable HTTP transport, server side, for the gateway's endpoints.

Why not the SDK's `StreamableHTTPSessionManager`: it keeps sessions in process memory, and the gateway's
contract is that any gateway replica serves any session (ARCHITECTURE.md, "Tool sessions"). So this module
speaks the transport itself (POST for messages, JSON or SSE replies, `Mcp-Session-Id`, DELETE to end, 404
for unknown sessions) and keeps sessions in the shared store, using the SDK's types for every message.

Every reply is JSON-RPC, whatever the input, and the HTTP statuses are the SDK's (`mcp.server.streamable_http`):
a POST whose `Accept` lacks `application/json` or `text/event-stream` gets 406, a `Content-Type` other than
`application/json` 415, malformed messages their JSON-RPC error with 400, oversized bodies 413, an unknown or
ended session 404 (with -32600, as the SDK; -32001 means a call timed out), an unreachable state store 503
with `Retry-After`. A session belongs to the API key that created it; to any other key it does not exist (404).
JSON-RPC batches are served on sessions that negotiated 2025-03-26, the one revision that has them.
An upstream's requests to the client during a call (sampling, elicitation, roots) go out on the call's SSE stream
when the session declared the capability; the client's answers come back as POSTed JSON-RPC responses. A call's
SSE stream can be resumed after a dropped connection (`callstreams`).

A POST without a session whose version header or `_meta` is MCP 2026-07-28's goes to `stateless` instead: one
endpoint serves both eras, as that revision's "dual-era server" does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from mcp import types
from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from orchestra.core import tracing
from orchestra.gateway.asks import ASKABLE, refusal
from orchestra.gateway.callstreams import CallStreams, StreamGone
from orchestra.gateway.errors import GatewayError, SessionLost, StateUnavailable
from orchestra.gateway.features import METHODS as FEATURE_METHODS
from orchestra.gateway.features import url_of
from orchestra.gateway.modern import MODERN_VERSIONS, is_modern
from orchestra.gateway.router import CallContext, Endpoint, Router
from orchestra.gateway.rpc import CallLog, RpcError, ToolResult
from orchestra.gateway.stateless import StatelessServer
from orchestra.gateway.stores import SessionRecord
from orchestra.gateway.wire import BadMessage, Incoming, JsonReply, error_body, parse_message, queued_until

log = logging.getLogger("orchestra.gateway")

SESSION_HEADER = "mcp-session-id"
_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_REQUEST_CANCELLED = -32800
BATCH_VERSION = "2025-03-26"  # the one MCP revision with JSON-RPC batches (2025-06-18 removed them)
MAX_BATCH = 100  # messages in one batch; they run concurrently
RESUMABLE_CALLS_SINCE = "2025-11-25"  # call streams open with a priming event from this revision on (SEP-1699)


class McpEndpoint:
    """Serves one gateway's `/pools/<pool>/mcp`, `/tiers/<tier>/mcp` and `/mcp`."""

    def __init__(self, router: Router, *, version: str, max_request_bytes: int) -> None:
        self._router = router
        self._version = version
        self._max_request_bytes = max_request_bytes
        self._in_flight: dict[tuple[str, types.RequestId], asyncio.Task[Any]] = {}
        # Requests an upstream asked of a client (sampling, elicitation, roots), by (client session, our id):
        # the client's answer resolves them. They live in this process, as the call's stream does.
        self._asked: dict[tuple[str, types.RequestId], asyncio.Future[dict[str, Any]]] = {}
        self._ask_ids = itertools.count(1)
        self.stateless = StatelessServer(router, version=version)
        self._calls = CallStreams()  # legacy sessions' resumable tools/call streams
        self._pumps: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self.stateless.close()
        self._calls.close()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def handle(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        if not self._router.exists(endpoint):
            return _http_error(404, f"no such endpoint {url_of(endpoint)}; see /admin/pools")
        version = request.headers.get("mcp-protocol-version", "").strip()
        if version in MODERN_VERSIONS and request.method != "POST" and SESSION_HEADER not in request.headers:
            return _http_error(405, f"MCP {version} has no GET stream and no sessions to DELETE: POST "
                               "subscriptions/listen for notifications")  # fmt: skip
        if request.method != "POST" and (refused := _check_version(version)) is not None:
            return refused
        try:
            if request.method == "DELETE":
                return await self._delete(request, endpoint, key_id)
            if request.method == "GET":
                return await self._listen(request, endpoint, key_id)
            return await self._post(request, endpoint, key_id)
        except StateUnavailable as exc:
            retry = exc.data.get("retry_after", 1)
            body = error_body(None, exc.to_error())
            return JsonReply(body, status_code=503, headers={"Retry-After": str(max(1, round(retry)))})
        except ClientDisconnect:
            return Response(status_code=400)

    async def _delete(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        session = await self._session(request, endpoint, key_id)
        if isinstance(session, Response):
            return session
        await self._router.end_session(session.id)
        return Response(status_code=200)

    async def _listen(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        """The session's GET stream: list changes and resource updates outside any call (see `push`)."""
        if "text/event-stream" not in request.headers.get("accept", ""):
            return _http_error(406, "GET opens an event stream: send Accept: text/event-stream")
        session = await self._session(request, endpoint, key_id)
        if isinstance(session, Response):
            return session
        resume_after = request.headers.get("last-event-id")
        if resume_after and self._calls.owns(resume_after):  # a call's stream that broke, picked up where it was
            try:
                call_stream = self._calls.read(*self._calls.find(resume_after, session.id))
            except StreamGone as exc:
                return _http_error(404, str(exc))
            return StreamingResponse(call_stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        stream = self._router.push.stream(session.id, endpoint, resume_after=resume_after, log_level=session.log_level)
        return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def _session(self, request: Request, endpoint: Endpoint, key_id: str | None) -> SessionRecord | Response:
        session_id = request.headers.get(SESSION_HEADER)
        if not session_id:
            return _http_error(400, "Mcp-Session-Id header is required; send initialize first")
        if len(session_id) > 128 or not session_id.isascii():
            return _http_error(404, "session not found (expired or ended); initialize a new session")
        record = await self._router.sessions.load(session_id)
        if record is None or record.endpoint != endpoint.path or record.key_id != key_id:
            return _http_error(404, "session not found (expired or ended); initialize a new session")
        return record

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None when it is over `max_request_bytes` (never read past the limit)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_request_bytes:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_request_bytes:
                return None
        return bytes(body)

    async def _post(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        refused = _check_post_headers(request)
        if refused is not None:
            return refused
        body = await self._read_body(request)
        if body is None:
            limit = f"{self._max_request_bytes / 2**20:g} MiB"
            message = f"request body over {limit} (gateway.http.max_request_bytes)"
            return JsonReply(error_body(None, types.ErrorData(code=types.INVALID_REQUEST, message=message)), 413)
        try:
            incoming = parse_message(body)
        except BadMessage as bad:
            return JsonReply(error_body(bad.request_id, bad.error), status_code=400)
        # MCP 2026-07-28 by its version header or its `_meta` (a session header on such a request is ignored, as
        # that revision says); batches and responses only by the header, as they carry no `_meta` of their own.
        message = incoming.request or incoming.notification
        params = message.params if message is not None else None
        if is_modern(request.headers, params):
            return await self.stateless.serve(request, endpoint, key_id, incoming)
        if (refused := _check_version(request.headers.get("mcp-protocol-version", "").strip())) is not None:
            return refused
        root = incoming.request
        if root is not None and root.method == "initialize":
            return await self._initialize(root, endpoint, key_id)
        session = await self._session(request, endpoint, key_id)
        if isinstance(session, Response):
            return session
        if incoming.batch is not None:
            return await self._batch(incoming.batch, endpoint, session, key_id)
        return await self._dispatch(incoming, endpoint, session, key_id, stream=True)

    async def _batch(
        self,
        batch: tuple[Incoming | BadMessage, ...],
        endpoint: Endpoint,
        session: SessionRecord,
        key_id: str | None,
    ) -> Response:
        """A JSON-RPC batch: one JSON array with a reply per request (202 when there are none), only on a session
        that negotiated 2025-03-26. Its messages run concurrently; replies never stream."""
        if session.protocol_version != BATCH_VERSION:
            message = (f"JSON-RPC batches are part of MCP {BATCH_VERSION} only; this session negotiated "
                       f"{session.protocol_version}: send one message per POST")  # fmt: skip
            return JsonReply(error_body(None, types.ErrorData(code=types.INVALID_REQUEST, message=message)), 400)
        if len(batch) > MAX_BATCH:
            message = f"a batch of {len(batch)} messages; the gateway takes at most {MAX_BATCH} in one"
            return JsonReply(error_body(None, types.ErrorData(code=types.INVALID_REQUEST, message=message)), 400)

        async def answer(item: Incoming | BadMessage) -> dict[str, Any] | None:
            if isinstance(item, BadMessage):
                return error_body(item.request_id, item.error)
            if item.request is not None and item.request.method == "initialize":
                error = types.ErrorData(code=types.INVALID_REQUEST, message="initialize cannot be part of a batch")
                return error_body(item.request.id, error)
            reply = await self._dispatch(item, endpoint, session, key_id, stream=False)
            return json.loads(reply.body) if reply.body else None

        replies = [reply for reply in await asyncio.gather(*(answer(item) for item in batch)) if reply is not None]
        return JsonReply(replies) if replies else Response(status_code=202)

    async def _dispatch(
        self,
        incoming: Incoming,
        endpoint: Endpoint,
        session: SessionRecord,
        key_id: str | None,
        *,
        stream: bool,
    ) -> Response:
        """One message of an initialized session; with `stream`, a call may answer as an SSE stream."""
        root = incoming.request
        if incoming.notification is not None:
            if incoming.notification.method == "notifications/cancelled":
                self._cancel(session, incoming.notification.params)
            return Response(status_code=202)
        if root is None:  # a client's answer to a request an upstream asked of it, during a call of this session
            response = incoming.response or {}
            asked = self._asked.get((session.id, response.get("id")))
            if asked is not None and not asked.done():
                asked.set_result(response)
            return Response(status_code=202)
        if root.method == "tools/call":
            return await self._call_tool(root, endpoint, session, key_id, stream=stream)
        try:
            result = await self._simple_request(root, endpoint, session, key_id)
        except GatewayError as exc:
            return _rpc_error(root.id, exc.to_error())
        except RpcError as exc:
            return _rpc_error(root.id, exc.error)
        return JsonReply({"jsonrpc": "2.0", "id": root.id, "result": result})

    def _cancel(self, session: SessionRecord, params: Any) -> None:
        try:
            cancelled = types.CancelledNotificationParams.model_validate(params or {})
        except ValidationError:
            return  # a notification gets no reply, so a malformed one is dropped
        task = self._in_flight.get((session.id, cancelled.requestId))
        if task is not None:
            task.cancel()

    async def _initialize(self, root: types.JSONRPCRequest, endpoint: Endpoint, key_id: str | None) -> Response:
        try:
            params = types.InitializeRequestParams.model_validate(root.params or {})
        except ValidationError as exc:
            detail = exc.errors(include_url=False)[0]
            message = f"bad initialize: {'.'.join(map(str, detail['loc']))}: {detail['msg']}"
            return _rpc_error(root.id, types.ErrorData(code=types.INVALID_PARAMS, message=message))
        asked = params.protocolVersion
        version = asked if asked in SUPPORTED_PROTOCOL_VERSIONS else types.LATEST_PROTOCOL_VERSION
        session = SessionRecord(
            id=secrets.token_hex(16), endpoint=endpoint.path, protocol_version=version, key_id=key_id,
            capabilities=params.capabilities.model_dump(by_alias=True, exclude_none=True, mode="json"),
        )  # fmt: skip
        await self._router.sessions.save(session)
        server_info, instructions = self._router.server_info(endpoint, self._version)
        result = {
            "protocolVersion": version,
            "capabilities": self._router.capabilities(endpoint),
            "serverInfo": server_info,
            **({"instructions": instructions} if instructions else {}),
        }
        body = {"jsonrpc": "2.0", "id": root.id, "result": result}
        return JsonReply(body, headers={SESSION_HEADER: session.id})

    async def _simple_request(
        self, root: types.JSONRPCRequest, endpoint: Endpoint, session: SessionRecord, key_id: str | None
    ) -> dict[str, Any]:
        if root.method == "ping":
            return {}
        if root.method == "tools/list":
            tools = await self._router.list_tools(endpoint)
            return {"tools": [_dump(tool) for tool in tools]}
        if root.method == "logging/setLevel":
            level = (root.params or {}).get("level")
            if level not in _LEVELS:
                raise RpcError({"code": types.INVALID_PARAMS, "message": f"level must be one of {_LEVELS}"})
            session.log_level = level
            await self._router.sessions.save(session)
            self._router.push.set_log_level(session.id, level)
            return {}
        if root.method in FEATURE_METHODS:
            return await self._router.feature_request(endpoint, session, key_id, root.method, root.params)
        raise RpcError({"code": types.METHOD_NOT_FOUND, "message": f"method {root.method[:100]!r} is not served"})

    async def _call_tool(
        self,
        root: types.JSONRPCRequest,
        endpoint: Endpoint,
        session: SessionRecord,
        key_id: str | None,
        *,
        stream: bool,
    ) -> Response:
        try:
            params = types.CallToolRequestParams.model_validate(root.params or {})
        except ValidationError as exc:
            detail = exc.errors(include_url=False)[0]
            message = f"bad tools/call: {'.'.join(map(str, detail['loc']))}: {detail['msg']}"
            return _rpc_error(root.id, types.ErrorData(code=types.INVALID_PARAMS, message=message))
        token = params.meta.progressToken if params.meta else None
        askable = any(session.capabilities.get(c) is not None for c in ASKABLE.values())
        if not stream or (token is None and session.log_level is None and not askable):
            log_to = CallLog(session.id, None, _refuse_asks(session), session.capabilities)
            trace_context = tracing.carried(params.meta.model_dump() if params.meta else None)
            ctx = CallContext(session, key_id, log_to=log_to, trace=trace_context)
            task = asyncio.create_task(self._router.call_tool(endpoint, params.name, params.arguments, ctx))
            return JsonReply(await self._await_call(task, root.id, session))
        return StreamingResponse(
            self._stream_call(root.id, endpoint, params, token, session, key_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def _await_call(
        self, task: asyncio.Task[ToolResult], request_id: types.RequestId, session: SessionRecord
    ) -> dict[str, Any]:
        """The JSON-RPC reply for a call; cancellation, gateway errors and upstream errors become errors."""
        key = (session.id, request_id)
        self._in_flight[key] = task
        try:
            result = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                task.cancel()
                raise
            return error_body(request_id, types.ErrorData(code=_REQUEST_CANCELLED, message="request cancelled"))
        except SessionLost as exc:
            await self._router.end_session(session.id)
            return error_body(request_id, exc.to_error())
        except GatewayError as exc:
            return error_body(request_id, exc.to_error())
        except RpcError as exc:
            return error_body(request_id, exc.error)
        except Exception as exc:  # a fault of ours must still answer the client, never drop its connection
            log.exception("tools/call failed inside the gateway")
            message = f"gateway error: {type(exc).__name__}; see the gateway log"
            return error_body(request_id, types.ErrorData(code=types.INTERNAL_ERROR, message=message))
        finally:
            self._in_flight.pop(key, None)
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _stream_call(
        self,
        request_id: types.RequestId,
        endpoint: Endpoint,
        params: types.CallToolRequestParams,
        token: types.ProgressToken | None,
        session: SessionRecord,
        key_id: str | None,
    ) -> AsyncIterator[bytes]:
        """SSE: progress and this session's log notifications for this call as they come, then its reply."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        min_level = _LEVELS.index(session.log_level) if session.log_level else len(_LEVELS)

        async def progress(value: float, total: float | None, message: str | None) -> None:
            if token is not None:
                body = types.ProgressNotificationParams(
                    progressToken=token, progress=value, total=total, message=message
                )
                queue.put_nowait(_notification("notifications/progress", body))

        async def upstream_log(message: types.LoggingMessageNotificationParams) -> None:
            if _LEVELS.index(message.level) >= min_level:
                queue.put_nowait(_notification("notifications/message", message))

        asked: set[types.RequestId] = set()

        async def ask(method: str, ask_params: dict[str, Any]) -> Any:
            """The upstream asks the client (sampling, elicitation, roots): on this call's stream, when the session
            declared the capability; the client's answer comes in a POST of the same session."""
            refused = _refusal_for(session, method, ask_params)
            if refused is not None:
                raise RpcError(refused)
            ask_id = next(self._ask_ids)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._asked[(session.id, ask_id)] = future
            asked.add(ask_id)
            try:
                queue.put_nowait({"jsonrpc": "2.0", "id": ask_id, "method": method, "params": ask_params})
                answer = await future
            finally:
                self._asked.pop((session.id, ask_id), None)
                asked.discard(ask_id)
            if "error" in answer:
                try:
                    raise RpcError(answer["error"])
                except ValidationError:
                    malformed = {"code": types.INTERNAL_ERROR, "message": "the client sent a malformed error"}
                    raise RpcError(malformed) from None
            return answer.get("result", {})

        log_to = CallLog(session.id, upstream_log, ask, session.capabilities)
        trace_context = tracing.carried(params.meta.model_dump() if params.meta else None)
        ctx = CallContext(session, key_id, progress=progress, log_to=log_to, trace=trace_context)
        task = asyncio.create_task(self._router.call_tool(endpoint, params.name, params.arguments, ctx))
        reply = asyncio.create_task(self._await_call(task, request_id, session))
        stream = self._calls.open(session.id, on_abandon=reply.cancel)

        async def pump() -> None:
            """The call's messages into its resumable stream, whoever is reading it (see `callstreams`)."""
            try:
                async for message in queued_until(queue, reply):
                    stream.add(message)
                self._calls.finish(stream, reply.result())
            except asyncio.CancelledError:  # abandoned, or the gateway is stopping
                cancelled = types.ErrorData(code=_REQUEST_CANCELLED, message="request cancelled")
                self._calls.finish(stream, error_body(request_id, cancelled))
            finally:
                for ask_id in list(asked):  # the call ended before the client answered: the upstream hears so
                    future = self._asked.pop((session.id, ask_id), None)
                    if future is not None and not future.done():
                        future.set_exception(RpcError({"code": types.INTERNAL_ERROR, "message": "the call ended"}))

        self._pumps.add(pumping := asyncio.create_task(pump()))
        pumping.add_done_callback(self._pumps.discard)
        async for event in self._calls.read(stream, prime=session.protocol_version >= RESUMABLE_CALLS_SINCE):
            yield event


def _refusal_for(session: SessionRecord, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    return refusal(session.capabilities, method, params, "its initialize")


def _refuse_asks(session: SessionRecord) -> Any:
    """`ask` for a call answered as plain JSON: a session that declared none of sampling, elicitation and roots (or a
    batch, whose replies never stream) cannot be asked; the upstream hears why at once."""

    async def refuse(method: str, params: dict[str, Any]) -> Any:
        refused = _refusal_for(session, method, params)
        if refused is None:
            refused = {"code": types.INVALID_REQUEST,
                       "message": f"{method} cannot reach the client from a call inside a JSON-RPC batch"}  # fmt: skip
        raise RpcError(refused)

    return refuse


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _notification(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": _dump(params)}


def _rpc_error(request_id: types.RequestId | None, error: types.ErrorData) -> JsonReply:
    return JsonReply(error_body(request_id, error))


def _http_error(status: int, message: str) -> JsonReply:
    """A transport-level refusal: JSON-RPC error without an id, -32600 for every 4xx, as the SDK answers them."""
    code = types.INVALID_REQUEST if status < 500 else types.INTERNAL_ERROR
    return JsonReply(error_body(None, types.ErrorData(code=code, message=message)), status_code=status)


def _check_version(version: str) -> Response | None:
    if version and version not in SUPPORTED_PROTOCOL_VERSIONS:
        supported = [*MODERN_VERSIONS, *SUPPORTED_PROTOCOL_VERSIONS]
        return _http_error(400, f"unsupported MCP-Protocol-Version {version[:64]!r}; supported: {supported}")
    return None


def _media_types(header: str) -> set[str]:
    return {part.split(";")[0].strip().lower() for part in header.split(",")}


def _check_post_headers(request: Request) -> Response | None:
    """406 unless `Accept` lists both reply types, 415 unless the body is declared JSON: MCP requires both of a
    client ("The client MUST include an Accept header, listing both application/json and text/event-stream"),
    and the SDK's server refuses them with these statuses."""
    accepted = _media_types(request.headers.get("accept", ""))
    if not {"application/json", "text/event-stream"} <= accepted:
        return _http_error(406, "Not Acceptable: send Accept: application/json, text/event-stream (MCP requires both)")
    if _media_types(request.headers.get("content-type", "")) != {"application/json"}:
        return _http_error(415, "Unsupported Media Type: Content-Type must be application/json")
    return None
