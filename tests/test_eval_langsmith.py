"""Uploading eval results as a LangSmith experiment, through the real `langsmith` client, against a stand-in for
LangSmith's API on 127.0.0.1 (the one edge we cannot reach: a paid SaaS API)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestra.evals.langsmith import upload
from orchestra.evals.runner import CaseResult
from orchestra.evals.scorers import Score, TurnResult
from orchestra.evals.suite import load_suite
from tests.conftest import ROOT, serving


def langsmith_stand_in() -> tuple[Starlette, dict[str, list[Any]]]:
    """The endpoints the client uses for datasets, examples, experiments (sessions), runs and feedback."""
    kept: dict[str, list[Any]] = {
        "datasets": [],
        "examples": [],
        "sessions": [],
        "runs": [],
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
        return JSONResponse({"detail": f"not a LangSmith route here: {method} {path}"}, status_code=404)

    app = Starlette(routes=[Route("/{path:path}", route, methods=["GET", "POST", "PATCH"])])
    return app, kept


async def test_results_become_an_experiment_on_the_suites_dataset_with_a_feedback_per_score() -> None:
    suite = load_suite(ROOT / "evals" / "suites" / "questions.yaml")
    results = [
        CaseResult("questions", "model-prices", [TurnResult(say="what do our models cost?", answer="# Models")],
                   [Score("route", True), Score("contains", False, "missing: 'x'")], 0.25),
        CaseResult("questions", "page-text", [TurnResult(say="q", answer="a")], [Score("contains", True)], 0.5),
    ]  # fmt: skip
    app, kept = langsmith_stand_in()
    async with serving(app) as url:
        environ = {"LANGSMITH_API_KEY": "ls-test-key", "LANGSMITH_ENDPOINT": url}
        first = await asyncio.to_thread(upload, results, {"questions": suite}, "replay", environ)
        second = await asyncio.to_thread(upload, results, {"questions": suite}, "live", environ)
    [dataset] = kept["datasets"]
    assert dataset["name"] == "orchestra-questions"
    assert len(kept["examples"]) == len(suite.cases)  # added once, found again by the second upload
    examples = {e["metadata"]["case"]: e["id"] for e in kept["examples"]}
    assert [s["name"] for s in kept["sessions"]] == first + second
    assert all(s["reference_dataset_id"] == dataset["id"] for s in kept["sessions"])
    runs = kept["runs"][:2]
    assert [r["name"] for r in runs] == ["model-prices", "page-text"]
    assert [r["reference_example_id"] for r in runs] == [examples["model-prices"], examples["page-text"]]
    assert runs[0]["outputs"]["answer"] == "# Models"
    scores = [(f["key"], f["score"], f.get("comment")) for f in kept["feedback"][:3]]
    assert scores == [("route", 1, None), ("contains", 0, "missing: 'x'"), ("contains", 1, None)]
    assert set(kept["keys"]) == {"ls-test-key"}
