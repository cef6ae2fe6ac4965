"""Score triage against the labeled tasks in `evals/datasets/triage.jsonl`.

The held-out rows were written by a writer who never saw the training rows, so their score is the score on tasks
written by others. Run: `python -m evals.triage_eval` (`--split train|holdout|all`, `--rules` for the cues alone,
`--json` for machine-readable output). The learned model is retrained by `python -m orchestra.routing.train triage`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orchestra.graphs.triage import rule_triage, triage
from orchestra.routing.train import TRIAGE_DATA, evaluate_triage, read_rows

SPLITS = ("train", "holdout", "all")
FIELDS = ("domain", "complexity", "workflow")


def load_dataset(path: Path = TRIAGE_DATA) -> list[dict[str, Any]]:
    """Every labeled task, in file order."""
    return read_rows(path)


def evaluate(split: str = "holdout", path: Path = TRIAGE_DATA, rules: bool = False) -> dict[str, Any]:
    """The report of `orchestra.routing.train.evaluate_triage` for one split, with the rows triage got wrong."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rows = [row for row in load_dataset(path) if split == "all" or row["split"] == split]
    return {"split": split, **evaluate_triage(rule_triage if rules else triage, rows, keep_errors=True)}


def _print_report(report: dict[str, Any]) -> None:
    print(f"triage eval, split={report['split']}, n={report['rows']}")
    for field in FIELDS:
        print(f"  {field:<16} {report[field]['accuracy']:.3f}")
    print(f"  {'all three':<16} {report['all_three']:.3f}")
    print(f"  {'critical recall':<16} {report['critical_recall']:.3f}  missed: {', '.join(report['critical_missed'])}")
    print(f"  time/task        p50 {report['latency_ms']['p50']:.3f} ms, p99 {report['latency_ms']['p99']:.3f} ms")
    for field in FIELDS:
        confusion = report[field]["confusion"]
        labels = confusion["labels"]
        width = max(len(label) for label in labels) + 2
        print(f"\n{field}: rows expected, columns predicted; recall per label")
        print(" " * width + "".join(f"{label[:10]:>12}" for label in labels) + f"{'recall':>9}")
        for label, counts in zip(labels, confusion["rows_expected"], strict=True):
            recall = report[field]["per_label"][label]["recall"]
            print(f"{label:<{width}}" + "".join(f"{count:>12}" for count in counts) + f"{recall:>9.3f}")
    print(f"\nmisclassified ({len(report['errors'])}):")
    for error in report["errors"]:
        print(f"- {error['id']} [{error['confidence']:.2f}] {error['task'][:110]}")
        print(f"    {error['wrong']}; {' | '.join(error['reasons'])}")


def main(argv: list[str] | None = None) -> int:
    """Print the report for one split; always exits 0 (floors are asserted by tests, not here)."""
    parser = argparse.ArgumentParser(prog="python -m evals.triage_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="holdout")
    parser.add_argument("--rules", action="store_true", help="the cues alone, without the learned model")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    report = evaluate(args.split, rules=args.rules)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
