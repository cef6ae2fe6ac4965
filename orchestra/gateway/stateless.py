"""The gateway's endpoints for modern clients (MCP 2026-07-28): every request served on its own, on any replica.

A request whose `_meta` (or version header) is modern never touches the session store: who is calling, what
the client supports and which log level it wants all come with the request. It is checked in the revision's
order: `_meta` (-32602), mirrored headers (-32020), protocol version (-32022), then served through the same
router as a legacy session's request, so names, filters, egress rules, rate limits and the result cache are
the same for both eras. What differs is how results come back: `resultType` on every result, the gateway's
identity in `_meta`, caching hints on lists and reads, and, when an upstream asks the client something
mid-call, an `input_required` result (see `mrtr`). Change notifications go out on `subscriptions/listen`
streams, which registers with `push` like a legacy GET stream.

A modern request sent to a dedicated pool gets an upstream session for that request alone, released when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from orchestra.core import tracing
from orchestra.gateway.asks import refusal
from orchestra.gateway.errors import GatewayError
from orchestra.gateway.modern import (
    CACHEABLE_METHODS,
    HTTP_STATUS,
    INVALID_PARAMS,
    META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    REQUEST_META_KEYS,
    UNSUPPORTED_PROTOCOL_VERSION,
    ListenFilter,
    ModernError,
    RequestMeta,
    caching,
    check_headers,
    check_parameter_headers,
    check_single_headers,
    request_meta,
)
from orchestra.gateway.mrtr import HeldCalls, owner_of
from orchestra.gateway.router import CallContext, Endpoint, Router
from orchestra.gateway.rpc import CallLog, RpcError
from orchestra.gateway.stores import EPHEMERAL_PREFIX, SessionRecord
from orchestra.gateway.wire import Incoming, JsonReply, events_then_reply

if TYPE_CHECKING:
    from mcp import types

log = logging.getLogger("orchestra.gateway")
SUPPORTED_VERSIONS = [*MODERN_VERSIONS, *reversed(SUPPORTED_PROTOCOL_VERSIONS)]  # legacy ones via `initialize`
_SERVED = frozenset({
    "server/discover", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
    "resources/templates/list", "resources/read", "completion/complete", "subscriptions/listen",
})  # fmt: skip
# resources/read of an unknown URI before 2026-07-28 (-32002; FastMCP 1.x answers 0); now -32602 with the URI
_LEGACY_NOT_FOUND = (-32002, 0)
_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class StatelessServer:
    """Answers the modern requests of one gateway's endpoints."""

    def __init__(self, router: Router, *, version: str) -> None:
        self._router = router
        self._version = version
        self.held = HeldCalls()

    async def serve(self, request: Request, endpoint: Endpoint, key_id: str | None, incoming: Incoming) -> Response:
        if incoming.batch is not None:
            return _error(None, ModernError(-32600, f"MCP {MODERN_VERSIONS[0]} has no JSON-RPC batches", status=400))
        if incoming.request is None:
            # Notifications need no answer (closing a response stream is what cancels a request); responses have
            # nothing to answer: a modern client answers input requests by retrying its request.
            if incoming.response is not None:
                why = "a modern client answers input requests in its retry, not with a JSON-RPC response"
                return _error(None, ModernError(-32600, why, status=400))
            return Response(status_code=202)
        root = incoming.request
        params = dict(root.params or {})
        try:
            return await self._serve(request, endpoint, key_id, root, params)
        except Exception:  # a fault of ours still answers in JSON-RPC, and says where to look
            log.exception("a modern %s request failed inside the gateway", root.method[:100])
            fault = ModernError(-32603, "gateway error; see the gateway log", status=500)
            return _error(root.id, fault)

    async def _serve(
        self, request: Request, endpoint: Endpoint, key_id: str | None, root: types.JSONRPCRequest,
        params: dict[str, Any],
    ) -> Response:  # fmt: skip
        try:
            meta = request_meta(params)
            check_single_headers(list(request.headers.keys()))
            check_headers(request.headers, root.method, params, meta)
            if meta.protocol_version not in MODERN_VERSIONS:
                data = {"supported": SUPPORTED_VERSIONS, "requested": meta.protocol_version}
                raise ModernError(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", data)
            if root.method not in _SERVED:
                raise ModernError(METHOD_NOT_FOUND, f"method {root.method[:100]!r} is not served in MCP "
                                  f"{meta.protocol_version}")  # fmt: skip
            session = _session(endpoint, key_id, meta)
            if root.method == "subscriptions/listen":
                return await self._listen(root.id, endpoint, session, params)
            if root.method == "tools/call":
                return await self._call_tool(request, root.id, endpoint, session, params)
            result = await self._request(root.method, endpoint, session, params)
        except ModernError as refused:
            return _error(root.id, refused)
        except GatewayError as exc:
            return _error(root.id, _from_rpc(_dumped(exc.to_error())))
        except RpcError as exc:
            return _error(root.id, _from_rpc(_dumped(exc.error), root.method, params))
        return JsonReply({"jsonrpc": "2.0", "id": root.id, "result": result})

    # -- plain requests -------------------------------------------------------------------------------
    async def _request(
        self, method: str, endpoint: Endpoint, session: SessionRecord, params: dict[str, Any]
    ) -> dict[str, Any]:
        if method == "server/discover":
            result = self._discover(endpoint)
        elif method == "tools/list":
            result = {"tools": [tool.model_dump(by_alias=True, exclude_none=True, mode="json")
                                for tool in await self._router.list_tools(endpoint)]}  # fmt: skip
        else:
            try:
                result = await self._router.feature_request(
                    endpoint, session, session.key_id, method, _upstream_params(params)
                )
            finally:
                await self._release(session)
        result = result if isinstance(result, dict) else {}
        if method in CACHEABLE_METHODS and result.get("resultType", "complete") == "complete":
            result = self._cacheable(result, endpoint, session, listing=method == "tools/list")
        return self._identified(result, endpoint)

    def _cacheable(
        self, result: dict[str, Any], endpoint: Endpoint, session: SessionRecord, *, listing: bool
    ) -> dict[str, Any]:
        """The caching hints: a modern upstream's own (on what it answered, or on the tools catalogue it listed),
        else `ttlMs` 0 (nothing says how long a legacy upstream's answer stays true: the client relies on change
        notices). Private when any source says so, and always behind API keys: an answer for key holders must not
        be shared by a cache with those who have none."""
        ttl, private = result.get("ttlMs"), result.get("cacheScope") == "private"
        if listing:
            pools = self._router.pools_of(endpoint)
            ttls = [pool.listing_ttl_ms for pool in pools]
            ttl = min(ttls) if ttls and None not in ttls else 0  # type: ignore[type-var]
            private = any(pool.listing_private for pool in pools)
        ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0 else 0
        scope = "private" if private or session.key_id is not None else "public"
        return caching(result, ttl, scope)

    def _discover(self, endpoint: Endpoint) -> dict[str, Any]:
        capabilities = self._router.capabilities(endpoint)
        # Subscriptions are `subscriptions/listen` now; the legacy `subscribe` flag and logging/setLevel are gone.
        if "resources" in capabilities:
            capabilities["resources"] = {"listChanged": True, "subscribe": capabilities["resources"]["subscribe"]}
        _, instructions = self._router.server_info(endpoint, self._version)
        result: dict[str, Any] = {"supportedVersions": SUPPORTED_VERSIONS, "capabilities": capabilities}
        if instructions:
            result["instructions"] = instructions
        return result

    def _identified(self, result: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
        """The result as the revision has it: `resultType`, and who answered (the endpoint's `serverInfo`: a pool
        endpoint's upstream's own, the gateway's on tier and `/mcp` endpoints)."""
        meta = result.get("_meta") if isinstance(result.get("_meta"), dict) else {}
        info, _ = self._router.server_info(endpoint, self._version)
        return {**result, "resultType": result.get("resultType", "complete"), "_meta": {**meta, META_SERVER_INFO: info}}

    async def _release(self, session: SessionRecord) -> None:
        """A dedicated pool's upstream session, opened for this request alone, is let go with it."""
        if self._router.holds_bindings(session.id):
            await self._router.end_session(session.id)

    # -- tools/call -----------------------------------------------------------------------------------
    async def _call_tool(
        self, request: Request, request_id: types.RequestId, endpoint: Endpoint, session: SessionRecord,
        params: dict[str, Any],
    ) -> Response:  # fmt: skip
        name, arguments = params.get("name"), params.get("arguments")
        if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
            raise ModernError(INVALID_PARAMS, "tools/call needs params.name (a string) and params.arguments (an "
                              "object, or absent)")  # fmt: skip
        _, tool = await self._router.resolve(endpoint, name)
        check_parameter_headers(request.headers, tool.inputSchema, arguments)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        meta = params.get("_meta") or {}
        token = meta.get("progressToken")
        min_level = _LEVELS.index(session.log_level) if session.log_level else len(_LEVELS)

        async def progress(value: float, total: float | None, message: str | None) -> None:
            if token is not None:
                body = {"progressToken": token, "progress": value, "total": total, "message": message}
                queue.put_nowait(_notification("notifications/progress", body))

        async def upstream_log(message: types.LoggingMessageNotificationParams) -> None:
            if _LEVELS.index(message.level) >= min_level:
                queue.put_nowait(_notification("notifications/message", message.model_dump(mode="json")))

        # A modern upstream's own round-trip fields go back to it untouched; ours (see `mrtr`) stay here.
        carry = {k: params[k] for k in ("inputResponses", "requestState") if k in params}
        carry = {} if self.held.owns(params.get("requestState")) else carry

        async def run(ask: Any) -> dict[str, Any]:
            log_to = CallLog(session.id, upstream_log, ask, session.capabilities, carry)
            ctx = CallContext(session, session.key_id, progress=progress, log_to=log_to, trace=tracing.carried(meta))
            try:
                return await self._router.call_tool(endpoint, name, arguments, ctx)
            finally:
                await self._release(session)

        def may_ask(method: str, ask_params: dict[str, Any]) -> dict[str, Any] | None:
            return refusal(session.capabilities, method, ask_params, "this request's _meta clientCapabilities")

        owner = owner_of(endpoint.path, session.key_id, "tools/call", params)
        work = self.held.call(run, owner, params, may_ask, session.key_id)
        reply = asyncio.ensure_future(self._reply(request_id, endpoint, work))
        if token is None and session.log_level is None:
            gone = asyncio.ensure_future(_disconnected(request))
            try:  # closing the connection cancels the call, as closing an SSE stream does
                await asyncio.wait({reply, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not reply.done():
                    reply.cancel()
                    return Response(status_code=499)  # nobody is left to read it
                body, status = reply.result()
            finally:
                reply.cancel()
                gone.cancel()
            return JsonReply(body, status_code=status)
        return StreamingResponse(
            _stream(queue, reply), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def _reply(self, request_id: types.RequestId, endpoint: Endpoint, work: Any) -> tuple[dict[str, Any], int]:
        try:
            result = await work
        except ModernError as refused:
            return _error_body(request_id, refused), refused.status
        except GatewayError as exc:
            refused = _from_rpc(_dumped(exc.to_error()))
            return _error_body(request_id, refused), refused.status
        except RpcError as exc:
            refused = _from_rpc(_dumped(exc.error))
            return _error_body(request_id, refused), refused.status
        return {"jsonrpc": "2.0", "id": request_id, "result": self._identified(result, endpoint)}, 200

    # -- subscriptions/listen -------------------------------------------------------------------------
    async def _listen(
        self, request_id: types.RequestId, endpoint: Endpoint, session: SessionRecord, params: dict[str, Any]
    ) -> Response:
        try:
            wanted = ListenFilter.model_validate(params.get("notifications") or {})
        except ValueError as exc:
            raise ModernError(INVALID_PARAMS, f"bad params.notifications: {exc}", status=400) from None
        capabilities = self._router.capabilities(endpoint)
        agreed: dict[str, Any] = {"toolsListChanged": wanted.toolsListChanged}
        if "prompts" in capabilities:
            agreed["promptsListChanged"] = wanted.promptsListChanged
        if "resources" in capabilities:
            agreed["resourcesListChanged"] = wanted.resourcesListChanged
            agreed["resourceSubscriptions"] = await self._subscribe(endpoint, session, wanted.resourceSubscriptions)
        agreed = {k: v for k, v in agreed.items() if v}
        tag = {META_SUBSCRIPTION_ID: request_id}
        kinds = {f"notifications/{kind}/list_changed" for kind in ("tools", "prompts", "resources")
                 if agreed.get(f"{kind}ListChanged")}  # fmt: skip
        uris = set(agreed.get("resourceSubscriptions", ()))

        def shape(message: dict[str, Any]) -> dict[str, Any] | None:
            method, body = message.get("method"), dict(message.get("params") or {})
            if method in kinds or (method == "notifications/resources/updated" and body.get("uri") in uris):
                return {"jsonrpc": "2.0", "method": method, "params": {**body, "_meta": tag}}
            return None

        first = {"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                 "params": {"_meta": tag, "notifications": agreed}}  # fmt: skip
        last = {"jsonrpc": "2.0", "id": request_id, "result": {"resultType": "complete", "_meta": tag}}

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for event in self._router.push.stream(
                    session.id, endpoint, shape=shape, first=first, last=last, resumable=False
                ):
                    yield event
            finally:
                await self._router.end_session(session.id)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    async def _subscribe(self, endpoint: Endpoint, session: SessionRecord, uris: list[str]) -> list[str]:
        """Subscribe the listen stream to each resource it names; the ones no pool here can watch are left out of
        the acknowledgement, as the revision asks."""
        subscribed = []
        for uri in uris:
            try:
                await self._router.feature_request(
                    endpoint, session, session.key_id, "resources/subscribe", {"uri": uri}
                )
            except (GatewayError, RpcError):
                continue
            subscribed.append(uri)
        return subscribed

    async def close(self) -> None:
        await self.held.close()


def _session(endpoint: Endpoint, key_id: str | None, meta: RequestMeta) -> SessionRecord:
    """The request's caller, as the router knows callers; never stored (a dedicated pool stores it while it holds
    an upstream session for the request)."""
    return SessionRecord(
        id=f"{EPHEMERAL_PREFIX}{secrets.token_hex(12)}", endpoint=endpoint.path, protocol_version=meta.protocol_version,
        key_id=key_id, log_level=meta.log_level, capabilities=meta.client_capabilities,
    )  # fmt: skip


def _upstream_params(params: dict[str, Any]) -> dict[str, Any]:
    """The request's params as a legacy upstream takes them: without the modern per-request `_meta` fields."""
    meta = {k: v for k, v in (params.get("_meta") or {}).items() if k not in REQUEST_META_KEYS}
    forwarded = {k: v for k, v in params.items() if k != "_meta"}
    return {**forwarded, "_meta": meta} if meta else forwarded


def _from_rpc(error: dict[str, Any], method: str = "", params: dict[str, Any] | None = None) -> ModernError:
    """An error from the router or an upstream, in this revision's terms (and HTTP status)."""
    code = error.get("code", -32603)
    message = str(error.get("message", "error"))
    if code in _LEGACY_NOT_FOUND and method == "resources/read":
        return ModernError(INVALID_PARAMS, message, {"uri": (params or {}).get("uri")})
    return ModernError(code, message, error.get("data"), status=HTTP_STATUS.get(code, 200))


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone: the body is read, so the next message the server hears is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _dumped(error: types.ErrorData) -> dict[str, Any]:
    return error.model_dump(exclude_none=True)


def _error_body(request_id: types.RequestId | None, refused: ModernError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": refused.error()}


def _error(request_id: types.RequestId | None, refused: ModernError) -> JsonReply:
    return JsonReply(_error_body(request_id, refused), status_code=refused.status)


def _notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": {k: v for k, v in params.items() if v is not None}}


async def _stream(queue: asyncio.Queue[dict[str, Any]], reply: asyncio.Future[tuple[dict[str, Any], int]]) -> Any:
    """The call's SSE body; the client closing it cancels the call (the revision's cancellation over HTTP)."""
    body: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(_first(reply))
    try:
        async for event in events_then_reply(queue, body):
            yield event
    finally:
        body.cancel()
        reply.cancel()


async def _first(reply: asyncio.Future[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    return (await reply)[0]
