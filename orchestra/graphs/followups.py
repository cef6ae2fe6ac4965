"""A follow-up in a thread, made into a standalone task: "now compare them with Brightloop" -> "now compare Copealo
Works with Brightloop".

Offline the references ("them", "their", "it", "the same company", "the page") are resolved by rules against what
the thread has met (its `known` companies, designs and deployments); with a model, the fast model rewrites the
message once, given the same facts. Either way the triage then sees a task it can route on its own.
"""

from __future__ import annotations

import re
from typing import Any

from orchestra.graphs.state import Known

_DESIGN_WORDS = re.compile(r"\b(deploy|publish|ship|release|page|design|frame|figma|screenshot|site)\w*\b", re.I)
_POSSESSIVE = re.compile(r"\b(their|its|theirs)\b", re.I)
_SUBJECT = re.compile(
    r"\b(the same compan(?:y|ies)|this company|that company|these companies|those companies|them|they)\b", re.I
)
_IT = re.compile(r"\b(it|the same page|that page|this page|the page|the design|that design|this design)\b", re.I)
_CONTINUATION = re.compile(r"^\s*(and|also|now|then|what about|how about|same for|next)\b", re.I)
# "and with Brightloop?", "now against brightloop.example": one more company for the thread's comparison
_ANOTHER = re.compile(
    r"^\s*(?:and|also|now|then)?\s*(?:compare\s+)?(?:(?:them|it)\s+)?(?:with|against|vs\.?|versus)\s+(?P<other>[^?!]+)",
    re.I,
)


def _names(items: list[dict[str, Any]]) -> str:
    names = [item["name"] for item in items if item.get("name")]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def resolve(request: str, known: Known, mentions: list[str]) -> tuple[str, str | None]:
    """The standalone task, and a note of what was resolved (None when nothing was). `mentions` are the company
    names and domains the request itself names: a request that names its company needs no resolving."""
    companies = known.get("last_companies") or known.get("companies", [])[:1]
    designs = known.get("designs", [])
    about_design = bool(_DESIGN_WORDS.search(request)) and bool(designs)
    task, resolved = request, []
    if about_design and _IT.search(task):
        name = designs[0]["name"]
        task = _IT.sub(f"the {name} design", task, count=1)
        resolved.append(f"“it” is the {name} design")
    if companies:
        names = _names(companies)
        if (another := _ANOTHER.match(task)) and not _SUBJECT.search(task):
            other = another["other"].strip().rstrip(".")
            task = f"compare {names} with {other}"
            resolved.append(f"compares {names} with {other}")
        if _POSSESSIVE.search(task):
            task = _POSSESSIVE.sub(f"{names}'s", task)
            resolved.append(f"“their” is {names}")
        if _SUBJECT.search(task):
            task = _SUBJECT.sub(names, task)
            resolved.append(f"“them” is {names}")
        if not resolved and not mentions and _IT.search(task) and not about_design:
            task = _IT.sub(names, task, count=1)
            resolved.append(f"“it” is {names}")
        if not resolved and not mentions and _CONTINUATION.search(task):
            task = f"{task.rstrip(' ?.!')} for {names}"
            resolved.append(f"continues with {names}")
    return task, ("; ".join(resolved) if resolved else None)


def remember(known: Known, facts: dict[str, Any]) -> Known:
    """`known` with what this turn's facts add, most recent first and without repeats."""

    def merged(new: list[dict[str, Any]], old: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        seen, out = set(), []
        for item in [*new, *old]:
            if item.get(key) and item[key] not in seen:
                seen.add(item[key])
                out.append(item)
        return out[:20]

    turn_companies = [
        {"name": c.get("name"), "domain": c.get("domain")}
        for c in [facts.get("company") or {}, *facts.get("companies", [])]
        if c.get("domain")
    ]
    design = facts.get("design", {}).get("file") or {}
    deployment = facts.get("deployment") or {}
    updated: Known = {
        "companies": merged(turn_companies, known.get("companies", []), "domain"),
        "last_companies": turn_companies or known.get("last_companies", []),
        "designs": merged(
            [{"name": design.get("name"), "file_key": design.get("fileKey")}] if design else [],
            known.get("designs", []), "file_key",
        ),
        "deployments": merged(
            [{"project": deployment.get("project"), "url": deployment.get("url"), "id": deployment.get("id")}]
            if deployment.get("id") else [],
            known.get("deployments", []), "id",
        ),
    }  # fmt: skip
    return updated
