"""Uploading eval results as a LangSmith experiment, through the real `langsmith` client, against a stand-in for
LangSmith's API on 127.0.0.1 (the one edge we cannot reach: a paid SaaS API)."""

from __future__ import annotations

import asyncio

from orchestra.evals.langsmith import upload
from orchestra.evals.runner import CaseResult
from orchestra.evals.scorers import Score, TurnResult
from orchestra.evals.suite import load_suite
from tests.conftest import ROOT, serving
from tests.langsmith_stand_in import langsmith_stand_in


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
