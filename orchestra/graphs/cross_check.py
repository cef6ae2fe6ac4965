"""Cross-checking critical outputs. Offline: every number and name the answer states must appear in a tool result.

A claim that no tool result supports is flagged next to the answer; nothing is silently dropped or rewritten.
Numbers are compared as numbers: "250,000" in a report matches 250000 in a result, and "23.7%" matches 23.71 (a
figure rounded to the precision it is shown with). Figures Orchestra computes itself (sums, shares, sizes) are
recorded as evidence of their own, so they are checked like any tool result. A number cut short where a report
truncates a long text ("250,00…") is not a claim.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from orchestra.graphs.state import Evidence

_NUMBER = re.compile(r"(?<![\w.])\$?(\d[\d,]*(?:\.\d+)?)(%?)(…)?")
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")
_CITED_SECTION = re.compile(r"^## Evidence$.*", re.S | re.M)


def _shown_numbers(text: str) -> list[tuple[str, float, int]]:
    """(as written, value, decimals shown) of each number in a report; a number cut short by "…" is left out."""
    found = []
    for match in _NUMBER.finditer(text):
        digits, _, cut = match.groups()
        plain = digits.rstrip(",").replace(",", "")
        if cut or not plain:
            continue
        decimals = len(plain.split(".")[1]) if "." in plain else 0
        found.append((plain, float(plain), decimals))
    return found


def _source_values(text: str) -> list[float]:
    return [float(m.group(1).rstrip(",").replace(",", "")) for m in _NUMBER.finditer(text) if m.group(1).rstrip(",")]


def _supported(value: float, decimals: int, sources: list[float]) -> bool:
    """Whether some source value, rounded as the report shows it, is `value` (or is it as a share: 0.237 -> 23.7)."""
    tolerance = 0.5 * 10**-decimals + 1e-9
    return any(abs(value - s) <= tolerance or abs(value - s * 100) <= tolerance for s in sources if math.isfinite(s))


def unsupported_claims(
    answer: str, evidence: list[Evidence], ignore: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """Numbers and multi-word names in `answer` found in no successful tool result (evidence ids and dates aside)."""
    body = _CITED_SECTION.sub("", answer)
    body = re.sub(r"\[E\d+(?:, E\d+)*\]", "", body)
    # A tool's arguments are facts too (the report may say "90 days" because it asked for days=90).
    source = " ".join(json.dumps([e["arguments"], e["result"]], ensure_ascii=False) for e in evidence if e["ok"])
    sources = _source_values(source)
    flagged, seen = [], set()
    for shown, value, decimals in _shown_numbers(body):
        small = decimals == 0 and value < 10  # single digits: counts, ranks, list numbers
        if shown in seen or small or shown in ignore or _supported(value, decimals, sources):
            continue
        seen.add(shown)
        flagged.append(f"the number {shown} appears in no tool result")
    for name in sorted(set(_NAME.findall(body))):
        # A name is supported when the results hold it, or all its words (a first and a last name field).
        if name not in source and not all(word in source for word in name.split()) and name not in ignore:
            flagged.append(f"the name {name!r} appears in no tool result")
    return flagged


def grounding_flags(answer: str, evidence: list[Evidence], headings: set[str]) -> list[str]:
    """Flags for the answer of a critical task, or an empty list when every claim is grounded."""
    return [f"unsupported: {claim}" for claim in unsupported_claims(answer, evidence, headings)]


def report_headings(answer: str) -> set[str]:
    """Words of the report's own scaffolding (headings, fixed phrases), which are not claims about the world."""
    words: set[str] = set()
    for line in answer.splitlines():
        if line.startswith("#") or line.startswith(">"):
            words.update(_NAME.findall(line))
    return words


def parse_verdict(text: str) -> dict[str, Any] | None:
    """A panel member's structured verdict `{"verdict": "agree"|"disagree", "issues": [...]}`, or None."""
    match = re.search(r"\{.*\}", text, re.S)
    try:
        found = json.loads(match.group(0)) if match else None
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("verdict") not in ("agree", "disagree"):
        return None
    issues = found.get("issues") if isinstance(found.get("issues"), list) else []
    return {"verdict": found["verdict"], "issues": [str(i) for i in issues][:10]}


def panel_flags(verdicts: dict[str, dict[str, Any] | None]) -> list[str]:
    """Disagreement is shown, never resolved silently: each dissenting model's issues become flags."""
    flags = []
    for model, verdict in verdicts.items():
        if verdict is None:
            flags.append(f"panel: {model} gave no usable verdict")
        elif verdict["verdict"] == "disagree":
            flags.extend(f"panel: {model} disagrees: {issue}" for issue in verdict["issues"] or ["(no reason given)"])
    return flags
