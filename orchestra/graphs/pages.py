"""Reading Playwright MCP's accessibility snapshots: visible texts, headings, links and their refs."""

from __future__ import annotations

import re

_NODE = re.compile(
    r'^\s*- (?P<role>[\w/]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?(?P<attrs>(?: \[[^\]]*\])*)(?::\s*(?P<text>.*))?$'
)
_REF = re.compile(r"\[ref=(e\d+)\]")
_LEVEL = re.compile(r"\[level=(\d)\]")


def snapshot_of(tool_text: str) -> str:
    """The snapshot part of a tool's text (after `### Snapshot`, or all of it)."""
    _, found, rest = tool_text.partition("### Snapshot")
    return rest if found else tool_text


def nodes(snapshot: str) -> list[dict[str, str]]:
    """Every element line as {role, name, text, ref, level}, in document order."""
    out = []
    for line in snapshot_of(snapshot).splitlines():
        match = _NODE.match(line)
        if not match or match.group("role") == "/url":
            continue
        attrs = match.group("attrs") or ""
        ref, level = _REF.search(attrs), _LEVEL.search(attrs)
        out.append({
            "role": match.group("role"), "name": match.group("name") or "", "text": (match.group("text") or "").strip(),
            "ref": ref.group(1) if ref else "", "level": level.group(1) if level else "",
        })  # fmt: skip
    return out


def texts(snapshot: str) -> list[str]:
    """Visible texts in order: names and inline texts."""
    return [t for node in nodes(snapshot) for t in (node["name"], node["text"]) if t]


def link_ref(snapshot: str, label: str) -> str | None:
    return next((n["ref"] for n in nodes(snapshot) if n["role"] == "link" and n["name"] == label and n["ref"]), None)


def headings(snapshot: str, level: str | None = None) -> list[str]:
    return [n["name"] for n in nodes(snapshot) if n["role"] == "heading" and (level is None or n["level"] == level)]
