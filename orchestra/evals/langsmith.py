"""Uploading a suite run to LangSmith as an experiment (with `LANGSMITH_API_KEY` set, `orchestra eval run
--langsmith`): each suite is a dataset there (`orchestra-<suite>`, one example per case: its turns and
expectations), each run an experiment on it, each case a run of that experiment with the case's answer, and each
score its feedback (1 or 0, the detail as the comment)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from orchestra.evals.runner import CaseResult
from orchestra.evals.suite import Suite


def upload(results: list[CaseResult], suites: dict[str, Suite], mode: str, environ: Mapping[str, str]) -> list[str]:
    """Create the experiments; their names. Blocking (the LangSmith client's HTTP is synchronous): call it from a
    thread, or after the event loop has ended as the CLI does."""
    from langsmith import Client

    client = Client(api_key=environ["LANGSMITH_API_KEY"], api_url=environ.get("LANGSMITH_ENDPOINT") or None,
                    auto_batch_tracing=False)  # fmt: skip
    stamp = dt.datetime.now(dt.UTC)
    experiments = []
    for suite_name in dict.fromkeys(result.suite for result in results):
        suite = suites[suite_name]
        dataset = _dataset(client, suite)
        examples = _examples(client, suite, dataset)
        experiment = f"{suite.name}-{mode}-{stamp:%Y%m%d-%H%M%S}"
        project = client.create_project(experiment, reference_dataset_id=dataset,
                                        metadata={"mode": mode, "suite": suite.name})  # fmt: skip
        for result in (r for r in results if r.suite == suite_name):
            run_id = uuid.uuid4()
            last = result.turns[-1] if result.turns else None
            client.create_run(
                result.case, {"turns": [turn.say for turn in result.turns]}, "chain", project_name=experiment,
                id=run_id, reference_example_id=examples.get(result.case), start_time=stamp,
                end_time=stamp + dt.timedelta(seconds=result.seconds),
                outputs={"answer": last.answer if last else "", "route": last.route if last else {},
                         "model_calls": result.model_calls, "cost_usd": result.cost_usd},
                error=result.mismatch or result.error,
            )  # fmt: skip
            for score in result.scores:
                client.create_feedback(run_id, score.name, score=1 if score.passed else 0, comment=score.detail or None,
                                       session_id=project.id, start_time=stamp)  # fmt: skip
        experiments.append(experiment)
    return experiments


def _dataset(client: Any, suite: Suite) -> Any:
    name = f"orchestra-{suite.name}"
    if client.has_dataset(dataset_name=name):
        return client.read_dataset(dataset_name=name).id
    return client.create_dataset(name, description=suite.about or f"Orchestra evaluation suite {suite.name}").id


def _examples(client: Any, suite: Suite, dataset: Any) -> dict[str, Any]:
    """Case id -> example id; the suite's cases are added as examples the first time (by id, in metadata)."""
    known = {example.metadata.get("case"): example.id for example in client.list_examples(dataset_id=dataset)
             if example.metadata}  # fmt: skip
    missing = [case for case in suite.cases if case.id not in known]
    if missing:
        client.create_examples(dataset_id=dataset, examples=[
            {"inputs": {"turns": [turn.say for turn in case.turns]},
             "reference_outputs": {
                 "expect": [turn.expect.model_dump(mode="json", exclude_defaults=True) for turn in case.turns]},
             "metadata": {"case": case.id}}
            for case in missing
        ])  # fmt: skip
        known = {example.metadata.get("case"): example.id for example in client.list_examples(dataset_id=dataset)
                 if example.metadata}  # fmt: skip
    return known
