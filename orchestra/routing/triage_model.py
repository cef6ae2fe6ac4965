"""The learned half of triage: TF-IDF over words and character n-grams, and a logistic regression per label.

Word and character n-grams carry what the rules' cues cannot list: phrasings without a trigger word ("push it
live", "stack up against"), typos and other languages. The rules' cues as extra features made it worse on tasks
written by others (they fit the phrasing of the rows they were tuned on), so the rules keep one job beside it: a
task they see a write in is critical whatever the model says (see `orchestra.graphs.triage`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from orchestra.graphs import triage_cues as cues
from orchestra.routing import artifacts

FIELDS = ("domain", "complexity", "workflow")
# What the words cannot say by themselves, made into tokens before the n-grams: a quoted text is a payload to work
# on, not instructions; a link is a page (a Figma link a design); a bare domain names a company; and a word right
# after a negation ("don't deploy") is not asked for.
_QUOTED = re.compile(r"\"(?:[^\"\s]+\s+){2,}[^\"]*\"|“(?:[^”\s]+\s+){2,}[^”]*”")
_DESIGN_LINK = re.compile(r"https?://(?:www\.)?figma\.com/[^\s\"')]*")
_LINK = re.compile(cues.URL)
_DOMAIN = re.compile(rf"(?<![\w@.-]){cues.BARE_DOMAIN}")
_NEGATED = re.compile(
    r"\b(?:no|not|never|without|don'?t|do not|dont|doesn'?t|won'?t|nicht|pas|sin|sem|non)\s+(\w+)(?:\s+(\w+))?"
)
NO_WORKFLOW = "null"
ARTIFACT = "triage"


@dataclasses.dataclass(frozen=True)
class Params:
    """What `train` fits; recorded in the artifact's card."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    max_features: int = 60_000
    regularization: float = 10.0


@dataclasses.dataclass(frozen=True)
class Scores:
    """Each label's probability, per field (`workflow` has "null" for none)."""

    domain: dict[str, float]
    complexity: dict[str, float]
    workflow: dict[str, float]


def label_of(row: dict[str, Any], field: str) -> str:
    value = row[field]
    return NO_WORKFLOW if value is None else str(value)


def prepare(text: str) -> str:
    """The task as the word n-grams see it (see the module's note on tokens)."""
    text = _QUOTED.sub(" quotedtext ", text.lower())
    text = _DESIGN_LINK.sub(" figmalink ", text)
    text = _LINK.sub(" weblink ", text)
    text = _DOMAIN.sub(lambda m: " sitepage " if "/" in m.group(0) else " domainname ", text)
    return _NEGATED.sub(lambda m: " ".join(f"neg{word}" for word in m.groups() if word), text)


def prepare_chars(text: str) -> str:
    """The task as the character n-grams see it: without the tokens, whose letters would each weigh again."""
    text = _QUOTED.sub(" ", text.lower())
    return _DOMAIN.sub(" ", _LINK.sub(" ", text))


def fit(rows: Sequence[dict[str, Any]], params: Params = Params()) -> dict[str, Any]:
    """A model (a plain dict of fitted scikit-learn parts) from labeled rows."""
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=params.word_ngrams, sublinear_tf=True, preprocessor=prepare)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=params.char_ngrams, min_df=params.char_min_df,
                                  max_features=params.max_features, sublinear_tf=True, preprocessor=prepare_chars)),
    ])  # fmt: skip
    matrix = features.fit_transform([row["task"] for row in rows])
    model: dict[str, Any] = {"features": features}
    for field in FIELDS:
        classifier = LogisticRegression(C=params.regularization, max_iter=5000, class_weight="balanced")
        model[field] = classifier.fit(matrix, [label_of(row, field) for row in rows])
    return model


def score(model: dict[str, Any], text: str) -> Scores:
    """Every label's probability for one task, in well under a millisecond on a short task."""
    with config_context(assume_finite=True):  # skips a validation pass that costs more than the prediction
        vector = model["features"].transform([text])
        found = {}
        for field in FIELDS:
            classifier = model[field]
            found[field] = dict(zip(classifier.classes_, classifier.predict_proba(vector)[0].tolist(), strict=True))
    return Scores(**found)


@lru_cache(maxsize=1)
def shipped() -> dict[str, Any]:
    """The shipped model (orchestra/routing/artifacts/triage.joblib), loaded once per process."""
    model, _ = artifacts.load(ARTIFACT)
    return model
