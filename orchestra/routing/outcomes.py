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
import math
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


def routed(choice: object) -> tuple[float, str] | None:
    """A router's decision as (gain, tier), or None when `choice` is not one (a rule's, or a damaged record)."""
    if not isinstance(choice, dict) or choice.get("by") != "router" or choice.get("tier") not in ("fast", "premium"):
        return None
    gain = choice.get("gain")
    if isinstance(gain, bool) or not isinstance(gain, int | float) or not math.isfinite(gain):
        return None
    return float(gain), str(choice["tier"])


def routed_steps(calls: RecordLog, since: dt.datetime | None = None) -> list[tuple[float, str, dict[str, Any]]]:
    """The steps whose tier the router chose, from the call log: (gain, tier, the step's first call). A step's calls
    (an agent's tool loop) share one decision, so they count once: a long loop does not outweigh other steps."""
    steps: dict[tuple[str, ...], tuple[float, str, dict[str, Any]]] = {}
    for record in calls.read(since):
        if found := routed(record.get("choice")):
            step = str(record["choice"].get("step", ""))
            key = (str(record.get("tenant", "local")), str(record.get("run_id", "")), step, repr(found))
            steps.setdefault(key, (*found, record))
    return list(steps.values())


def from_feedback(calls: RecordLog, outcomes: RecordLog, since: dt.datetime | None = None) -> list[Outcome]:
    """Each routed call of a run that got thumbs."""
    verdicts = {(str(r.get("tenant")), str(r.get("run_id"))): r["good"] for r in outcomes.read(since)
                if isinstance(r.get("good"), bool)}  # fmt: skip
    return [
        Outcome(gain, tier, verdicts[key])
        for gain, tier, call in routed_steps(calls, since)
        if (key := (str(call.get("tenant", "local")), str(call.get("run_id", "")))) in verdicts
    ]


def from_eval_results(paths: Iterable[Path]) -> list[Outcome]:
    """Each routed step of each case in `orchestra eval run --json` results; good when the case passed. A file that
    is not such results raises ValueError naming it."""
    found = []
    for path in paths:
        try:
            results = json.loads(path.read_bytes())
            cases = results["cases"]
            for case in cases:
                if not isinstance(case["passed"], bool):
                    raise TypeError("'passed' is not true or false")
                for turn in case.get("turns", []):
                    found += [Outcome(*decision, case["passed"])
                              for choice in turn.get("routing", []) if (decision := routed(choice))]  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            why = f"{type(exc).__name__}: {exc}"
            raise ValueError(f"{path}: not the JSON of `orchestra eval run --json` ({why})") from None
    return found
