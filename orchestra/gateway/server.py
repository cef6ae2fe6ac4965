"""Running the gateway app under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

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
