"""Serving an ASGI app with uvicorn inside the running event loop, for as long as a block runs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def serve_in_loop(app: ASGIApp, port: int | None = None, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on `host` (a free port unless given) for the block's lifetime; yields its base URL.
    The caller owns the signals."""
    port = port or free_port(host)
    # A bounded stop: open streams (an MCP client's GET stream) would otherwise hold it open forever.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", log_config=None, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    # uvicorn would take SIGINT and SIGTERM for itself and quietly stop this server; the caller decides instead
    # (Ctrl-C in `orchestra run` must stop the run, not just its embedded gateway).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped during start-up; see the log above")
            await asyncio.sleep(0.05)
    except BaseException:  # interrupted while starting: stop it here rather than leave it to the loop's teardown
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await task
        raise
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
