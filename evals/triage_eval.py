"""Score the deterministic triage against the labeled tasks in `evals/datasets/triage.jsonl`.

The labels are the ground truth the router is measured against; the holdout split exists so that the accuracy
reported is not the accuracy of cues tuned to those very sentences. Run:
`python -m evals.triage_eval --split holdout` (or `--split train|all`, `--json` for machine-readable output).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from orchestra.graphs.triage import triage
from orchestra.graphs.triage_cues import COMPLEXITIES, DOMAINS, WORKFLOWS

DATASET = Path(__file__).parent / "datasets" / "triage.jsonl"
FIELDS = ("domain", "complexity", "workflow")
SPLITS = ("train", "holdout", "all")
LABELS: dict[str, tuple[str, ...]] = {
    "domain": DOMAINS,
    "complexity": COMPLEXITIES,
    "workflow": (*WORKFLOWS, "null"),
}


def load_dataset(path: Path = DATASET) -> list[dict[str, Any]]:
    """Every labeled task, in file order."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _label(value: str | None) -> str:
    return "null" if value is None else value


def evaluate(split: str = "holdout", path: Path = DATASET) -> dict[str, Any]:
    """Accuracy per field, confusion counts, timing and the misclassified rows of one split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rows = [row for row in load_dataset(path) if split == "all" or row["split"] == split]
    triage("warm up the regex caches")
    correct = Counter[str]()
    confusion: dict[str, Counter[tuple[str, str]]] = {field: Counter() for field in FIELDS}
    timings_ms: list[float] = []
    errors: list[dict[str, Any]] = []
    confidences: list[tuple[float, bool]] = []
    for row in rows:
        start = time.perf_counter()
        result = triage(row["task"])
        timings_ms.append((time.perf_counter() - start) * 1000)
        predicted = {"domain": result.domain, "complexity": result.complexity, "workflow": result.workflow}
        ok = {field: predicted[field] == row[field] for field in FIELDS}
        for field in FIELDS:
            correct[field] += ok[field]
            confusion[field][(_label(row[field]), _label(predicted[field]))] += 1
        exact = all(ok.values())
        correct["all_three"] += exact
        confidences.append((result.confidence, exact))
        if not exact:
            errors.append(
                {
                    "id": row["id"],
                    "task": row["task"],
                    "expected": {field: row[field] for field in FIELDS},
                    "predicted": predicted,
                    "confidence": result.confidence,
                    "reasons": result.reasons,
                }
            )
    n = len(rows) or 1
    timings_ms.sort()
    low_conf = [exact for conf, exact in confidences if conf < 0.5]
    high_conf = [exact for conf, exact in confidences if conf >= 0.5]
    return {
        "split": split,
        "n": len(rows),
        "accuracy": {key: round(correct[key] / n, 4) for key in (*FIELDS, "all_three")},
        "confusion": {
            field: {f"{gold} -> {pred}": count for (gold, pred), count in sorted(confusion[field].items())}
            for field in FIELDS
        },
        "timing_ms": {
            "median": round(statistics.median(timings_ms), 4) if timings_ms else 0.0,
            "p95": round(timings_ms[int(0.95 * (len(timings_ms) - 1))], 4) if timings_ms else 0.0,
        },
        "calibration": {
            "confidence<0.5": {"n": len(low_conf), "exact": round(sum(low_conf) / (len(low_conf) or 1), 4)},
            "confidence>=0.5": {"n": len(high_conf), "exact": round(sum(high_conf) / (len(high_conf) or 1), 4)},
        },
        "errors": errors,
    }


def _confusion_table(field: str, counts: dict[str, int]) -> str:
    labels = LABELS[field]
    width = max(len(label) for label in labels) + 2
    lines = [f"{field} (rows: expected, columns: predicted)", " " * width + "".join(f"{x[:10]:>12}" for x in labels)]
    for gold in labels:
        cells = "".join(f"{counts.get(f'{gold} -> {pred}', 0):>12}" for pred in labels)
        lines.append(f"{gold:<{width}}{cells}")
    return "\n".join(lines)


def _print_report(report: dict[str, Any]) -> None:
    print(f"triage eval, split={report['split']}, n={report['n']}")
    for key, value in report["accuracy"].items():
        print(f"  {key:<11} {value:.3f}")
    timing = report["timing_ms"]
    print(f"  time/task   median {timing['median']:.3f} ms, p95 {timing['p95']:.3f} ms")
    for bucket, stats in report["calibration"].items():
        print(f"  {bucket:<16} n={stats['n']:<4} all-three exact {stats['exact']:.3f}")
    for field in FIELDS:
        print()
        print(_confusion_table(field, report["confusion"][field]))
    print(f"\nmisclassified ({len(report['errors'])}):")
    for error in report["errors"]:
        wrong = {
            k: f"{error['expected'][k]} -> {v}" for k, v in error["predicted"].items() if v != error["expected"][k]
        }
        print(f"- {error['id']} [{error['confidence']:.2f}] {error['task'][:110]}")
        print(f"    {wrong}; {' | '.join(error['reasons'])}")


def main(argv: list[str] | None = None) -> int:
    """Print the report for one split; always exits 0 (floors are asserted by tests, not here)."""
    parser = argparse.ArgumentParser(prog="python -m evals.triage_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="holdout")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    report = evaluate(args.split)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
