"""Routed calls with an outcome, from a team's own traffic: what `orchestra models calibrate` fits thresholds on.

Two sources. Thumbs up or down on a run, sent to the server (`POST /threads/{id}/runs/{run_id}/feedback`) and
kept in the outcomes log (`orchestra.core.call_log`), joined by tenant and run to the router's decisions in the call
log. And eval
results (`orchestra eval run --json`), where a case that passed is a good outcome for every routed step it made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestra.core.call_log import RecordLog


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One routed step: the router's gain score, the tier it used, and whether the answer was good."""

    gain: float
    tier: str
    good: bool


def record_feedback(outcomes: RecordLog, tenant: str, thread_id: str, run_id: str, good: bool, comment: str) -> None:
    """Keep one run's thumbs up or down (the server calls this off the event loop)."""
    outcomes.append({"ts": dt.datetime.now(dt.UTC).isoformat(), "tenant": tenant, "thread_id": thread_id,
                     "run_id": run_id, "good": good, "comment": comment})  # fmt: skip


def routed_calls(calls: RecordLog, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The call log's records of calls whose tier the router chose."""
    return [r for r in calls.read(since) if (r.get("choice") or {}).get("by") == "router"]


def from_feedback(calls: RecordLog, outcomes: RecordLog, since: dt.datetime | None = None) -> list[Outcome]:
    """Each routed call of a run that got thumbs (the latest thumbs of the run count)."""
    verdicts = {(r["tenant"], r["run_id"]): bool(r["good"]) for r in outcomes.read(since)}
    return [
        Outcome(float(call["choice"]["gain"]), call["choice"]["tier"], verdicts[key])
        for call in routed_calls(calls, since)
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
