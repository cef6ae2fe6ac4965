"""The shipped triage model is the one its card describes, trained on the data in the repository, and retraining
it with its script gives the same model."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from evals.triage_eval import load_dataset
from orchestra.graphs.triage import classify, triage
from orchestra.routing import artifacts, triage_model
from orchestra.routing.train import TRIAGE_DATA, evaluate_triage, train_triage

CARD = artifacts.card(triage_model.ARTIFACT)
HOLDOUT = [row for row in load_dataset() if row["split"] == "holdout"]


def test_the_card_names_the_data_the_model_was_trained_on() -> None:
    assert CARD["trained_on"]["sha256"] == hashlib.sha256(TRIAGE_DATA.read_bytes()).hexdigest(), (
        "evals/datasets/triage.jsonl changed since training: run python -m orchestra.routing.train triage"
    )
    assert not set(CARD["trained_on"]["train_sources"]) & set(CARD["trained_on"]["holdout_sources"])
    for field in triage_model.FIELDS:  # per-label recall and the confusion matrix are reported
        assert set(CARD["holdout"][field]["per_label"]) == set(CARD["holdout"][field]["confusion"]["labels"])


def test_the_shipped_model_scores_what_its_card_says() -> None:
    measured = evaluate_triage(triage, HOLDOUT)
    for field in triage_model.FIELDS:
        assert measured[field] == CARD["holdout"][field]
    assert measured["critical_recall"] == CARD["holdout"]["critical_recall"]


def test_the_learned_model_beats_the_rules_on_tasks_written_by_others() -> None:
    learned, rules = CARD["holdout"], CARD["holdout_rules_only"]
    for field in triage_model.FIELDS:
        assert learned[field]["accuracy"] > rules[field]["accuracy"], field
    assert learned["critical_recall"] > rules["critical_recall"]


def test_retraining_with_the_script_reproduces_the_shipped_model(tmp_path: Path) -> None:
    card = train_triage(folder=tmp_path)
    for key in ("trained_on", "params"):
        assert card[key] == CARD[key], key
    assert card["versions"]["scikit-learn"] == CARD["versions"]["scikit-learn"]
    for field in (*triage_model.FIELDS, "all_three", "critical_recall", "critical_missed"):
        assert card["holdout"][field] == CARD["holdout"][field], field
    retrained, _ = artifacts.load(triage_model.ARTIFACT, tmp_path)
    for row in HOLDOUT[:50]:
        assert classify(row["task"], retrained) == triage(row["task"])


def test_a_model_file_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    for name in (f"{triage_model.ARTIFACT}.json", f"{triage_model.ARTIFACT}.joblib"):
        shutil.copy(artifacts.ARTIFACTS / name, tmp_path / name)
    model_file = tmp_path / f"{triage_model.ARTIFACT}.joblib"
    model_file.write_bytes(model_file.read_bytes()[:-1] + b"\0")
    with pytest.raises(artifacts.ArtifactError, match="does not match"):
        artifacts.load(triage_model.ARTIFACT, tmp_path)
    with pytest.raises(artifacts.ArtifactError, match="is missing"):
        artifacts.load("no-such-model", tmp_path)
