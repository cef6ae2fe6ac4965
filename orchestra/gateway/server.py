"""Running the gateway app under uvicorn."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn

from orchestra.core.serving import free_port, serve_in_loop
from orchestra.gateway.app import Gateway, create_app
from orchestra.gateway.config import GatewayConfig

log = logging.getLogger("orchestra.gateway")
SHUTDOWN_GRACE_S = 5  # open requests and streams this long to finish when the gateway stops


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
            # Clients' GET streams never end by themselves: without a bound, a stop would wait for them forever.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
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
async def embedded_gateway(config: GatewayConfig, environ: dict[str, str]) -> AsyncIterator[str]:
    """A gateway served inside this event loop on a free loopback port, for one command's lifetime; yields its URL.
    The gateway is told its real port, so its egress policy keeps that port out of its pools' reach."""
    port = free_port()
    config = config.model_copy(update={"host": "127.0.0.1", "port": port})
    gateway = Gateway(config, environ)
    try:
        await gateway.start()
        async with serve_in_loop(create_app(config, started=gateway), port) as url:
            yield url
    finally:
        await gateway.stop()
