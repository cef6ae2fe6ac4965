"""Scoring one turn against its expectations: each expectation is a named score that passes or fails, saying
why. A custom scorer is a function `(turn: TurnResult) -> bool | tuple[bool, str]`, named `module:function`."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestra.evals.suite import Expect, Fact
from orchestra.evals.trajectory import match_trajectory

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")  # not the 7 of a citation [E7]
_CITATION = re.compile(r"\[E\d+(?:,\s*E\d+)*\]")


@dataclass
class TurnResult:
    """What one turn did, as the scorers and reports see it."""

    say: str
    answer: str = ""
    route: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)  # the tool calls made: {"tool", "arguments", "ok"}
    approvals: list[str] = field(default_factory=list)  # the calls asked about, `pool.tool`
    flags: list[str] = field(default_factory=list)
    model_calls: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    routing: list[dict[str, Any]] = field(default_factory=list)  # the tier each step used, and why


@dataclass
class Score:
    name: str
    passed: bool
    detail: str = ""


def found(fact: Fact, text: str) -> bool:
    if fact.text is not None:
        return fact.text in text
    if fact.regex is not None:
        return re.search(fact.regex, text) is not None
    assert fact.number is not None
    prose = _CITATION.sub("", text.split("\n## Evidence\n", 1)[0])  # numbers of the answer, not of its evidence table
    numbers = (float(n.replace(",", "")) for n in _NUMBER.findall(prose))
    return any(abs(n - fact.number) <= fact.tolerance for n in numbers)


def _say(fact: Fact) -> str:
    if fact.text is not None:
        return repr(fact.text)
    if fact.regex is not None:
        return f"/{fact.regex}/"
    return f"{fact.number:g}" + (f" ± {fact.tolerance:g}" if fact.tolerance else "")


def score_turn(turn: TurnResult, expect: Expect) -> list[Score]:
    scores: list[Score] = []
    if expect.route:
        wrong = {k: turn.route.get(k) for k, v in expect.route.items() if turn.route.get(k) != v}
        scores.append(Score("route", not wrong, ", ".join(f"{k} was {v!r}, expected {expect.route[k]!r}"
                                                          for k, v in wrong.items())))  # fmt: skip
    if expect.trajectory is not None:
        passed, detail = match_trajectory(expect.trajectory, turn.calls)
        scores.append(Score(f"trajectory ({expect.trajectory.mode})", passed, detail))
    if expect.contains:
        missing = [_say(fact) for fact in expect.contains if not found(fact, turn.answer)]
        scores.append(Score("contains", not missing, "missing: " + ", ".join(missing) if missing else ""))
    if expect.not_contains:
        present = [_say(fact) for fact in expect.not_contains if found(fact, turn.answer)]
        scores.append(Score("not_contains", not present, "present: " + ", ".join(present) if present else ""))
    if expect.approvals is not None:
        same = turn.approvals == expect.approvals
        scores.append(Score("approvals", same, "" if same else f"asked {turn.approvals}, expected {expect.approvals}"))
    if expect.flags is not None:
        unmatched = [want for want in expect.flags if not any(want in flag for flag in turn.flags)]
        if not expect.flags:
            scores.append(Score("flags", not turn.flags, f"unexpected flags: {turn.flags}" if turn.flags else ""))
        else:
            scores.append(Score("flags", not unmatched, f"no flag says {unmatched}; flags: {turn.flags}"
                                if unmatched else ""))  # fmt: skip
    scores += _limits(turn, expect)
    for name in expect.scorers:
        scores.append(_custom(name, turn))
    return scores


def _limits(turn: TurnResult, expect: Expect) -> list[Score]:
    limits = expect.limits
    checks = [("model_calls", turn.model_calls, limits.model_calls), ("cost_usd", turn.cost_usd, limits.cost_usd),
              ("seconds", turn.seconds, limits.seconds)]  # fmt: skip
    return [Score(f"limit {name}", value <= limit, f"{value:g} > {limit:g}" if value > limit else "")
            for name, value, limit in checks if limit is not None]  # fmt: skip


def _custom(name: str, turn: TurnResult) -> Score:
    try:
        scorer = load_function(name)
        outcome = scorer(turn)
    except Exception as exc:  # a scorer's own failure is its score, never the whole suite's
        return Score(name, False, f"the scorer failed: {type(exc).__name__}: {exc}")
    passed, detail = outcome if isinstance(outcome, tuple) else (bool(outcome), "")
    return Score(name, bool(passed), str(detail))


def load_function(name: str) -> Callable[..., Any]:
    """`module:function` imported; a clear error when it is not one."""
    module, _, attribute = name.partition(":")
    if not module or not attribute:
        raise ValueError(f"{name!r} is not `module:function`")
    function = getattr(importlib.import_module(module), attribute, None)
    if not callable(function):
        raise ValueError(f"{name!r}: {module} has no function {attribute}")
    return function
