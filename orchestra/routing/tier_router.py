"""The model-tier router: for a prompt, the probability that the fast tier answers it as well as the premium one.

One multinomial logistic regression over word n-grams predicts the joint outcome of the two tiers (neither right,
only premium right, only fast right, both right), trained on per-prompt correctness of a cheap and a strong model
(RouteLLM's MMLU data, `evals/datasets/routellm-mmlu`). From it come `p_fast_enough`, the probability that fast
loses nothing (1 - P(only premium right)), and `gain`, what premium is expected to add (P(only premium right) -
P(only fast right)). Premium is chosen when the gain passes a threshold: ranking by gain rather than by p counts
the prompts the fast model gets right and the premium one gets wrong (5% of MMLU), which measured better in
cross-validation. It runs locally in well under a millisecond; `orchestra models calibrate` fits the threshold
to a team's own traffic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from orchestra.routing import artifacts

ARTIFACT = "tier-router"
ONLY_PREMIUM, ONLY_FAST = 1, 2  # joint outcome = 2 * fast_right + premium_right


@dataclasses.dataclass(frozen=True)
class Params:
    """What `fit` trains; recorded in the artifact's card."""

    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 2
    max_features: int = 20_000
    regularization: float = 0.3


@dataclasses.dataclass(frozen=True)
class Decision:
    """Which tier answers a prompt, and why."""

    tier: Literal["fast", "premium"]
    p_fast_enough: float
    gain: float
    threshold: float


def fit(prompts: Sequence[str], fast_right: Sequence[bool], premium_right: Sequence[bool],
        params: Params = Params()) -> dict[str, Any]:  # fmt: skip
    """A model (a plain dict of fitted scikit-learn parts) from prompts and whether each tier answered them right."""
    features = TfidfVectorizer(ngram_range=params.word_ngrams, min_df=params.min_df, max_features=params.max_features,
                               sublinear_tf=True)  # fmt: skip
    outcome = 2 * np.asarray(fast_right, dtype=int) + np.asarray(premium_right, dtype=int)
    classifier = LogisticRegression(C=params.regularization, max_iter=5000)
    classifier.fit(features.fit_transform(prompts), outcome)
    return {"features": features, "classifier": classifier}


def scores(model: dict[str, Any], prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`p_fast_enough` and `gain` for each prompt."""
    with config_context(assume_finite=True):
        proba = model["classifier"].predict_proba(model["features"].transform(prompts))
    classes = list(model["classifier"].classes_)
    only_premium, only_fast = proba[:, classes.index(ONLY_PREMIUM)], proba[:, classes.index(ONLY_FAST)]
    return 1.0 - only_premium, only_premium - only_fast


def decide(model: dict[str, Any], prompt: str, threshold: float | None = None) -> Decision:
    """Fast or premium for one prompt: premium when the expected gain passes `threshold` (default: the model's)."""
    p_fast_enough, gain = scores(model, [prompt])
    limit = model["threshold"] if threshold is None else threshold
    tier: Literal["fast", "premium"] = "premium" if float(gain[0]) > limit else "fast"
    return Decision(tier, float(p_fast_enough[0]), float(gain[0]), limit)  # unrounded: calibration compares them


@lru_cache(maxsize=1)
def shipped() -> dict[str, Any]:
    """The shipped router (orchestra/routing/artifacts/tier-router.joblib), loaded once per process."""
    model, _ = artifacts.load(ARTIFACT)
    return model
