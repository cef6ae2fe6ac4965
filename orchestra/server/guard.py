"""The first thing every request meets: Host and Origin checks (403) and the body size limit (413), before any
route, key check or body parsing runs."""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestra.server.auth import Access


class _TooLarge(HTTPException):
    """Raised while the body is read; an HTTPException, so FastAPI answers it (413) instead of "cannot parse"."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes (server.http.max_request_bytes)")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, access: Access, bound_host: str, max_bytes: int) -> None:
        self._app, self._access, self._bound, self._max = app, access, bound_host, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        host, origin = headers.get("host"), headers.get("origin")
        if not self._access.host_allowed(host, self._bound):
            await _refuse(send, 403, "this Host header is not allowed (DNS-rebinding protection); an operator can "
                                     "list it in server.http.allowed_hosts")  # fmt: skip
            return
        if not self._access.origin_allowed(origin, host):
            await _refuse(send, 403, "this Origin is not allowed (DNS-rebinding protection); an operator can list "
                                     "it in server.http.allowed_origins")  # fmt: skip
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self._max:
            await _refuse(send, 413, f"request body over {self._max} bytes (server.http.max_request_bytes)")
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max:
                raise _TooLarge(self._max)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, tracked)
        except _TooLarge as exc:
            if not started:
                await _refuse(send, 413, exc.detail)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
