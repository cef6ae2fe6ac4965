"""The web chat: its page at `/` and its scripts and styles under `/chat/`, all served from the package (the
libraries it uses are copied from npm into `web/vendor/` by `make setup`), so it works with no internet. The page
itself needs no key: it asks for one when the server wants one, and sends it with every API call."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from orchestra.server.errors import NotFound

WEB = Path(__file__).resolve().parent.parent / "web"
_ASSET = re.compile(r"(vendor/)?[a-z0-9][a-z0-9._-]*\.(js|mjs|css|svg)")
_MEDIA = {"css": "text/css", "svg": "image/svg+xml", "js": "text/javascript", "mjs": "text/javascript"}
# Only the page's own files and the vendored libraries run: no inline script, nothing from another origin.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["chat"], include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def page() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/chat/{asset:path}")
async def asset(asset: str) -> FileResponse:
    path = WEB / asset
    if not _ASSET.fullmatch(asset) or not await asyncio.to_thread(path.is_file):
        hint = " (the vendored libraries are copied by `make setup`)" if asset.startswith("vendor/") else ""
        raise NotFound(f"no such file of the chat page: {asset[:100]}{hint}")
    media = _MEDIA[asset.rsplit(".", 1)[1]]
    return FileResponse(path, media_type=f"{media}; charset=utf-8", headers=HEADERS)
