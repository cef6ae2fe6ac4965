"""Running the gateway app under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from orchestra.gateway.app import create_app
from orchestra.gateway.config import GatewayConfig

log = logging.getLogger("orchestra.gateway")


def serve(config: GatewayConfig, environ: dict[str, str], *, log_level: str = "info") -> int:
    """Serve until SIGINT or SIGTERM; the app's lifespan then stops every replica. Returns an exit code."""
    app = create_app(config, environ)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=log_level.lower(),
            log_config=None,
            lifespan="on",
        )
    )
    log.info(
        "gateway listening on http://%s:%d (pools: %s)",
        config.host,
        config.port,
        ", ".join(config.pools) or "none",
    )
    server.run()
    return 0 if server.started else 1


@contextlib.asynccontextmanager
async def serve_in_loop(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` with uvicorn inside the running event loop on 127.0.0.1 (a free port unless given), for the
    block's lifetime; yields its base URL. The caller owns the signals."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up; see the log above")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def embedded_gateway(config: GatewayConfig, environ: dict[str, str]) -> AsyncIterator[str]:
    """A gateway served inside this event loop on a free loopback port, for one command's lifetime; yields its URL."""
    async with serve_in_loop(create_app(config, environ)) as url:
        yield url
