"""Trajectory matching, as agentevals defines its modes, over the tool calls a turn made:

- strict: the same calls in the same order;
- unordered: the same calls in any order, one made for each expected;
- subset: every call made is one of the expected ones (nothing beyond them; an expected call may be made several
  times, or not at all);
- superset: every expected call was made (a call of its own for each), and maybe more.

Arguments match `exact`ly, are `ignore`d, or match as a `subset` (the expected keys have the expected values).
"""

from __future__ import annotations

from typing import Any

from orchestra.evals.suite import ExpectedCall, Trajectory

Call = dict[str, Any]  # {"tool": "pool.tool", "arguments": {...}}


def call_matches(expected: ExpectedCall, actual: Call, default: str) -> bool:
    if expected.tool != actual["tool"]:
        return False
    how = expected.match or default
    if how == "ignore":
        return True
    if how == "exact":
        return expected.arguments == actual["arguments"]
    return all(key in actual["arguments"] and actual["arguments"][key] == value
               for key, value in expected.arguments.items())  # fmt: skip


def _pairing(expected: list[ExpectedCall], actual: list[Call], default: str) -> dict[int, int]:
    """A largest pairing of expected to actual calls that match (augmenting paths: a greedy pairing can miss one
    when a loose expectation takes the call a strict one needed)."""
    taken: dict[int, int] = {}  # actual index -> expected index

    def place(e: int, seen: set[int]) -> bool:
        for a, call in enumerate(actual):
            if a in seen or not call_matches(expected[e], call, default):
                continue
            seen.add(a)
            if a not in taken or place(taken[a], seen):
                taken[a] = e
                return True
        return False

    for e in range(len(expected)):
        place(e, set())
    return {e: a for a, e in taken.items()}


def match_trajectory(want: Trajectory, actual: list[Call]) -> tuple[bool, str]:
    """Whether the calls match, and a line saying what did not."""
    expected = want.calls
    if want.mode == "strict":
        if len(expected) != len(actual):
            return False, f"{len(actual)} calls made, {len(expected)} expected in order: {_names(actual)}"
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            if not call_matches(e, a, want.arguments):
                return False, f"call {index + 1} was {_name(a)}, expected {e.tool} {e.arguments or ''}".rstrip()
        return True, ""
    pairs = _pairing(expected, actual, want.arguments)
    missing = [expected[e] for e in range(len(expected)) if e not in pairs]
    extra = [actual[a] for a in range(len(actual)) if a not in pairs.values()]
    if want.mode == "subset":
        extra = [call for call in actual if not any(call_matches(e, call, want.arguments) for e in expected)]
    problems = []
    if want.mode in ("unordered", "superset") and missing:
        problems.append("not made: " + ", ".join(f"{e.tool} {e.arguments or ''}".rstrip() for e in missing))
    if want.mode in ("unordered", "subset") and extra:
        problems.append("not expected: " + _names(extra))
    return not problems, "; ".join(problems)


def _name(call: Call) -> str:
    return f"{call['tool']} {call['arguments']}"


def _names(calls: list[Call]) -> str:
    return ", ".join(call["tool"] for call in calls) or "none"
