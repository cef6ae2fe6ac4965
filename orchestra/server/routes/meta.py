"""`/ok`, `/info` and `/metrics`."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from orchestra.server.bodies import JsonRoute
from orchestra.server.deps import Parts, Tenant, caller_tenant
from orchestra.server.jsonio import JsonReply

router = APIRouter(tags=["meta"], route_class=JsonRoute)


@router.get("/ok", summary="Health check (no key needed); `key_required` says whether other routes need one")
async def ok(request: Request) -> JsonReply:
    return JsonReply({"ok": True, "key_required": request.app.state.access.tenants.enabled})


def server_info() -> dict[str, Any]:
    """What `/info` answers; reads package metadata from disk, so it is built once, off the event loop."""
    return {
        "version": version("mcp-orchestra"),
        "langgraph_py_version": version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "host": {"kind": "orchestra", "project_id": None, "revision_id": None, "tenant_id": None},
    }


@router.get("/info", summary="Server version and capabilities")
async def info(server: Parts, _: Tenant) -> JsonReply:
    return JsonReply(server.info)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, server: Parts) -> Response:
    if server.config.metrics.require_key:
        caller_tenant(request)
    return Response(server.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
