"""A plain HTTP load balancer for tests: each request goes to the next backend, with no stickiness."""

from __future__ import annotations

import itertools

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def round_robin_proxy(backends: list[str]) -> Starlette:
    client = httpx.AsyncClient(timeout=httpx.Timeout(30, read=120))
    order = itertools.cycle(backends)
    served: list[str] = []

    async def forward(request: Request) -> StreamingResponse:
        backend = next(order)
        served.append(backend)
        upstream = client.build_request(
            request.method,
            backend + request.url.path,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS},
            content=await request.body(),
        )
        response = await client.send(upstream, stream=True)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
        return StreamingResponse(
            response.aiter_raw(), status_code=response.status_code, headers=headers,
            background=BackgroundTask(response.aclose),
        )  # fmt: skip

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"])])
    app.state.served = served
    return app
