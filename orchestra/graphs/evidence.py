"""Tool calls as evidence: every fact a report states names the tool result it came from (`[E3]`)."""

from __future__ import annotations

from typing import Any

from orchestra.graphs.state import Evidence, RunContext, RunState
from orchestra.tools.sessions import ToolCallError

_MAX_TEXT = 20_000  # a page snapshot can be large; the ledger keeps enough to check claims against


class Step:
    """The tool calls of one graph node, numbered after the evidence the run already has."""

    def __init__(self, state: RunState, context: RunContext) -> None:
        self._context = context
        self._next = len(state.get("evidence", [])) + 1
        self.evidence: list[Evidence] = []
        self.errors: list[str] = []

    async def call(self, tier: str, pool: str, tool: str, arguments: dict[str, Any]) -> tuple[Any, str] | None:
        """(result, evidence id), or None when the tool failed (the failure is kept for the report)."""
        evidence_id = f"E{self._next}"
        self._next += 1
        try:
            call = await self._context.tools.call(tier, pool, tool, arguments)
        except ToolCallError as exc:
            self.evidence.append(Evidence(id=evidence_id, tool=f"{pool}.{tool}", arguments=arguments, ok=False,
                                          result=str(exc)[:_MAX_TEXT], duration_ms=0.0))  # fmt: skip
            self.errors.append(f"{pool}.{tool}: {exc}")
            return None
        result = call.result if not isinstance(call.result, str) else call.result[:_MAX_TEXT]
        self.evidence.append(Evidence(id=evidence_id, tool=call.label, arguments=arguments, ok=True, result=result,
                                      duration_ms=call.duration_ms))  # fmt: skip
        return result, evidence_id

    def update(self, **values: Any) -> dict[str, Any]:
        """The node's state update: its evidence, its failures as flags, and `values`."""
        return {"evidence": self.evidence, "flags": [f"tool failed: {e}" for e in self.errors], **values}


def cite(*ids: str | None) -> str:
    kept = [i for i in ids if i]
    return f" [{', '.join(kept)}]" if kept else ""


def evidence_table(evidence: list[Evidence]) -> str:
    rows = ["| id | tool | arguments | ok | ms |", "| --- | --- | --- | --- | --- |"]
    for item in evidence:
        arguments = ", ".join(f"{k}={v!r}" for k, v in item["arguments"].items())[:120].replace("|", "\\|")
        rows.append(f"| {item['id']} | `{item['tool']}` | {arguments} | {'yes' if item['ok'] else 'no'} | "
                    f"{item['duration_ms']:.0f} |")  # fmt: skip
    return "\n".join(rows)
