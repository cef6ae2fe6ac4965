"""The last step of every report: an honest header, a model-written summary when a model is configured, the evidence."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

from orchestra.graphs.evidence import evidence_table, turn_evidence
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows.prompts import SUMMARY

OFFLINE_NOTE = (
    "> Offline mode: no model was used. This report was assembled by a fixed plan from the tool results cited in "
    "brackets; every bracket names an entry of the evidence table."
)


def _continuity(state: RunState, evidence: list[Any]) -> str:
    """How this turn builds on earlier ones: what a follow-up's references were taken to mean, what it reused."""
    lines = []
    facts = state.get("facts", {})
    if facts.get("follow_up"):
        lines.append(f"> Follow-up: {facts['follow_up']}.")
    lines += [f"> Company: {note}." for note in facts.get("matched", [])]
    reused = [f"{e['id']} (from {e['reused']})" for e in evidence if e.get("reused")]
    if reused:
        lines.append(f"> Reused from earlier in this conversation, still fresh: {', '.join(reused)}.")
    return "\n".join(lines) + "\n\n" if lines else ""


async def finish_report(state: RunState, context: RunContext, body: str, *, reader: str) -> dict[str, Any]:
    """The answer: the body, preceded by a model summary or the offline note, followed by the evidence table."""
    title, _, rest = body.partition("\n")
    if context.llm.offline:
        opening, model_used = OFFLINE_NOTE, False
    else:
        complexity = state.get("triage", {}).get("complexity", "high")
        model = context.llm.routed_model("synthesis", state["task"], complexity, context.usage)
        reply = await model.ainvoke([HumanMessage(SUMMARY.format(reader=reader, report=body))])
        opening, model_used = f"## Summary (written by a model)\n{reply.content}", True
    evidence = turn_evidence(state)
    answer = (
        f"{title}\n\n{opening}\n\n{_continuity(state, evidence)}{rest}\n\n## Evidence\n{evidence_table(evidence)}\n"
    )
    return {"answer": answer, "model_used": model_used, "usage": context.usage.as_dict()}
