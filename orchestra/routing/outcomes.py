"""Routed calls with an outcome, from a team's own traffic: what `orchestra models calibrate` fits thresholds on.

Two sources. Thumbs up or down on a run, sent to the server (`POST /threads/{id}/runs/{run_id}/feedback`) and
kept in `<data_dir>/routing-outcomes.jsonl`, joined by run to the router's decisions in the call log. And eval
results (`orchestra eval run --json`), where a case that passed is a good outcome for every routed step it made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestra.core.models_config import read_jsonl, usage_log_path


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One routed step: the router's gain score, the tier it used, and whether the answer was good."""

    gain: float
    tier: str
    good: bool


def outcomes_log_path(data_dir: Path) -> Path:
    return data_dir / "routing-outcomes.jsonl"


def record_feedback(data_dir: Path, tenant: str, thread_id: str, run_id: str, good: bool, comment: str) -> None:
    """Append one run's thumbs up or down (the server calls this off the event loop)."""
    path = outcomes_log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"ts": dt.datetime.now(dt.UTC).isoformat(), "tenant": tenant, "thread_id": thread_id,
              "run_id": run_id, "good": good, "comment": comment}  # fmt: skip
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def routed_calls(data_dir: Path, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The call log's records of calls whose tier the router chose."""
    return [r for r in read_jsonl(usage_log_path(data_dir), since) if (r.get("choice") or {}).get("by") == "router"]


def from_feedback(data_dir: Path, since: dt.datetime | None = None) -> list[Outcome]:
    """Each routed call of a run that got thumbs (the latest thumbs of the run count)."""
    verdicts = {(r["tenant"], r["run_id"]): bool(r["good"]) for r in read_jsonl(outcomes_log_path(data_dir), since)}
    return [
        Outcome(float(call["choice"]["gain"]), call["choice"]["tier"], verdicts[key])
        for call in routed_calls(data_dir, since)
        if (key := (call.get("tenant", "local"), call.get("run_id", ""))) in verdicts
    ]


def from_eval_results(paths: Iterable[Path]) -> list[Outcome]:
    """Each routed step of each case in `orchestra eval run --json` results; good when the case passed."""
    found = []
    for path in paths:
        results = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(results, dict) or "cases" not in results:
            raise ValueError(f"{path}: not the JSON of `orchestra eval run --json` (no 'cases')")
        for case in results["cases"]:
            for turn in case.get("turns", []):
                found += [Outcome(float(choice["gain"]), choice["tier"], bool(case["passed"]))
                          for choice in turn.get("routing", []) if choice.get("by") == "router"]  # fmt: skip
    return found
