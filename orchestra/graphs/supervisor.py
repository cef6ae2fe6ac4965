"""The supervisor: triage -> a workflow or a specialist -> a cross-check when critical -> the answer.

The workflow's or specialist's answer *is* the answer: no extra hop rewrites it. Triage costs no model call.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.graphs.cross_check import grounding_flags, report_headings
from orchestra.graphs.specialists import specialist
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.triage import triage
from orchestra.graphs.workflows import competitive, design_to_deployment, market_research, sales_research

Route = Literal[
    "sales_intelligence_research", "market_research", "competitive_analysis", "design_to_deployment", "specialist"
]
WORKFLOWS = {
    "sales_intelligence_research": sales_research.build_graph,
    "market_research": market_research.build_graph,
    "competitive_analysis": competitive.build_graph,
    "design_to_deployment": design_to_deployment.build_graph,
}


async def route(state: RunState) -> Command[Route]:
    decision = triage(state["task"])
    target = decision.workflow if decision.workflow in WORKFLOWS else "specialist"
    return Command(goto=target, update={"triage": decision.model_dump()})


async def cross_check(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Critical answers only: offline, a grounding check of every number and name against the tool results."""
    if state.get("triage", {}).get("complexity") != "critical" or not state.get("answer"):
        return {}
    answer = state["answer"]
    flags = grounding_flags(answer, state.get("evidence", []), report_headings(answer))
    return {"flags": flags}


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, context_schema=context_schema)
    graph.add_node("route", route)
    for name, build in WORKFLOWS.items():
        graph.add_node(name, build(context_schema).compile())
    graph.add_node("specialist", specialist)
    graph.add_node("cross_check", cross_check)
    graph.add_edge(START, "route")
    for name in (*WORKFLOWS, "specialist"):
        graph.add_edge(name, "cross_check")
    graph.add_edge("cross_check", END)
    return graph
