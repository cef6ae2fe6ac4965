"""What crosses the client-facing wire: reading a JSON-RPC message strictly, and writing JSON that always encodes.

Why not `types.JSONRPCMessage.model_validate_json` alone: its union accepts a message with a `method` and an
invalid `id` (`{}`, `[1]`, `1.5`, `null`, `true`) as a notification, which would be answered with an empty 202
instead of an error. And Starlette's JSONResponse fails with a plain-text 500 on a lone surrogate (`"\\ud800"`)
that an upstream put in its result; here such code points become U+FFFD, so every reply is valid UTF-8 JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mcp import types
from pydantic import ValidationError
from starlette.responses import Response

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_bytes(body: Any) -> bytes:
    """Compact JSON as UTF-8; lone surrogates (which UTF-8 cannot carry) become U+FFFD."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


class JsonReply(Response):
    """A JSON response rendered with `json_bytes`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def sse_event(body: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + json_bytes(body) + b"\n\n"


async def queued_until(
    queue: asyncio.Queue[dict[str, Any]], reply: asyncio.Future[Any]
) -> AsyncIterator[dict[str, Any]]:
    """The messages queued for a request as they come, until its reply is in and none is left."""
    while not reply.done() or not queue.empty():
        getter = asyncio.ensure_future(queue.get())
        await asyncio.wait({getter, reply}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            yield getter.result()
        else:
            getter.cancel()


async def events_then_reply(
    queue: asyncio.Queue[dict[str, Any]], reply: asyncio.Future[dict[str, Any]]
) -> AsyncIterator[bytes]:
    """An SSE response body: the messages queued for a request as they come, then its reply."""
    async for message in queued_until(queue, reply):
        yield sse_event(message)
    yield sse_event(reply.result())


def error_body(request_id: types.RequestId | None, error: types.ErrorData) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.model_dump(mode="json", exclude_none=True)}


def _not_json(token: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have; upstreams would never answer them.
    raise ValueError(f"{token} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a JSON number")
    return value


def _has_lone_surrogate(data: Any) -> bool:
    """Whether any key or string in parsed JSON holds a surrogate code point (valid pairs decode to one char)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


class BadMessage(Exception):
    """The body is not a JSON-RPC message the gateway serves; `error` goes back with HTTP 400."""

    def __init__(self, code: int, message: str, request_id: types.RequestId | None = None) -> None:
        super().__init__(message)
        self.error = types.ErrorData(code=code, message=message)
        self.request_id = request_id


@dataclass(frozen=True)
class Incoming:
    """One message from a client: exactly one of request, notification or response is set; or, for a JSON-RPC
    batch (MCP 2025-03-26 only), `batch` holds each of its messages, or the `BadMessage` it is."""

    request: types.JSONRPCRequest | None = None
    notification: types.JSONRPCNotification | None = None
    response: dict[str, Any] | None = None
    batch: tuple[Incoming | BadMessage, ...] | None = None


def parse_message(body: bytes) -> Incoming:
    """Classify a POST body by JSON-RPC 2.0's rules; raises `BadMessage` with the code the spec assigns."""
    try:
        data = json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except ValueError as exc:  # includes bytes that are not UTF-8
        raise BadMessage(types.PARSE_ERROR, f"not JSON: {exc}") from None
    except RecursionError:
        raise BadMessage(types.PARSE_ERROR, "not JSON the gateway accepts: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(data):
        # Not Unicode: upstream servers drop such messages without an answer, so the call would only time out.
        raise BadMessage(types.INVALID_REQUEST, "the message holds a lone UTF-16 surrogate (e.g. \\ud800), "
                         "which is not valid Unicode; send whole characters")  # fmt: skip
    if isinstance(data, list):
        if not data:  # JSON-RPC: an empty batch gets one error, not an empty array
            raise BadMessage(types.INVALID_REQUEST, "an empty JSON-RPC batch; send at least one message")
        return Incoming(batch=tuple(_one_of_batch(item) for item in data))
    return _classify(data)


def _one_of_batch(data: Any) -> Incoming | BadMessage:
    if isinstance(data, list):
        return BadMessage(types.INVALID_REQUEST, "a JSON-RPC batch cannot hold another batch")
    try:
        return _classify(data)
    except BadMessage as bad:
        return bad


def _classify(data: Any) -> Incoming:
    if not isinstance(data, dict):
        raise BadMessage(types.INVALID_REQUEST, f"a JSON-RPC message is an object, not {type(data).__name__}")
    request_id = data.get("id")
    valid_id = isinstance(request_id, str | int) and not isinstance(request_id, bool)
    if data.get("jsonrpc") != "2.0":
        raise BadMessage(types.INVALID_REQUEST, 'missing "jsonrpc": "2.0"', request_id if valid_id else None)
    if "method" in data:
        if not isinstance(data["method"], str):
            raise BadMessage(types.INVALID_REQUEST, '"method" must be a string', request_id if valid_id else None)
        if "id" in data and not valid_id:
            raise BadMessage(types.INVALID_REQUEST, f'"id" must be a string or an integer, not {request_id!r}')
        params = data.get("params")
        if params is not None and not isinstance(params, dict):
            raise BadMessage(types.INVALID_PARAMS, '"params" must be an object', request_id if valid_id else None)
        try:
            if "id" in data:
                return Incoming(request=types.JSONRPCRequest.model_validate(data))
            return Incoming(notification=types.JSONRPCNotification.model_validate(data))
        except ValidationError as exc:
            detail = exc.errors(include_url=False)[0]["msg"]
            raise BadMessage(types.INVALID_REQUEST, detail, request_id if valid_id else None) from None
    if ("result" in data) != ("error" in data) and valid_id:
        return Incoming(response=data)
    raise BadMessage(types.INVALID_REQUEST, 'a message needs a "method" (request, notification) or an "id" '
                     'with one of "result" / "error" (response)')  # fmt: skip
