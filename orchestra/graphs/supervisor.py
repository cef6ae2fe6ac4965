"""The supervisor: a chat turn in -> triage -> a workflow or a specialist -> a cross-check when critical -> the
answer as an AI message.

The workflow's or specialist's answer *is* the answer: no extra hop rewrites it. Triage costs no model call.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.graphs.context import context_of
from orchestra.graphs.cross_check import grounding_flags, panel_flags, parse_verdict, report_headings
from orchestra.graphs.evidence import turn_evidence
from orchestra.graphs.progress import emit
from orchestra.graphs.prompts import TRIAGE, VERIFY
from orchestra.graphs.specialists import specialist
from orchestra.graphs.state import ChatInput, RunContext, RunState
from orchestra.graphs.triage import Triage, triage
from orchestra.graphs.turns import finish_turn, start_turn
from orchestra.graphs.workflows import competitive, design_to_deployment, market_research, sales_research
from orchestra.routing import triage_model

# Read the triage model now, at import: reading it inside the first run's step would block the event loop.
triage_model.shipped()

Route = Literal[
    "sales_intelligence_research", "market_research", "competitive_analysis", "design_to_deployment", "specialist"
]
WORKFLOWS = {
    "sales_intelligence_research": sales_research.build_graph,
    "market_research": market_research.build_graph,
    "competitive_analysis": competitive.build_graph,
    "design_to_deployment": design_to_deployment.build_graph,
}


async def route(state: RunState, runtime: Runtime[RunContext]) -> Command[Route]:
    decision = triage(state["task"]).model_dump()
    context = context_of(runtime)
    if decision["confidence"] < context.triage_model_below and not context.llm.offline:
        decision = await _ask_model(state["task"], decision, context)
    target = decision["workflow"] if decision["workflow"] in WORKFLOWS else "specialist"
    emit("triage", **decision)
    return Command(goto=target, update={"triage": decision})


async def _ask_model(task: str, rules: dict[str, Any], context: RunContext) -> dict[str, Any]:
    """The fast model's labels when they parse and are valid; otherwise the rules' answer stands."""
    reply = await context.llm.chat_model("fast", context.usage).ainvoke([HumanMessage(TRIAGE.format(task=task))])
    try:
        found = json.loads(str(reply.content).strip().removeprefix("```json").strip("`\n "))
        labels = Triage(**{k: found.get(k) for k in ("domain", "complexity", "workflow")}, confidence=0.75)
    except (ValueError, TypeError, AttributeError):
        return rules | {"reasons": [*rules.get("reasons", []), "the model's answer did not parse; rules kept"]}
    return labels.model_dump() | {"reasons": [*rules.get("reasons", []), "low confidence: labels from the fast model"]}


async def cross_check(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Critical answers only: a grounding check of every number and name against the tool results, and, with
    models configured, the panel's verdicts, asked in parallel; disagreement goes out with the answer as flags."""
    if state.get("triage", {}).get("complexity") != "critical" or not state.get("answer"):
        return {}
    answer, evidence = state["answer"], turn_evidence(state)
    flags = grounding_flags(answer, evidence, report_headings(answer))
    context = context_of(runtime)
    panel = [] if context.llm.offline else context.llm.panel(context.usage)
    if len(panel) >= 2:
        ledger = json.dumps([{"id": e["id"], "tool": e["tool"], "result": e["result"]} for e in evidence if e["ok"]])
        prompt = VERIFY.format(audience="high-stakes reader", evidence=ledger[:30_000], answer=answer)
        replies = await asyncio.gather(*(model.ainvoke([HumanMessage(prompt)]) for _, model in panel))
        verdicts = {name: parse_verdict(str(reply.content)) for (name, _), reply in zip(panel, replies, strict=True)}
        flags += panel_flags(verdicts)
    emit("cross_check", flags=flags)
    return {"flags": flags}


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, input_schema=ChatInput, context_schema=context_schema)
    graph.add_node("start_turn", start_turn(then="route"), destinations=("route", END))
    graph.add_node("route", route)
    for name, build in WORKFLOWS.items():
        graph.add_node(name, build(context_schema).compile())
    graph.add_node("specialist", specialist)
    graph.add_node("cross_check", cross_check)
    graph.add_node("finish_turn", finish_turn)
    graph.add_edge(START, "start_turn")
    for name in (*WORKFLOWS, "specialist"):
        graph.add_edge(name, "cross_check")
    graph.add_edge("cross_check", "finish_turn")
    graph.add_edge("finish_turn", END)
    return graph
