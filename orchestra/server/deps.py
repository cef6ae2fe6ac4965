"""What routes get injected (FastAPI `Depends`): the server's parts built in the lifespan, and the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from orchestra.core.call_log import RecordLog
from orchestra.server.auth import Access
from orchestra.server.config import ServerConfig
from orchestra.server.events import EventBroker
from orchestra.server.graphs import GraphRegistry
from orchestra.server.locks import ThreadLocks
from orchestra.server.manager import RunManager
from orchestra.server.metrics import ServerMetrics
from orchestra.server.store import RecordStore


@dataclass
class ServerParts:
    """Everything a route may use; one per running app, built in its lifespan."""

    config: ServerConfig
    graphs: GraphRegistry
    store: RecordStore
    manager: RunManager
    broker: EventBroker
    locks: ThreadLocks
    metrics: ServerMetrics
    info: dict[str, Any]
    screenshots_dir: Path  # where the answers' screenshots are (`GET /threads/{id}/screenshots/{name}`)
    outcomes: RecordLog  # runs' thumbs up or down, for `orchestra models calibrate`


def parts(request: Request) -> ServerParts:
    found = getattr(request.app.state, "orchestra", None)
    if found is None:
        raise HTTPException(503, "the server is starting or stopping; retry in a moment")
    return found


def caller_tenant(request: Request) -> str:
    """The caller's tenant; 401 when keys are set and the request carries none of them."""
    access: Access = request.app.state.access
    tenant = access.tenant_for(request.headers.get("x-api-key"), request.headers.get("authorization"))
    if tenant is None:
        raise HTTPException(
            401,
            "send an API key as `X-Api-Key: <key>` or `Authorization: Bearer <key>`; the operator sets the keys "
            f"in {access.keys_env}",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return tenant


Parts = Annotated[ServerParts, Depends(parts)]
Tenant = Annotated[str, Depends(caller_tenant)]
