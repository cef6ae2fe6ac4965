"""Triage of a task: domain, complexity and workflow in about a millisecond, with no model call.

Two parts, each doing what it is good at. A learned classifier (`orchestra.routing.triage_model`: word and
character n-grams, logistic regression, trained on `evals/datasets/triage.jsonl`) picks the labels: it generalizes
to phrasings no cue lists. The weighted regex cues (in `triage_cues`, with typo tolerance and structural signals)
explain the decision and hold one line the model must not cross: a task in which they see a write or high stakes is
critical. `confidence` is the model's probability of what it chose, so a caller can consult a model only for the
tasks it is unsure of.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestra.graphs import triage_cues as cues
from orchestra.routing import triage_model

Domain = Literal["web", "design", "bi", "ai"]
Complexity = Literal["low", "high", "critical"]
Workflow = Literal["sales_intelligence_research", "competitive_analysis", "market_research", "design_to_deployment"]

# Cues beyond this add time (about 2 ms per 1,000 characters) but not signal: the ask comes first, and a pasted
# document after it would only add noise.
MAX_CHARS = 1500
# Below this probability of its workflow, the model defers to a workflow the cues found (out of fold by writer on the
# training rows: workflow accuracy 0.944 without, 0.948 with; deferring to the cues' "no workflow" as well cost 0.019).
UNSURE_WORKFLOW = 0.7
# The confidence in a workflow the cues found too, however unsure the model was on its own.
AGREED_WORKFLOW = 0.75
_FLAGS = 0  # every pattern is lowercase and matched against lowercased text: IGNORECASE makes scans 2-3x slower


class Triage(BaseModel):
    """Where a task goes and how carefully: the router's answer, with the cues that decided it."""

    model_config = ConfigDict(frozen=True)

    domain: Domain
    complexity: Complexity
    workflow: Workflow | None
    confidence: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)


def _compile(table: cues.Cues) -> tuple[tuple[re.Pattern[str], float], ...]:
    return tuple((re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", _FLAGS), weight) for pattern, weight in table)


_DOMAIN = {name: _compile(table) for name, table in cues.DOMAIN_CUES.items()}
_WORKFLOW = {name: _compile(table) for name, table in cues.WORKFLOW_CUES.items()}
_ACTIONS = _compile(cues.CRITICAL_ACTION_CUES)
_STAKES = _compile(cues.HIGH_STAKES_CUES)
_HIGH = _compile(cues.HIGH_CUES)
_LOW = _compile(cues.LOW_CUES)
_NEGATION = re.compile(cues.NEGATION, _FLAGS)
_TRANSFORM = re.compile(cues.TEXT_TRANSFORM, _FLAGS)
_URL = re.compile(cues.URL, _FLAGS)
_BARE_DOMAIN = re.compile(rf"(?<![\w@.-]){cues.BARE_DOMAIN}", _FLAGS)
_DESIGN_URL = re.compile(cues.DESIGN_URL, _FLAGS)
_COMPANY = re.compile(cues.COMPANY_NAME)
# Quoted text of three words or more is a payload (a message, a paragraph); shorter quotes are UI labels.
_QUOTED = re.compile(r"\"(?:[^\"\s]+\s+){2,}[^\"]*\"|“(?:[^”\s]+\s+){2,}[^”]*”")
_ANY_QUOTE = re.compile(r"\"[^\"]*\"|“[^”]*”")
_LOOKUP_FIRST = re.compile(
    r"^\W*(?:please |pls |can you |could you )?(?:open|go to|visit|look at|load|fetch|enrich)\b", _FLAGS
)
_WORD = re.compile(r"[a-z]{5,}")
_ASK_VERB = (
    r"tell|give|list|check|compare|write|summari[sz]e|translate|find|pull|extract|screenshot|flag|explain|suggest|"
    r"create|build|run|deploy|test|note|put|send|email|generate|code|verify|chart|report|publish|promote|rank"
)
_ASKS = re.compile(
    rf"(?:,|;|\band\b|\bthen\b|->|:)\s*(?:and\s+)?(?:then\s+)?(?:{_ASK_VERB})\b|\band (?:which|what|how|why|who)\b",
    _FLAGS,
)
_VOCAB = frozenset(cues.TYPO_VOCAB)


def _close(a: str, b: str) -> bool:
    """One edit apart, where substitutions only count in long words ('marked' must not become 'market')."""
    if a == b or a[0] != b[0]:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return True  # transposition: "fimga", "cehck", "desing"
        return len(diff) == 1 and len(a) >= 7
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@lru_cache(maxsize=8192)
def _correct(word: str) -> str:
    if word in _VOCAB:
        return word
    for candidate in _VOCAB:
        if abs(len(candidate) - len(word)) <= 1 and _close(word, candidate):
            return candidate
    return word


def _normalize(text: str) -> str:
    """Lowercase, with misspelled cue words corrected ("fimga" -> "figma")."""
    return _WORD.sub(lambda m: _correct(m.group(0)), text.lower())


def _instructions(text: str) -> tuple[str, bool]:
    """The part of the task that says what to do; the second value says whether a text payload was attached.

    URLs and domain names are cut too: the structural cues read them, and words inside them ("/contact")
    must not count as if the user had written them.
    """
    stripped = _QUOTED.sub(" ", text)
    payload = stripped != text
    # A domain with no path names a company: it stays a two-word stand-in, so "compare acme.example with ..."
    # still reads as "compare <company> with ...".
    stripped = _BARE_DOMAIN.sub(lambda m: " " if "/" in m.group(0) else "the company", _URL.sub(" ", stripped))
    colon = stripped.find(":")
    transform = _TRANSFORM.search(stripped)
    if colon >= 0 and transform is not None and transform.start() < colon:
        payload = payload or bool(stripped[colon + 1 :].strip())
        stripped = stripped[:colon]
    return stripped, payload


def _score(table: tuple[tuple[re.Pattern[str], float], ...], text: str, hits: list[str]) -> float:
    """Sum the weights of the cues found in `text` (each cue once), skipping negated ones."""
    total = 0.0
    for pattern, weight in table:
        for match in pattern.finditer(text):
            if _NEGATION.search(text, max(0, match.start() - 24), match.start()):
                continue
            total += weight
            hits.append(match.group(0).strip().lower())
            break
    return total


def _softmax_top(scores: dict[str, float], temperature: float) -> float:
    best = max(scores.values())
    exps = [math.exp((value - best) / temperature) for value in scores.values()]
    return 1.0 / sum(exps)


def _fmt(hits: list[str]) -> str:
    return ", ".join(f"'{hit}'" for hit in dict.fromkeys(hits)) or "no cue"


class _Scores:
    """Scores and the cue texts behind them, for one family of labels."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.score = dict.fromkeys(labels, 0.0)
        self.hits: dict[str, list[str]] = {label: [] for label in labels}

    def add(self, label: str, weight: float, hit: str) -> None:
        self.score[label] += weight
        self.hits[label].append(hit)

    def best(self) -> str:
        return max(self.score, key=lambda label: self.score[label])


def _domains(text: str, original: str, instructions: str, payload: bool) -> _Scores:
    scores = _Scores(cues.DOMAINS)
    for name, table in _DOMAIN.items():
        scores.score[name] = _score(table, instructions, scores.hits[name])
    if _DESIGN_URL.search(text):
        scores.add("design", 3.0, "figma URL")
    elif _URL.search(text):
        scores.add("web", 2.5, "URL")
    elif match := _BARE_DOMAIN.search(text):
        # "enrich zemex.example" is about the company, "brurex.example/pricing" about a page.
        has_path = "/" in match.group(0)
        scores.add("web", 2.5 if has_path else 1.5, "domain name")
        scores.add("bi", 0.5 if has_path else 1.5, "domain name")
        if sum(1 for m in _BARE_DOMAIN.finditer(text) if "/" not in m.group(0)) > 1:
            scores.add("bi", 1.5, "several companies by domain")
    if _COMPANY.search(original):
        scores.add("bi", 1.5, "company name")
    if payload and _TRANSFORM.search(instructions):
        scores.add("ai", 2.0, "text to transform")
    return scores


def _workflows(text: str, instructions: str) -> _Scores:
    scores = _Scores(cues.WORKFLOWS)
    without_labels = _ANY_QUOTE.sub(" ", instructions)  # "Ship faster" is a label to type, not a request to ship
    for name, table in _WORKFLOW.items():
        scores.score[name] = _score(table, without_labels, scores.hits[name])
    d2d = "design_to_deployment"
    if _DESIGN_URL.search(text) and not any("figma" in hit or "design" in hit for hit in scores.hits[d2d]):
        scores.add(d2d, 1.5, "figma URL")
    return scores


def _complexity(text: str, instructions: str, workflow: str | None) -> tuple[str, float, str]:
    """The complexity, its confidence and the reason: state changes and stakes first, then breadth."""
    action_hits: list[str] = []
    stakes_hits: list[str] = []
    actions = _score(_ACTIONS, instructions, action_hits)
    stakes = _score(_STAKES, instructions, stakes_hits)
    if workflow == "design_to_deployment":
        actions += 3.0
        action_hits.append("the workflow deploys")
    if actions >= 3.0 or stakes >= cues.HIGH_STAKES_THRESHOLD:
        why = [f"changes state ({_fmt(action_hits)})"] if actions else []
        why += [f"high stakes ({_fmt(stakes_hits)})"] if stakes >= cues.HIGH_STAKES_THRESHOLD else []
        return "critical", min(0.97, 0.75 + (actions + stakes - 3.0) / 20), "; ".join(why)

    high_hits: list[str] = []
    low_hits: list[str] = []
    high = _score(_HIGH, instructions, high_hits)
    low = 1.0 + _score(_LOW, instructions, low_hits)
    asks = len(_ASKS.findall(instructions))
    if asks and _LOOKUP_FIRST.search(instructions):
        asks -= 1  # "open X and tell me Y" is one ask: the first verb only fetches what the second reads
    sites = {m.group(0) for m in _URL.finditer(text) if not _DESIGN_URL.search(m.group(0))}
    sites |= {m.group(0).split("/")[0] for m in _BARE_DOMAIN.finditer(_URL.sub(" ", text))}
    for weight, applies, hit in (
        (1.2 * asks, asks > 0, f"{asks + 1} asks"),
        (2.0, len(sites) >= 2, f"{len(sites)} sites"),
        (1.0, instructions.count(",") >= 2, "list of parts"),
        (1.0, len(instructions.split()) > 30, "long request"),
        (3.0, workflow is not None, "a workflow"),
    ):
        if applies:
            high += weight
            high_hits.append(hit)
    complexity = "high" if high > low else "low"
    confidence = min(0.95, 1.0 / (1.0 + math.exp(-abs(high - low) / 1.5)))
    if actions or stakes:
        confidence *= 0.8  # a weak state-change or stakes cue was seen but not enough to say critical
    return complexity, confidence, _fmt(high_hits if complexity == "high" else low_hits)


def rule_triage(task: str) -> Triage:
    """The cues alone: domain, complexity and workflow, saying which cues decided and how sure they are."""
    original = unicodedata.normalize("NFKC", task or "")[:MAX_CHARS]
    text = _normalize(original)
    instructions, payload = _instructions(text)
    unquoted = _QUOTED.sub(" ", text)
    domains = _domains(unquoted, _QUOTED.sub(" ", original), instructions, payload)
    workflows = _workflows(unquoted, instructions)
    reasons: list[str] = []

    best_workflow = workflows.best()
    top_workflow = workflows.score[best_workflow]
    workflow: str | None = None
    if top_workflow >= cues.WORKFLOW_THRESHOLD:
        workflow = best_workflow
        domains.add(cues.WORKFLOW_DOMAIN[workflow], top_workflow, f"{workflow} cues")

    domain = domains.best()
    if domains.score[domain] <= 0:
        domain = cues.DEFAULT_DOMAIN
        reasons.append(f"domain {domain}: no cue, default")
    else:
        reasons.append(f"domain {domain}: {_fmt(domains.hits[domain])}")
    domain_conf = _softmax_top(domains.score, temperature=1.6)
    if domains.score[domain] < 2.0:
        domain_conf = min(domain_conf, 0.4)

    if workflow is not None and cues.WORKFLOW_DOMAIN[workflow] != domain:
        reasons.append(f"workflow {workflow} dropped: the task is {domain}")
        workflow = None
    if workflow is not None:
        reasons.append(f"workflow {workflow}: {_fmt(workflows.hits[workflow])}")
        runner_up = max(v for k, v in workflows.score.items() if k != workflow)
        workflow_conf = min(0.97, 0.5 + (top_workflow - cues.WORKFLOW_THRESHOLD) / 8 + (top_workflow - runner_up) / 10)
    else:
        workflow_conf = 0.95 if top_workflow < 1.5 else 0.9 - top_workflow / (2 * cues.WORKFLOW_THRESHOLD)

    complexity, complexity_conf, why = _complexity(unquoted, instructions, workflow)
    reasons.append(f"complexity {complexity}: {why}")
    confidence = round(max(0.05, min(domain_conf, complexity_conf, workflow_conf)), 3)
    return Triage(
        domain=domain,  # type: ignore[arg-type]
        complexity=complexity,  # type: ignore[arg-type]
        workflow=workflow,  # type: ignore[arg-type]
        confidence=confidence,
        reasons=reasons,
    )


def classify(task: str, model: dict[str, Any]) -> Triage:
    """Triage `task` with a given learned model (the training script evaluates candidates with this)."""
    text = unicodedata.normalize("NFKC", task or "")[:MAX_CHARS]
    rules = rule_triage(text)
    if not any(character.isalnum() for character in text):
        return rules  # nothing to read: the cues' default, with their low confidence
    scores = triage_model.score(model, text)
    # The domain and the workflow together: a workflow fixes its domain, so pick the likeliest consistent pair.
    pairs = {
        (domain, workflow): p_domain * p_workflow
        for domain, p_domain in scores.domain.items()
        for workflow, p_workflow in scores.workflow.items()
        if workflow == triage_model.NO_WORKFLOW or cues.WORKFLOW_DOMAIN[workflow] == domain
    }
    domain, workflow = max(pairs, key=pairs.__getitem__)
    if scores.workflow[workflow] < UNSURE_WORKFLOW and rules.workflow is not None:
        domain, workflow = cues.WORKFLOW_DOMAIN[rules.workflow], rules.workflow  # an unsure model takes the cues'
    threshold = model["critical_threshold"]
    p_critical = scores.complexity["critical"]
    if rules.complexity == "critical" or p_critical >= threshold:
        complexity = "critical"
        cued = rules.complexity == "critical"
        why = "the cues see a write or high stakes" if cued else f"p(critical) {p_critical:.2f}"
    else:
        complexity = max(("low", "high"), key=scores.complexity.__getitem__)
        why = f"p {scores.complexity[complexity]:.2f}"
    p_workflow = scores.workflow[workflow]
    if workflow == rules.workflow:
        p_workflow = max(p_workflow, AGREED_WORKFLOW)  # the cues found the same job: two readings agree
    confidence = min(scores.domain[domain], p_workflow, max(scores.complexity[complexity], p_critical))
    chosen = None if workflow == triage_model.NO_WORKFLOW else workflow
    reasons = [
        f"learned: domain {domain} p {scores.domain[domain]:.2f}, workflow {chosen} p {scores.workflow[workflow]:.2f}, "
        f"complexity {complexity} ({why})",
        *(f"cues: {reason}" for reason in rules.reasons),
    ]
    return Triage(
        domain=domain,  # type: ignore[arg-type]
        complexity=complexity,  # type: ignore[arg-type]
        workflow=chosen,  # type: ignore[arg-type]
        confidence=round(max(0.05, min(1.0, confidence)), 3),
        reasons=reasons,
    )


def triage(task: str) -> Triage:
    """Classify a task into domain, complexity and workflow with the shipped model, the cues guarding writes."""
    return classify(task, triage_model.shipped())
