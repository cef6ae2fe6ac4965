"""`sales_intelligence_research`: everything about one company before a sales conversation.

Plan: identify the company (enrichment) -> browse its site with the thread's browser (home, pricing) -> senior
people -> social presence -> our CRM history and open deals -> the brief. The plan runs fully offline; with a
model configured, a summary written by the model opens the brief.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import Step
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows import company_facts as gather
from orchestra.graphs.workflows import sales_brief as brief
from orchestra.graphs.workflows.companies import find_companies
from orchestra.graphs.workflows.synthesis import finish_report


async def identify(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["browse", "__end__"]]:
    step = Step(state, context_of(runtime))
    found, missed = await find_companies(step, state["task"], want=1)
    if found:
        hit = found[0]
        facts = {"company": hit.company, "company_evidence": hit.evidence, "matched": [hit.note] if hit.note else []}
        return Command(goto="browse", update=step.update(facts=facts))
    tried = ", ".join(repr(m) for m in missed) or "no company name or domain"
    answer = f"I could not tell which company to research (tried {tried}). Name it, or give its web domain."
    return Command(goto=END, update=step.update(answer=answer))


async def browse(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    site = await gather.browse_site(step, state["facts"]["company"]["website_url"])
    return step.update(facts={"site": site})


async def people(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    leaders, evidence = await gather.leaders(step, state["facts"]["company"]["domain"])
    return step.update(facts={"leaders": leaders, "leaders_evidence": evidence})


async def social(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    return step.update(facts={"social": await gather.social(step, state["facts"]["company"]["domain"])})


async def crm(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    return step.update(facts={"crm": await gather.crm_history(step, state["facts"]["company"]["domain"])})


async def write_brief(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    facts = state["facts"]
    org, crm_facts, leaders = facts["company"], facts.get("crm", {}), facts.get("leaders", [])
    sections = [
        f"# Sales brief: {org['name']} ({org['domain']})",
        "## Who they are", *brief.who_they_are(org, facts["company_evidence"]),
        "## What their website says", *brief.website(facts.get("site", {})),
        "## Who to talk to", *brief.people(leaders, facts.get("leaders_evidence"), crm_facts),
        "## Where we stand", *brief.where_we_stand(crm_facts),
        "## Social presence", *brief.social_lines(facts.get("social", {})),
        "## Suggested next step", brief.next_step(crm_facts, leaders),
    ]  # fmt: skip
    return await finish_report(state, context_of(runtime), "\n".join(sections), reader="account executive")


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, context_schema=context_schema)
    graph.add_node("identify", identify)
    for name, node in (
        ("browse", browse),
        ("people", people),
        ("social", social),
        ("crm", crm),
        ("brief", write_brief),
    ):
        graph.add_node(name, node)
    graph.add_edge(START, "identify")
    for a, b in (("browse", "people"), ("people", "social"), ("social", "crm"), ("crm", "brief"), ("brief", END)):
        graph.add_edge(a, b)
    return graph
