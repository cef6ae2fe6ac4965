"""Fitting the router's threshold to a team's own traffic, for a target the team states (RouteLLM's users have to
recalibrate on theirs; this does it from what Orchestra logged).

- "At most X% of routed steps to premium": the threshold is the gain score's quantile over the routed calls logged;
  it needs no outcomes.
- "Y% of premium's quality": from routed steps with an outcome (thumbs, eval results), the chance of a good answer
  given the gain score is fitted per tier (a one-feature logistic regression each); for each candidate threshold
  the expected quality of routing all logged steps that way is compared with sending them all to premium, and the
  threshold that sends the fewest steps to premium while keeping the target is chosen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from orchestra.routing.outcomes import Outcome

MIN_OUTCOMES_PER_TIER = 10


class CalibrationError(ValueError):
    """The logged traffic cannot support the target asked for; the message says what is missing."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A threshold and what it is expected to do on the logged traffic."""

    threshold: float
    premium_share: float
    of_premium_quality: float | None  # None when fitted for a premium share without outcomes
    steps: int
    outcomes: int


def for_premium_share(gains: Sequence[float], share: float) -> Calibration:
    """The lowest threshold that sends at most `share` of the logged steps to premium (premium when gain > t)."""
    if not gains:
        raise CalibrationError("no routed model calls are logged yet; run some tasks with both tiers configured")
    ordered = np.sort(np.asarray(gains, dtype=float))
    allowed = int(np.floor(share * len(ordered)))  # steps that may stay above the threshold
    threshold = float(ordered[len(ordered) - allowed - 1]) if allowed < len(ordered) else float(ordered[0]) - 1e-9
    premium = float(np.mean(ordered > threshold))
    return Calibration(threshold, premium, None, len(ordered), 0)


def for_quality(outcomes: Sequence[Outcome], gains: Sequence[float], target: float) -> Calibration:
    """The threshold with the fewest premium steps whose expected quality is at least `target` of all-premium's,
    over the logged steps' gain scores (`gains`; the outcomes' own when no other steps are logged)."""
    by_tier = {tier: [o for o in outcomes if o.tier == tier] for tier in ("fast", "premium")}
    for tier, rows in by_tier.items():
        if len(rows) < MIN_OUTCOMES_PER_TIER or len({o.good for o in rows}) < 2:
            raise CalibrationError(
                f"{len(rows)} routed {tier} steps have an outcome ({sum(o.good for o in rows)} good); fitting a "
                f"quality target needs at least {MIN_OUTCOMES_PER_TIER} per tier with both good and bad ones "
                "(send thumbs on more runs, or pass eval results with --eval), or calibrate with --max-premium"
            )
    population = np.asarray(list(gains) or [o.gain for o in outcomes], dtype=float)
    good_on = {tier: _p_good(rows, population) for tier, rows in by_tier.items()}
    all_premium = float(np.mean(good_on["premium"]))
    if all_premium <= 0:
        raise CalibrationError("no premium step is expected to be good; the outcomes logged cannot anchor a target")
    # Every 0.5% of premium share is fine enough, and keeps this linear in the size of the log.
    candidates = np.unique(np.append(np.quantile(population, np.linspace(0, 1, 201)), population.min() - 1e-9))
    best: Calibration | None = None
    for threshold in candidates:
        to_premium = population > threshold
        quality = float(np.mean(np.where(to_premium, good_on["premium"], good_on["fast"]))) / all_premium
        if quality >= target and (best is None or np.mean(to_premium) < best.premium_share):
            best = Calibration(float(threshold), float(np.mean(to_premium)), round(quality, 4),
                               len(population), len(outcomes))  # fmt: skip
    if best is None:
        raise CalibrationError(f"no threshold reaches {target:.0%} of premium's quality on the logged traffic")
    return best


def _p_good(rows: Sequence[Outcome], gains: np.ndarray) -> np.ndarray:
    """P(good answer | gain score) on one tier, at each of `gains`."""
    model = LogisticRegression().fit(np.asarray([[o.gain] for o in rows]), np.asarray([o.good for o in rows]))
    return model.predict_proba(gains.reshape(-1, 1))[:, 1]
