"""How request bodies are read: strict JSON with orjson (no `NaN`, no lone surrogates), nested at most `MAX_DEPTH`
levels, large bodies parsed off the event loop. Anything else is answered 422 before a route runs, instead of being
accepted and then failing (500) where the server stores or sends it back (orjson writes at most 254 levels, and no
lone surrogates)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

MAX_DEPTH = 100  # a body's own nesting; records and replies wrap it a few levels deeper
_OFF_LOOP_BYTES = 256 * 1024  # larger bodies are parsed in a worker thread
_ORJSON_MAX_DEPTH = 254


def parse_body(raw: bytes) -> Any:
    """The JSON document in `raw`; raises `json.JSONDecodeError` (FastAPI answers 422) when it is not strict JSON or
    nests deeper than `MAX_DEPTH`."""
    document = orjson.loads(raw)
    # orjson refuses to write deeper than 254 levels: wrapping the document in 254 - MAX_DEPTH lists makes that limit
    # this check, at orjson's speed.
    wrapped = document
    for _ in range(_ORJSON_MAX_DEPTH - MAX_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except TypeError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", "", 0) from None
    return document


class JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            self._json = await asyncio.to_thread(parse_body, raw) if len(raw) > _OFF_LOOP_BYTES else parse_body(raw)
        return self._json


class JsonRoute(APIRoute):
    """Routes whose JSON bodies are read by `JsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return handle
