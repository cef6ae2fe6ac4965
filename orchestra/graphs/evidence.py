"""Tool calls as evidence: every fact a report states names the tool result it came from (`[E3]`).

The ledger lasts the thread's life. A later turn that needs a result the thread already holds (same tool, same
arguments, read-only and idempotent, still fresh) takes it from the ledger instead of calling again, and the new
entry says which one it reused. Each call is announced on LangGraph's `custom` stream as it starts and ends.
"""

from __future__ import annotations

import json
import time
from typing import Any

from orchestra.graphs.progress import emit
from orchestra.graphs.state import Evidence, RunContext, RunState
from orchestra.tools.sessions import ToolCallError

_MAX_TEXT = 20_000  # a page snapshot can be large; the ledger keeps enough to check claims against


class Step:
    """The tool calls of one graph node, numbered after the evidence the thread already has."""

    def __init__(self, state: RunState, context: RunContext) -> None:
        self._context = context
        self._held = state.get("evidence", [])
        self._next = len(self._held) + 1
        self.evidence: list[Evidence] = []
        self.errors: list[str] = []

    @property
    def context(self) -> RunContext:
        return self._context

    async def call(
        self, tier: str, pool: str, tool: str, arguments: dict[str, Any], *, quiet: bool = False
    ) -> tuple[Any, str] | None:
        """(result, evidence id), or None when the tool failed (the failure is kept for the report, and flagged
        with it unless `quiet`: a lookup expected to miss, such as trying a word as a company name)."""
        evidence_id = f"E{self._next}"
        self._next += 1
        label = f"{pool}.{tool}"
        earlier = await self._reusable(tier, pool, tool, arguments)
        if earlier is not None:
            self.evidence.append(Evidence(id=evidence_id, tool=label, arguments=arguments, ok=True,
                                          result=earlier["result"], duration_ms=0.0, at=earlier.get("at", 0.0),
                                          reused=earlier["id"]))  # fmt: skip
            emit("tool", id=evidence_id, pool=pool, tool=tool, phase="end", ok=True, duration_ms=0.0,
                 reused=earlier["id"])  # fmt: skip
            return earlier["result"], evidence_id
        emit("tool", id=evidence_id, pool=pool, tool=tool, phase="start", arguments=arguments)
        try:
            call = await self._context.tools.call(tier, pool, tool, arguments)
        except ToolCallError as exc:
            self.evidence.append(Evidence(id=evidence_id, tool=label, arguments=arguments, ok=False,
                                          result=str(exc)[:_MAX_TEXT], duration_ms=0.0, at=time.time()))  # fmt: skip
            if not quiet:
                self.errors.append(f"{label}: {exc}")
            emit("tool", id=evidence_id, pool=pool, tool=tool, phase="end", ok=False, duration_ms=0.0,
                 error=str(exc)[:500])  # fmt: skip
            return None
        while self._context.tools.reopened:  # a session that idled out or was lost earlier in the thread
            emit("session", note=self._context.tools.reopened.pop(0))
        result = call.result if not isinstance(call.result, str) else call.result[:_MAX_TEXT]
        self.evidence.append(Evidence(id=evidence_id, tool=call.label, arguments=arguments, ok=True, result=result,
                                      duration_ms=call.duration_ms, at=time.time()))  # fmt: skip
        emit("tool", id=evidence_id, pool=pool, tool=tool, phase="end", ok=True, duration_ms=call.duration_ms)
        return result, evidence_id

    def computed(self, what: str, inputs: dict[str, Any], values: dict[str, Any]) -> str:
        """Record figures Orchestra worked out itself (a size, a sum, a share) as evidence of their own, so a report
        can cite them and the cross-check can check them like any tool result; returns the evidence id."""
        evidence_id = f"E{self._next}"
        self._next += 1
        self.evidence.append(Evidence(id=evidence_id, tool=f"orchestra.{what}", arguments=inputs, ok=True,
                                      result=values, duration_ms=0.0, at=time.time()))  # fmt: skip
        return evidence_id

    async def _reusable(self, tier: str, pool: str, tool: str, arguments: dict[str, Any]) -> Evidence | None:
        fresh_after = time.time() - self._context.evidence_fresh_for
        wanted = (f"{pool}.{tool}", _canonical(arguments))
        matches = [
            e for e in [*self._held, *self.evidence]
            if e["ok"] and e.get("at", 0.0) >= fresh_after and (e["tool"], _canonical(e["arguments"])) == wanted
        ]  # fmt: skip
        if not matches or not await self._context.tools.repeatable(tier, pool, tool):
            return None
        return matches[-1]

    def update(self, **values: Any) -> dict[str, Any]:
        """The node's state update: its evidence, its failures as flags, and `values`."""
        return {"evidence": self.evidence, "flags": [f"tool failed: {e}" for e in self.errors], **values}


def _canonical(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)


def counted(number: float | int | None, noun: str, plural: str | None = None) -> str:
    """`1 customer`, `2,089 customers`: a count with its thousands separators and the noun in the right number."""
    value = number or 0
    return f"{value:,} {noun if value == 1 else plural or noun + 's'}"


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with "…" when cut (so a number is never
    shown half, and the cross-check knows a cut tail is not a claim)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;: ")
    return f"{cut}…"


def cite(*ids: str | None) -> str:
    kept = [i for i in ids if i]
    return f" [{', '.join(kept)}]" if kept else ""


def turn_evidence(state: RunState) -> list[Evidence]:
    """The evidence of the turn in progress (the ledger holds every earlier turn's too)."""
    return state.get("evidence", [])[state.get("turn_started", 0) :]


def evidence_table(evidence: list[Evidence]) -> str:
    rows = ["| id | tool | arguments | ok | ms |", "| --- | --- | --- | --- | --- |"]
    for item in evidence:
        arguments = shorten(", ".join(f"{k}={v!r}" for k, v in item["arguments"].items()), 120).replace("|", "\\|")
        took = f"reused {item['reused']}" if item.get("reused") else f"{item['duration_ms']:.0f}"
        rows.append(f"| {item['id']} | `{item['tool']}` | {arguments} | {'yes' if item['ok'] else 'no'} | "
                    f"{took} |")  # fmt: skip
    return "\n".join(rows)
