"""Which tier a step of a run uses: the rules where the answer is fixed, the learned router where either would do.

Critical work always gets the premium tier (and the panel's cross-check after it); a specialist's low-complexity
task always gets the fast one. Every other step that asks (a specialist's high-complexity task, a report's
summary, a follow-up's rewriting) gets the router's decision on the task: premium only when it expects premium
to answer better by more than the threshold.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from orchestra.routing import tier_router

Step = Literal["specialist", "synthesis", "follow_up"]
ROUTED_CHARS = 8_000  # the router reads this much of a task: enough for any MMLU prompt, and bounded time on the loop


@dataclasses.dataclass(frozen=True)
class TierChoice:
    """The tier one step used and why; goes into the run's usage, its report footer and the call log."""

    step: str
    tier: Literal["fast", "premium"]
    by: Literal["rule", "router"]
    p_fast_enough: float | None = None
    gain: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


def choose_tier(step: Step, task: str, complexity: str, threshold: float | None) -> TierChoice:
    """`threshold` None means the shipped router's own (`orchestra models calibrate` writes another)."""
    if complexity == "critical":
        return TierChoice(step, "premium", "rule")
    if complexity == "low" and step == "specialist":
        return TierChoice(step, "fast", "rule")
    decision = tier_router.decide(tier_router.shipped(), task[:ROUTED_CHARS], threshold)
    return TierChoice(step, decision.tier, "router", decision.p_fast_enough, decision.gain, decision.threshold)
