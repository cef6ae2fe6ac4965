"""A stand-in for LangSmith's API on 127.0.0.1 (the one edge we cannot reach: a paid SaaS API): the endpoints the
real `langsmith` client uses for datasets, examples, experiments (sessions), runs and feedback, keeping what it got."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def langsmith_stand_in() -> tuple[Starlette, dict[str, list[Any]]]:
    """The endpoints the client uses for datasets, examples, experiments (sessions), runs and feedback."""
    kept: dict[str, list[Any]] = {
        "datasets": [],
        "examples": [],
        "sessions": [],
        "runs": [],
        "run_ends": [],
        "feedback": [],
        "keys": [],
    }

    def now() -> str:
        return dt.datetime.now(dt.UTC).isoformat()

    async def route(request: Request) -> JSONResponse:
        path, method = request.url.path, request.method
        body = await request.body()
        data = json.loads(body) if body else None
        kept["keys"].append(request.headers.get("x-api-key"))
        if path == "/info":
            return JSONResponse({"version": "0.10.0", "batch_ingest_config": {}})
        if (path, method) == ("/datasets", "GET"):
            return JSONResponse([d for d in kept["datasets"] if d["name"] == request.query_params.get("name")])
        if (path, method) == ("/datasets", "POST"):
            dataset = {"id": str(uuid.uuid4()), "name": data["name"], "description": data.get("description"),
                       "created_at": now(), "data_type": "kv"}  # fmt: skip
            kept["datasets"].append(dataset)
            return JSONResponse(dataset)
        if (path, method) == ("/examples", "GET"):
            return JSONResponse([e for e in kept["examples"] if e["dataset_id"] == request.query_params["dataset"]])
        if (path, method) == ("/examples/bulk", "POST"):
            made = [{**e, "id": e.get("id") or str(uuid.uuid4()), "created_at": now()} for e in data]
            kept["examples"] += made
            return JSONResponse(made)
        if (path, method) == ("/sessions", "GET"):
            return JSONResponse([])
        if (path, method) == ("/sessions", "POST"):
            session = {
                **data,
                "id": data.get("id") or str(uuid.uuid4()),
                "start_time": now(),
                "tenant_id": str(uuid.uuid4()),
            }
            kept["sessions"].append(session)
            return JSONResponse(session)
        if (path, method) in (("/runs", "POST"), ("/feedback", "POST")):
            kept["runs" if path == "/runs" else "feedback"].append(data)
            return JSONResponse({**data, "created_at": now(), "modified_at": now()})
        if path.startswith("/runs/") and method == "PATCH":  # a traced run's end: its outputs, error, end time
            kept["run_ends"].append({"id": path.removeprefix("/runs/"), **data})
            return JSONResponse({})
        return JSONResponse({"detail": f"not a LangSmith route here: {method} {path}"}, status_code=404)

    app = Starlette(routes=[Route("/{path:path}", route, methods=["GET", "POST", "PATCH"])])
    return app, kept
