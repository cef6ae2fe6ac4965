"""MCP's streamable HTTP transport, server side, for the gateway's endpoints.

Why not the SDK's `StreamableHTTPSessionManager`: it keeps sessions in process memory, and the gateway's
contract is that any gateway replica serves any session (ARCHITECTURE.md, "Tool sessions"). So this module
speaks the transport itself (POST for messages, JSON or SSE replies, `Mcp-Session-Id`, DELETE to end, 404
for unknown sessions) and keeps sessions in the shared store, using the SDK's types for every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mcp import types
from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from orchestra.gateway.errors import GatewayError, SessionLost
from orchestra.gateway.router import CallContext, Endpoint, Router
from orchestra.gateway.rpc import RpcError, ToolResult
from orchestra.gateway.stores import SessionRecord

log = logging.getLogger("orchestra.gateway")

SESSION_HEADER = "mcp-session-id"
_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_REQUEST_CANCELLED = -32800


@dataclass(eq=False)  # hashed by identity: one listener per call
class _LogListener:
    queue: asyncio.Queue[dict[str, Any]]
    min_level: int
    replica: str | None  # dedicated pools: only the client's own replica


class LogHub:
    """Routes upstream log notifications to the SSE streams of calls in flight on the same pool."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[_LogListener]] = {}

    async def publish(self, pool: str, replica: str, params: types.LoggingMessageNotificationParams) -> None:
        log.debug("log from %s: %s", replica, params.data)
        level = _LEVELS.index(params.level)
        for listener in list(self._listeners.get(pool, ())):
            if level >= listener.min_level and listener.replica in (None, replica):
                listener.queue.put_nowait(_notification("notifications/message", params))

    @contextlib.contextmanager
    def listen(self, pool: str, listener: _LogListener) -> Any:
        self._listeners.setdefault(pool, set()).add(listener)
        try:
            yield
        finally:
            self._listeners[pool].discard(listener)


class McpEndpoint:
    """Serves one gateway's `/pools/<pool>/mcp`, `/tiers/<tier>/mcp` and `/mcp`."""

    def __init__(self, router: Router, logs: LogHub, *, version: str) -> None:
        self._router = router
        self._logs = logs
        self._version = version
        self._in_flight: dict[tuple[str, types.RequestId], asyncio.Task[Any]] = {}

    async def handle(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        if not self._router.exists(endpoint):
            return _http_error(404, f"no such endpoint /{endpoint.path}/mcp; see /admin/pools")
        if request.method == "GET":
            # No server-initiated stream: MCP lets a server answer 405 here.
            return Response(status_code=405, headers={"Allow": "POST, DELETE"})
        version = request.headers.get("mcp-protocol-version")
        if version and version not in SUPPORTED_PROTOCOL_VERSIONS:
            return _http_error(
                400, f"unsupported MCP-Protocol-Version {version!r}; supported: {SUPPORTED_PROTOCOL_VERSIONS}"
            )
        if request.method == "DELETE":
            return await self._delete(request, endpoint)
        return await self._post(request, endpoint, key_id)

    async def _delete(self, request: Request, endpoint: Endpoint) -> Response:
        session = await self._session(request, endpoint)
        if isinstance(session, Response):
            return session
        await self._router.end_session(session.id)
        return Response(status_code=200)

    async def _session(self, request: Request, endpoint: Endpoint) -> SessionRecord | Response:
        session_id = request.headers.get(SESSION_HEADER)
        if not session_id:
            return _http_error(400, "Mcp-Session-Id header is required; send initialize first")
        record = await self._router.sessions.load(session_id)
        if record is None or record.endpoint != endpoint.path:
            return _http_error(404, "session not found (expired or ended); initialize a new session")
        return record

    async def _post(self, request: Request, endpoint: Endpoint, key_id: str | None) -> Response:
        try:
            message = types.JSONRPCMessage.model_validate_json(await request.body())
        except ValidationError as exc:
            return _parse_error(exc)
        root = message.root
        if isinstance(root, types.JSONRPCRequest) and root.method == "initialize":
            return await self._initialize(root, endpoint)
        session = await self._session(request, endpoint)
        if isinstance(session, Response):
            return session
        if isinstance(root, types.JSONRPCNotification):
            if root.method == "notifications/cancelled":
                request_id = (root.params or {}).get("requestId")
                task = self._in_flight.get((session.id, request_id))
                if task is not None:
                    task.cancel()
            return Response(status_code=202)
        if not isinstance(root, types.JSONRPCRequest):
            return Response(status_code=202)  # a client's response to a server request: none are sent
        if root.method == "tools/call":
            return await self._call_tool(request, root, endpoint, session, key_id)
        try:
            result = await self._simple_request(root, endpoint, session)
        except GatewayError as exc:
            return _rpc_error(root.id, exc.to_error())
        except RpcError as exc:
            return _rpc_error(root.id, exc.error)
        return JSONResponse({"jsonrpc": "2.0", "id": root.id, "result": result})

    async def _initialize(self, root: types.JSONRPCRequest, endpoint: Endpoint) -> Response:
        try:
            params = types.InitializeRequestParams.model_validate(root.params or {})
        except ValidationError as exc:
            return _rpc_error(root.id, types.ErrorData(code=types.INVALID_PARAMS, message=f"bad initialize: {exc}"))
        asked = params.protocolVersion
        version = asked if asked in SUPPORTED_PROTOCOL_VERSIONS else types.LATEST_PROTOCOL_VERSION
        session = SessionRecord(id=secrets.token_hex(16), endpoint=endpoint.path, protocol_version=version)
        await self._router.sessions.save(session)
        result = types.InitializeResult(
            protocolVersion=version,
            capabilities=types.ServerCapabilities(
                tools=types.ToolsCapability(listChanged=False), logging=types.LoggingCapability()
            ),
            serverInfo=types.Implementation(name=f"orchestra-gateway/{endpoint.path}", version=self._version),
            instructions=f"Orchestra MCP gateway, endpoint /{endpoint.path}/mcp.",
        )
        return JSONResponse(
            {"jsonrpc": "2.0", "id": root.id, "result": _dump(result)}, headers={SESSION_HEADER: session.id}
        )

    async def _simple_request(
        self, root: types.JSONRPCRequest, endpoint: Endpoint, session: SessionRecord
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
            return {}
        raise RpcError({"code": types.METHOD_NOT_FOUND, "message": f"method {root.method!r} is not served"})

    async def _call_tool(
        self,
        request: Request,
        root: types.JSONRPCRequest,
        endpoint: Endpoint,
        session: SessionRecord,
        key_id: str | None,
    ) -> Response:
        try:
            params = types.CallToolRequestParams.model_validate(root.params or {})
        except ValidationError as exc:
            return _rpc_error(root.id, types.ErrorData(code=types.INVALID_PARAMS, message=f"bad tools/call: {exc}"))
        token = params.meta.progressToken if params.meta else None
        streams = "text/event-stream" in request.headers.get("accept", "")
        if not streams or (token is None and session.log_level is None):
            task = asyncio.create_task(
                self._router.call_tool(endpoint, params.name, params.arguments, CallContext(session, key_id))
            )
            reply = await self._await_call(task, root.id, session)
            return JSONResponse(reply)
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
            return _error_body(request_id, types.ErrorData(code=_REQUEST_CANCELLED, message="request cancelled"))
        except SessionLost as exc:
            await self._router.end_session(session.id)
            return _error_body(request_id, exc.to_error())
        except GatewayError as exc:
            return _error_body(request_id, exc.to_error())
        except RpcError as exc:
            return _error_body(request_id, exc.error)
        except Exception as exc:  # a fault of ours must still answer the client, never drop its connection
            log.exception("tools/call failed inside the gateway")
            message = f"gateway error: {type(exc).__name__}; see the gateway log"
            return _error_body(request_id, types.ErrorData(code=types.INTERNAL_ERROR, message=message))
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
    ) -> AsyncIterator[str]:
        """SSE: progress and log notifications for this call as they come, then its reply."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def progress(value: float, total: float | None, message: str | None) -> None:
            if token is not None:
                body = types.ProgressNotificationParams(
                    progressToken=token, progress=value, total=total, message=message
                )
                queue.put_nowait(_notification("notifications/progress", body))

        ctx = CallContext(session, key_id, progress=progress)
        task = asyncio.create_task(self._router.call_tool(endpoint, params.name, params.arguments, ctx))
        reply = asyncio.create_task(self._await_call(task, request_id, session))
        pool, replica = await self._log_source(endpoint, params.name, session)
        listener = _LogListener(queue, _LEVELS.index(session.log_level) if session.log_level else len(_LEVELS), replica)
        with self._logs.listen(pool, listener):
            try:
                while not reply.done() or not queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, reply}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield _sse(getter.result())
                    else:
                        getter.cancel()
                yield _sse(reply.result())
            finally:
                task.cancel()
                reply.cancel()

    async def _log_source(self, endpoint: Endpoint, tool: str, session: SessionRecord) -> tuple[str, str | None]:
        """The pool whose logs concern this call, and for a dedicated pool the client's own replica."""
        try:
            pool, _ = await self._router.resolve(endpoint, tool)
        except GatewayError:
            return "", None  # the call itself reports the unknown tool
        bound = session.bindings.get(pool.name)
        return pool.name, bound.replica if bound else None


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _notification(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": _dump(params)}


def _sse(body: dict[str, Any]) -> str:
    return f"event: message\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def _error_body(request_id: types.RequestId | None, error: types.ErrorData) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": _dump(error)}


def _rpc_error(request_id: types.RequestId | None, error: types.ErrorData) -> JSONResponse:
    return JSONResponse(_error_body(request_id, error))


def _http_error(status: int, message: str) -> JSONResponse:
    code = types.INVALID_REQUEST if status == 400 else -32001 if status == 404 else types.INTERNAL_ERROR
    return JSONResponse(_error_body(None, types.ErrorData(code=code, message=message)), status_code=status)


def _parse_error(exc: ValidationError) -> JSONResponse:
    first = exc.errors(include_url=False)[0]
    detail = "JSON-RPC batches are not supported" if first["type"] == "model_type" else first["msg"]
    return JSONResponse(
        _error_body(None, types.ErrorData(code=types.PARSE_ERROR, message=f"not a JSON-RPC message: {detail}")),
        status_code=400,
    )
