"""Refusing request paths that could climb out of what the sandbox host serves, before any route sees them.

The server percent-decodes the path before routing, and a route parameter such as `{domain}` matches any segment,
so `/sites/../crm.sqlite` and `/sites/%2e%2e/world.json` once reached a handler with `domain == ".."` and the
sandbox's own data was served. Each handler still confines its lookups; this guard removes the whole class of
input first: a path a browser would never send (it normalises dot segments itself) is answered 400, never a file.
"""

from __future__ import annotations

import re

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Encoded '/', '\' and NUL: decoded, they would make one segment look like several or end a file name early.
_ENCODED_SEPARATOR = re.compile(rb"%(?:2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unsafe_reason(raw_path: bytes, path: str) -> str | None:
    """Why a request path must not be served (`raw_path` as sent, `path` decoded), or None when it is clean."""
    if _ENCODED_SEPARATOR.search(raw_path.split(b"?", 1)[0]):
        return "an encoded '/', '\\' or NUL (%2F, %5C, %00)"
    if "\\" in path:
        return "a backslash"
    if _CONTROL.search(path):
        return "a control character"
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        return "a '.' or '..' segment"
    if "" in segments[:-1]:
        return "an empty segment ('//')"
    return None


class RejectUnsafePaths:
    """ASGI middleware: a 400 for any HTTP request whose path `unsafe_reason` refuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            reason = unsafe_reason(scope.get("raw_path") or path.encode(), path)
            if reason is not None:
                message = f"Bad request path: it has {reason}. Ask for the page by its plain URL, as a browser would."
                await PlainTextResponse(message, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
