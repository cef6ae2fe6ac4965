"""The triage dataset is sound, triage never fails on odd input, and it keeps its accuracy on tasks written by others.

The held-out rows were written by a writer who never saw the training rows. The floors sit a little below what the
shipped model measured on them when it was trained (its card, orchestra/routing/artifacts/triage.json: domain
0.984, complexity 0.913, workflow 0.956, all three 0.867, critical recall 0.956), so a change that costs accuracy
fails here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from evals.triage_eval import evaluate, load_dataset
from orchestra.graphs import triage as triage_module
from orchestra.graphs import triage_cues
from orchestra.graphs.triage import Triage, rule_triage, triage
from orchestra.graphs.triage_cues import COMPLEXITIES, DOMAINS, WORKFLOWS

ROWS = load_dataset()
HOLDOUT_FLOORS = {"domain": 0.97, "complexity": 0.90, "workflow": 0.94, "all_three": 0.85}
CRITICAL_RECALL_FLOOR = 0.95


def test_dataset_has_enough_rows_with_unique_ids_and_valid_labels() -> None:
    assert len(ROWS) >= 5 * 372  # several times the 372 rows the cues were tuned on
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    assert len({row["task"].strip().lower() for row in ROWS}) == len(ROWS), "duplicate task text"
    for row in ROWS:
        assert set(row) == {"id", "task", "domain", "complexity", "workflow", "split", "source"}, row["id"]
        assert row["task"].strip(), row["id"]
        assert row["domain"] in DOMAINS, row["id"]
        assert row["complexity"] in COMPLEXITIES, row["id"]
        assert row["workflow"] is None or row["workflow"] in WORKFLOWS, row["id"]
        assert row["split"] in ("train", "holdout"), row["id"]


def test_workflows_sit_in_their_domain() -> None:
    for row in ROWS:
        if row["workflow"] is not None:
            assert row["domain"] == triage_cues.WORKFLOW_DOMAIN[row["workflow"]], row["id"]


def test_the_holdout_is_written_by_others_and_every_label_is_in_both_splits() -> None:
    writers = {split: {row["source"] for row in ROWS if row["split"] == split} for split in ("train", "holdout")}
    assert not writers["train"] & writers["holdout"], "held-out rows come from writers the training never saw"
    assert len(writers["train"]) >= 3
    assert Counter(row["split"] for row in ROWS)["holdout"] >= 400
    for field, values in (("domain", DOMAINS), ("complexity", COMPLEXITIES), ("workflow", (*WORKFLOWS, None))):
        for split in ("train", "holdout"):
            present = {row[field] for row in ROWS if row["split"] == split}
            assert set(values) <= present, f"{field} values missing from {split}: {set(values) - present}"


@pytest.mark.parametrize(
    "task",
    ["", "   ", "🙂🙂🙂", "?!", "x" * 5000, "compare " * 1000, "http://", "a.example", '"""', "ñandú … 漢字"],
)
def test_odd_inputs_get_valid_labels_without_raising(task: str) -> None:
    result = triage(task)
    assert result.domain in DOMAINS
    assert result.complexity in COMPLEXITIES
    assert result.workflow is None or result.workflow in WORKFLOWS
    assert 0.0 <= result.confidence <= 1.0
    assert result.reasons


def test_no_cue_means_low_confidence() -> None:
    assert triage("").confidence < 0.5
    assert triage("🙂🙂🙂").confidence < 0.5


def test_result_is_frozen() -> None:
    result = triage("enrich zorvel.example")
    with pytest.raises(ValidationError):
        result.domain = "web"  # type: ignore[misc]
    assert isinstance(result, Triage)


# Clear-cut cases written for this test, none of them in the dataset.
SANITY = [
    ("take a screenshot of https://fendle.example/about", "web", "low", None),
    ("crawl every page of hollow.example and list the ones with broken images", "web", "high", None),
    ("submit the signup form on ravel.example with my work email", "web", "critical", None),
    ("what's the accent color in the figma settings file?", "design", "low", None),
    ("review the checkout frames in figma for usability problems", "design", "high", None),
    ("generate code from the figma checkout page, deploy it and run the smoke tests", "design", "critical",
     "design_to_deployment"),
    ("how many employees does Pellow Robotics have?", "bi", "low", None),
    ("log a call with the Pellow Robotics CFO in hubspot", "bi", "critical", None),
    pytest.param("log a note on ravel.example in our crm: they asked for a demo", "bi", "critical", None,
                 marks=pytest.mark.xfail(reason="known miss: a bare domain pulls to web (p 0.67) over 'crm'",
                                         strict=True)),
    ("brief me before my meeting with Quorra Health on friday", "bi", "high", "sales_intelligence_research"),
    ("how do we compare against our main rivals on pricing?", "bi", "high", "competitive_analysis"),
    ("size of the pet insurance market in the US and the main players", "bi", "high", "market_research"),
    ("market analysis of edtech for the board pack, must be exact", "bi", "critical", "market_research"),
    ("translate to french: the meeting is cancelled", "ai", "low", None),
    ("compare claude sonnet with gpt-4.1 on our eval prompts and tell me which to use", "ai", "high", None),
    ("change our default model on openrouter to mistral large", "ai", "critical", None),
    # what a deploy names goes to the workflow that finds it (or says what exists), never to a price list
    ("deploy pricing", "design", "critical", "design_to_deployment"),
    ("Deploy the careers page", "design", "critical", "design_to_deployment"),
    pytest.param("Ship the checkout page", "design", "critical", "design_to_deployment",
                 marks=pytest.mark.xfail(reason="known miss: no workflow (p 0.73); the design specialist gets it",
                                         strict=True)),
    ("publish our landing page", "design", "critical", "design_to_deployment"),
    ("compare pricing of fendle.example and hollow.example", "bi", "high", "competitive_analysis"),
    ("compare the funding of Quorra Health and Pellow Robotics", "bi", "high", "competitive_analysis"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "domain", "complexity", "workflow"), SANITY)
def test_clear_cut_cases(task: str, domain: str, complexity: str, workflow: str | None) -> None:
    result = triage(task)
    assert (result.domain, result.complexity, result.workflow) == (domain, complexity, workflow), result.reasons


def test_typos_are_tolerated() -> None:
    assert triage("whats the footer colour in the fimga landing desing").domain == "design"
    assert triage("compettive analysis for Pellow Robotics").workflow == "competitive_analysis"


def test_negated_actions_do_not_make_a_task_critical() -> None:
    assert triage("convert the pricing frame in figma to html, don't deploy anything").complexity == "high"
    # The cues drop a negated write; the model stays cautious near forms (p(critical) 0.48 over a threshold of 0.25).
    assert rule_triage("check which fields the form on ravel.example requires, do not submit it").complexity == "low"


def test_payload_text_is_not_read_as_instructions() -> None:
    result = triage('rewrite this so it sounds friendlier: "Send the invoice and deploy the fix today."')
    assert (result.domain, result.complexity) == ("ai", "low")


def test_holdout_accuracy_meets_floors() -> None:
    report = evaluate("holdout")
    for field, floor in HOLDOUT_FLOORS.items():
        measured = report[field] if field == "all_three" else report[field]["accuracy"]
        assert measured >= floor, (field, measured, report["errors"])
    assert report["critical_recall"] >= CRITICAL_RECALL_FLOOR


def test_classifier_holds_no_dataset_sentences() -> None:
    """Cues must generalize: no labeled task may be pasted into the classifier or its tables."""
    source = "\n".join(Path(module.__file__).read_text().lower() for module in (triage_module, triage_cues))
    for row in ROWS:
        assert row["task"].lower() not in source, row["id"]
