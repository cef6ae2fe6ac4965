"""Running `orchestra serve`: the app under uvicorn, with a gateway embedded in the same process (as `orchestra run`
starts one) unless a running gateway's URL is given."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from orchestra.core.settings import OrchestraSettings
from orchestra.gateway.server import embedded_gateway
from orchestra.server.app import create_app
from orchestra.server.auth import Access
from orchestra.tools.gateway_client import auth_headers

log = logging.getLogger("orchestra.server")


def serve(
    settings: OrchestraSettings, environ: dict[str, str], *, host: str, port: int, gateway: str | None,
    log_level: str = "info",
) -> int:  # fmt: skip
    """Serve until SIGINT or SIGTERM; returns an exit code. Raises `AuthConfigError` for keys or a bind that cannot
    be used (checked before anything starts)."""
    access = Access(settings.server, environ)
    access.check_bind(host)
    return asyncio.run(_serve(settings, environ, host=host, port=port, gateway=gateway, log_level=log_level))


async def _serve(
    settings: OrchestraSettings, environ: dict[str, str], *, host: str, port: int, gateway: str | None, log_level: str
) -> int:
    async with contextlib.AsyncExitStack() as stack:
        if gateway is None:
            log.info("starting the embedded gateway (pass --gateway URL to use a running one)")
            gateway = await stack.enter_async_context(embedded_gateway(settings.gateway, environ))
        app = create_app(settings, environ, gateway_url=gateway, gateway_headers=auth_headers(), host=host)
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), log_config=None, lifespan="on")
        )
        tenants = len(access.tenants.keys) if (access := app.state.access).tenants.enabled else 0
        log.info("serving on http://%s:%d (gateway %s; %s)", host, port, gateway,
                 f"{tenants} API key(s)" if tenants else "no API keys: tenant 'local'")  # fmt: skip
        await server.serve()
        return 0 if server.started else 1
    return 1
