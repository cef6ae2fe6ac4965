"""Cassettes: one case's tool calls and model calls, recorded once and answered from on every replay.

A cassette is versioned JSONL: a header line (`{"cassette": VERSION, ...}`), then one line per call in the order
the calls were made. A tool call: `{"kind": "tool", "tier", "pool", "tool", "arguments", "result"` (the MCP
`CallToolResult`) or `"error"`, `"duration_ms"}`; a tool listing: `{"kind": "tools", "tier", "result"}`; a model
call: `{"kind": "model", "tier", "request"` (messages as sent, system prompt included; tool schemas; model and
parameters) `, "response"` (content, tool calls, usage, cost)`, "duration_ms"}`.

Paths and URLs of the machine that recorded (the data directory, the sandbox's address) are written as
`${DATA_DIR}` and `${SANDBOX_URL}`, so a cassette replays on any machine. On replay a call is answered by the first
unused recorded call that is the same request; a request with no such call fails the case with a diff against the
closest recorded one, and nothing is reached live.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1
KINDS = ("tool", "tools", "model")


class CassetteMismatch(Exception):
    """A request the cassette does not hold: what differs, as a diff against the closest recorded request."""


class CassetteError(ValueError):
    """A cassette that cannot be read (missing, another version, malformed); the message says which and why."""


@dataclass
class Placeholders:
    """The machine-specific strings a cassette stores as placeholders."""

    values: dict[str, str] = field(default_factory=dict)  # placeholder -> this machine's value

    def hide(self, value: Any) -> Any:
        return _map_strings(value, self._hide_text)

    def show(self, value: Any) -> Any:
        return _map_strings(value, self._show_text)

    def _hide_text(self, text: str) -> str:
        for name, actual in sorted(self.values.items(), key=lambda item: -len(item[1])):
            if actual:  # whole paths and URLs only: "/data" must not take the "data" out of "metadata"
                text = re.sub(rf"(?<![\w.-]){re.escape(actual)}(?![\w.-])", lambda _, name=name: name, text)
        return text

    def _show_text(self, text: str) -> str:
        for name, actual in self.values.items():
            text = text.replace(name, actual)
        return text


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    return value


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class Cassette:
    """A case's recorded calls, and (while replaying) which of them have answered."""

    header: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    mismatches: list[str] = field(default_factory=list)
    answered_ms: float = 0.0  # how long the calls that answered a replay took when they were recorded

    @classmethod
    def new(cls, suite: str, case: str, **about: Any) -> Cassette:
        return cls({"cassette": VERSION, "suite": suite, "case": case, **about})

    @classmethod
    def read(cls, path: Path) -> Cassette:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise CassetteError(f"{path}: no cassette; record it with `orchestra eval record`") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"{path}: cannot be read ({exc})") from None
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise CassetteError(f"{path}, line {number}: not JSON ({exc})") from None
        if not records or not isinstance(records[0], dict):
            raise CassetteError(f"{path}: no cassette header; record it again")
        header, entries = records[0], records[1:]
        if header.get("cassette") != VERSION:
            raise CassetteError(f"{path}: cassette version {str(header.get('cassette'))[:20]!r}, this Orchestra "
                                f"reads {VERSION}; record it again")  # fmt: skip
        for number, entry in enumerate(entries, start=2):
            if not isinstance(entry, dict) or entry.get("kind") not in KINDS or not isinstance(entry.get("tier"), str):
                raise CassetteError(f"{path}: entry {number} is not a recorded call ({str(entry)[:80]})")
        return cls(header, entries)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(self.header, ensure_ascii=False)]
        lines += [json.dumps(entry, ensure_ascii=False, default=str) for entry in self.entries]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)

    def of_kind(self, kind: str) -> Iterator[dict[str, Any]]:
        return (entry for entry in self.entries if entry["kind"] == kind)

    def answer(self, kind: str, key: dict[str, Any], what: str, reuse: bool = False) -> dict[str, Any]:
        """The first unused recorded call of `kind` whose request is `key` (placeholders applied; `reuse`: used
        ones too, for calls that change nothing, such as listings); or a CassetteMismatch naming the difference
        from the closest candidate (kept in `mismatches`)."""
        wanted = canonical(key)
        candidates = [(index, entry) for index, entry in enumerate(self.entries)
                      if entry["kind"] == kind and (reuse or index not in self.used)]  # fmt: skip
        for index, entry in candidates:
            if canonical(_key_of(entry)) == wanted:
                if index not in self.used:
                    self.answered_ms += float(entry.get("duration_ms") or 0.0)
                self.used.add(index)
                return entry
        problem = self._mismatch(kind, key, [entry for _, entry in candidates], what)
        self.mismatches.append(problem)
        raise CassetteMismatch(problem)

    def _mismatch(self, kind: str, key: dict[str, Any], candidates: list[dict[str, Any]], what: str) -> str:
        if not candidates:
            return f"{what} was not in the recording (every recorded {kind} call had already answered)"
        now = _lines(key)
        recorded = [_lines(_key_of(entry)) for entry in candidates]
        closest = max(recorded, key=lambda lines: difflib.SequenceMatcher(None, lines, now, autojunk=False).ratio())
        diff = difflib.unified_diff(closest, now, "recorded", "now", n=2, lineterm="")
        return f"{what} differs from the recording:\n" + "\n".join(line[:300] for line in diff)

    def unused(self, kind: str) -> list[dict[str, Any]]:
        return [entry for index, entry in enumerate(self.entries) if entry["kind"] == kind and index not in self.used]


def _key_of(entry: dict[str, Any]) -> dict[str, Any]:
    """What must be the same for a recorded call to answer a new one."""
    if entry["kind"] == "tool":
        return {"tier": entry["tier"], "pool": entry["pool"], "tool": entry["tool"], "arguments": entry["arguments"]}
    if entry["kind"] == "tools":
        return {"tier": entry["tier"], "cursor": entry.get("cursor")}
    return {"tier": entry["tier"], **entry["request"]}


def _lines(value: Any, path: str = "") -> list[str]:
    """A request as `path: text` lines, a long text (a prompt) one line per line of it, so that a diff points at
    the line that changed, not at a whole prompt."""
    if isinstance(value, dict):
        return [line for key in sorted(value) for line in _lines(value[key], f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [line for index, item in enumerate(value) for line in _lines(item, f"{path}[{index}]")] or [
            f"{path}: []"
        ]
    if isinstance(value, str) and "\n" in value:
        return [f"{path}| {line}" for line in value.splitlines()]
    return [f"{path}: {json.dumps(value, ensure_ascii=False, default=str)}"]
