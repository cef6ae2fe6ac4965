"""Retrain the shipped routing models, one command each: `python -m orchestra.routing.train triage`.

Training is reproducible (fixed seeds, the data's SHA-256 in the card) and reports on data it never saw: the
triage model on the held-out rows of `evals/datasets/triage.jsonl`, written separately from the training rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import classification_report, confusion_matrix

from orchestra.routing import artifacts, tier_router, triage_model

ROOT = Path(__file__).resolve().parents[2]
TRIAGE_DATA = ROOT / "evals" / "datasets" / "triage.jsonl"
TIER_DATA = ROOT / "evals" / "datasets" / "routellm-mmlu" / "mmlu.jsonl.gz"
TIER_CURVE = ROOT / "docs" / "router-curve.png"
SEED = 0
QUALITY_TARGET = 0.95  # of the strong model's accuracy, the point RouteLLM reports its cost cut at
ROUTELLM_MMLU_CUT = 0.45  # RouteLLM's published cost cut at 95% on MMLU (matrix factorization, trained on Arena data)
# Critical must not be missed, and calling everything critical would make every task slow and costly: the threshold
# on p(critical) is the highest that catches CRITICAL_RECALL of the critical rows (with the cues' catches) in the
# out-of-fold predictions for the training writers. Measured when these were chosen (recall, complexity accuracy):
# 0.951 and 0.892 at 0.5, 0.971 and 0.877 at 0.4, 0.990 and 0.833 at 0.25.
CRITICAL_THRESHOLDS = (0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05)
CRITICAL_RECALL = 0.95
# Rows written to fill the model's gaps (two thirds of them critical, many deliberately hard) are trained on, but
# are not a sample of what people type, so the threshold is not picked on them.
TARGETED_SOURCES = frozenset({"writer-c"})


def latency_ms(timings: Sequence[float]) -> dict[str, float]:
    """p50 and p99 of per-call times in milliseconds (0 for none)."""
    ordered = sorted(timings)
    if not ordered:
        return {"p50": 0.0, "p99": 0.0}
    return {"p50": round(statistics.median(ordered), 3), "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 3)}


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _critical_threshold(rows: Sequence[dict[str, Any]], rules_critical: Callable[[str], bool]) -> float:
    """Out of fold by writer (train on the others, predict one): the highest threshold reaching CRITICAL_RECALL."""
    outcomes: list[tuple[float, bool]] = []  # (p(critical), caught by the cues) of every critical row
    for source in sorted({row["source"] for row in rows} - TARGETED_SOURCES):
        model = triage_model.fit([row for row in rows if row["source"] != source])
        for row in rows:
            if row["source"] == source and row["complexity"] == "critical":
                p_critical = triage_model.score(model, row["task"]).complexity["critical"]
                outcomes.append((p_critical, rules_critical(row["task"])))

    def recall(threshold: float) -> float:
        return sum(p >= threshold or cue for p, cue in outcomes) / len(outcomes)

    reaching = [threshold for threshold in CRITICAL_THRESHOLDS if recall(threshold) >= CRITICAL_RECALL]
    return max(reaching, default=min(CRITICAL_THRESHOLDS))


def _report(expected: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    report = classification_report(expected, predicted, labels=labels, output_dict=True, zero_division=0)
    per_label = {
        label: {key: round(report[label][key], 4) for key in ("recall", "precision")}
        | {"support": int(report[label]["support"])}
        for label in labels
    }
    matrix = confusion_matrix(expected, predicted, labels=labels).tolist()
    return {
        "accuracy": round(float(np.mean([e == p for e, p in zip(expected, predicted, strict=True)])), 4),
        "per_label": per_label,
        "confusion": {"labels": labels, "rows_expected": matrix},
    }


def evaluate_triage(
    classify: Callable[[str], Any], rows: Sequence[dict[str, Any]], keep_errors: bool = False
) -> dict[str, Any]:
    """Accuracy, recall and precision per label, confusion matrices, recall of critical and latency of `classify`
    over `rows`; with `keep_errors`, the rows it got wrong and why."""
    predicted: dict[str, list[str]] = {field: [] for field in triage_model.FIELDS}
    timings: list[float] = []
    errors: list[dict[str, Any]] = []
    classify("warm up")
    for row in rows:
        start = time.perf_counter()
        result = classify(row["task"])
        timings.append((time.perf_counter() - start) * 1000)
        labels = result.model_dump()
        wrong = {}
        for field in triage_model.FIELDS:
            predicted[field].append(triage_model.label_of(labels, field))
            if predicted[field][-1] != triage_model.label_of(row, field):
                wrong[field] = f"{triage_model.label_of(row, field)} -> {predicted[field][-1]}"
        if keep_errors and wrong:
            errors.append({"id": row["id"], "task": row["task"], "wrong": wrong, "confidence": result.confidence,
                           "reasons": result.reasons})  # fmt: skip
    metrics: dict[str, Any] = {"rows": len(rows)}
    for field in triage_model.FIELDS:
        expected = [triage_model.label_of(row, field) for row in rows]
        metrics[field] = _report(expected, predicted[field], sorted(set(expected) | set(predicted[field])))
    exact = [
        all(predicted[field][i] == triage_model.label_of(row, field) for field in triage_model.FIELDS)
        for i, row in enumerate(rows)
    ]
    metrics["all_three"] = round(float(np.mean(exact)), 4) if rows else 0.0
    critical = [i for i, row in enumerate(rows) if row["complexity"] == "critical"]
    missed = [rows[i]["id"] for i in critical if predicted["complexity"][i] != "critical"]
    metrics["critical_recall"] = round(1 - len(missed) / max(1, len(critical)), 4)
    metrics["critical_missed"] = missed
    metrics["latency_ms"] = latency_ms(timings)
    if keep_errors:
        metrics["errors"] = errors
    return metrics


def train_triage(data: Path = TRIAGE_DATA, folder: Path = artifacts.ARTIFACTS) -> dict[str, Any]:
    """Fit on the training rows, pick the critical threshold, report on the held-out rows, ship; returns the card."""
    from orchestra.graphs.triage import classify, rule_triage  # the graphs import this package: import it late

    rows = read_rows(data)
    train = [row for row in rows if row["split"] == "train"]
    holdout = [row for row in rows if row["split"] == "holdout"]
    params = triage_model.Params()
    threshold = _critical_threshold(train, lambda task: rule_triage(task).complexity == "critical")
    model = triage_model.fit(train, params) | {"critical_threshold": threshold}
    trained_on = {
        "file": data.name,
        "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "train_sources": sorted({row["source"] for row in train}),
        "holdout_sources": sorted({row["source"] for row in holdout}),
    }
    card = {
        "model": "triage",
        "trained_on": trained_on,
        "params": json.loads(json.dumps({**vars(params), "critical_threshold": threshold})),  # as the card stores it
        "versions": {"scikit-learn": sklearn.__version__, "python": platform.python_version()},
        "holdout": evaluate_triage(lambda task: classify(task, model), holdout),
        "holdout_rules_only": evaluate_triage(rule_triage, holdout),
    }
    artifacts.save(triage_model.ARTIFACT, model, card, folder)
    return card


def quality_cost_curve(gain: np.ndarray, fast_right: np.ndarray, premium_right: np.ndarray) -> np.ndarray:
    """Accuracy when the k prompts with the highest gain go to premium, for k = 0..n (index k)."""
    order = np.argsort(-gain, kind="stable")
    switched = np.concatenate([[0], np.cumsum(premium_right[order].astype(int) - fast_right[order].astype(int))])
    return (fast_right.sum() + switched) / len(gain)


def curve_metrics(curve: np.ndarray, fast_accuracy: float, premium_accuracy: float) -> dict[str, float]:
    """Cost cut at QUALITY_TARGET of premium (1 - the share of premium calls it takes), APGR (RouteLLM's average
    performance gap recovered) and the area under accuracy over premium share; random routing's beside them."""
    share = np.linspace(0.0, 1.0, len(curve))
    reached = np.nonzero(curve >= QUALITY_TARGET * premium_accuracy - 1e-12)[0]
    gap = premium_accuracy - fast_accuracy
    random_share = max(0.0, (QUALITY_TARGET * premium_accuracy - fast_accuracy) / gap)
    return {
        "cost_cut_at_95": round(1.0 - share[reached[0]], 4) if len(reached) else 0.0,
        "apgr": round(float(np.trapezoid((curve - fast_accuracy) / gap, share)), 4),
        "auc": round(float(np.trapezoid(curve, share)), 4),
        "random_cost_cut_at_95": round(1.0 - random_share, 4),
        "random_apgr": 0.5,
        "random_auc": round((fast_accuracy + premium_accuracy) / 2, 4),
    }


def _oof_threshold(prompts: list[str], fast: np.ndarray, premium: np.ndarray, subjects: list[str],
                   params: tier_router.Params) -> float:  # fmt: skip
    """The gain threshold that reaches QUALITY_TARGET of premium on the training rows' out-of-fold scores."""
    from sklearn.model_selection import StratifiedKFold

    gain = np.zeros(len(prompts))
    for train_index, test_index in StratifiedKFold(5, shuffle=True, random_state=SEED).split(prompts, subjects):
        fold = tier_router.fit([prompts[i] for i in train_index], fast[train_index], premium[train_index], params)
        gain[test_index] = tier_router.scores(fold, [prompts[i] for i in test_index])[1]
    curve = quality_cost_curve(gain, fast, premium)
    k = int(np.nonzero(curve >= QUALITY_TARGET * premium.mean())[0][0])
    return float(np.sort(gain)[::-1][k]) if k < len(gain) else float(gain.min())


def _draw_curve(curve: np.ndarray, metrics: dict[str, float], fast: float, premium: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    share = np.linspace(0.0, 1.0, len(curve))
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=110)
    axes.plot(share * 100, curve * 100, label=f"learned router (APGR {metrics['apgr']:.3f})")
    axes.plot([0, 100], [fast * 100, premium * 100], "--", label="random routing (APGR 0.500)")
    axes.axhline(QUALITY_TARGET * premium * 100, color="grey", linewidth=0.8, label="95% of the strong model")
    ours = (1 - metrics["cost_cut_at_95"]) * 100
    axes.plot([ours], [QUALITY_TARGET * premium * 100], "o", label=f"ours: {metrics['cost_cut_at_95']:.0%} cost cut")
    axes.plot([(1 - ROUTELLM_MMLU_CUT) * 100], [QUALITY_TARGET * premium * 100], "s",
              label=f"RouteLLM published: {ROUTELLM_MMLU_CUT:.0%} cut")  # fmt: skip
    axes.set_xlabel("prompts sent to the strong model (%)")
    axes.set_ylabel("accuracy on held-out MMLU prompts (%)")
    axes.set_title("Quality against cost: Mixtral-8x7B (fast) or GPT-4 (premium)")
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    pyplot.close(figure)


def train_tier(
    data: Path = TIER_DATA, folder: Path = artifacts.ARTIFACTS, curve_png: Path | None = TIER_CURVE
) -> dict[str, Any]:
    """Fit the model-tier router on 70% of the MMLU prompts (stratified by subject, duplicates kept together),
    pick its threshold out of fold, report on the other 30%, ship; returns the card."""
    import gzip

    from sklearn.model_selection import train_test_split

    with gzip.open(data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    texts = sorted({row["prompt"] for row in rows})
    subject_of = {row["prompt"]: row["subject"] for row in rows}
    subjects = [subject_of[text] for text in texts]
    in_train = set(train_test_split(texts, test_size=0.3, random_state=SEED, stratify=subjects)[0])
    split = {
        "train": [row for row in rows if row["prompt"] in in_train],
        "test": [row for row in rows if row["prompt"] not in in_train],
    }

    def columns(part: list[dict[str, Any]]) -> tuple[list[str], np.ndarray, np.ndarray]:
        return ([row["prompt"] for row in part], np.array([row["cheap"] for row in part]),
                np.array([row["strong"] for row in part]))  # fmt: skip

    params = tier_router.Params()
    prompts, fast, premium = columns(split["train"])
    threshold = _oof_threshold(prompts, fast, premium, [row["subject"] for row in split["train"]], params)
    model = tier_router.fit(prompts, fast, premium, params) | {"threshold": threshold}
    test_prompts, test_fast, test_premium = columns(split["test"])
    _, gain = tier_router.scores(model, test_prompts)
    curve = quality_cost_curve(gain, test_fast, test_premium)
    fast_accuracy, premium_accuracy = float(test_fast.mean()), float(test_premium.mean())
    metrics = curve_metrics(curve, fast_accuracy, premium_accuracy)
    routed = gain > threshold
    chosen = np.where(routed, test_premium, test_fast).mean()
    timings = []
    for prompt in test_prompts[:1000]:
        start = time.perf_counter()
        tier_router.decide(model, prompt)
        timings.append((time.perf_counter() - start) * 1000)
    card = {
        "model": "tier-router",
        "trained_on": {
            "file": data.name,
            "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
            "train_rows": len(split["train"]),
            "test_rows": len(split["test"]),
            "split_seed": SEED,
        },
        "params": json.loads(json.dumps({**vars(params), "threshold": threshold})),
        "versions": {"scikit-learn": sklearn.__version__, "python": platform.python_version()},
        "test": {
            "fast_accuracy": round(fast_accuracy, 4),
            "premium_accuracy": round(premium_accuracy, 4),
            "oracle_accuracy": round(float((test_fast | test_premium).mean()), 4),
            **metrics,
            "routellm_published_cost_cut_at_95": ROUTELLM_MMLU_CUT,
            "at_threshold": {
                "premium_share": round(float(routed.mean()), 4),
                "accuracy": round(float(chosen), 4),
                "of_premium": round(float(chosen / premium_accuracy), 4),
            },
            "latency_ms": latency_ms(timings),
        },
    }
    artifacts.save(tier_router.ARTIFACT, model, card, folder)
    if curve_png is not None:
        _draw_curve(curve, metrics, fast_accuracy, premium_accuracy, curve_png)
    return card


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["triage", "tier"], help="which model to retrain")
    arguments = parser.parse_args(argv)
    if arguments.model == "tier":
        test = train_tier()["test"]
        print(
            f"cost cut at 95% of premium: {test['cost_cut_at_95']:.1%} (random {test['random_cost_cut_at_95']:.1%}, "
            f"RouteLLM published {ROUTELLM_MMLU_CUT:.0%}); APGR {test['apgr']:.3f}; AUC {test['auc']:.4f}"
        )
        print(
            f"at the shipped threshold: {test['at_threshold']['premium_share']:.1%} premium calls, "
            f"{test['at_threshold']['of_premium']:.1%} of premium's accuracy"
        )
        print(f"latency p50 {test['latency_ms']['p50']} ms, p99 {test['latency_ms']['p99']} ms")
    if arguments.model == "triage":
        card = train_triage()
        holdout, rules = card["holdout"], card["holdout_rules_only"]
        for field in (*triage_model.FIELDS, "all_three", "critical_recall"):
            ours = holdout[field]["accuracy"] if isinstance(holdout[field], dict) else holdout[field]
            base = rules[field]["accuracy"] if isinstance(rules[field], dict) else rules[field]
            print(f"{field:16} held-out {ours:.3f}   rules alone {base:.3f}")
        print(f"latency p50 {holdout['latency_ms']['p50']} ms, p99 {holdout['latency_ms']['p99']} ms")


if __name__ == "__main__":
    main()
