"""The specialist step: a LangChain agent with its tier's tools over the thread's sessions, or, offline, a plain
statement that this kind of task needs a model, with what the user can do instead."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool
from langgraph.runtime import Runtime

from orchestra.agents.ai import AI
from orchestra.agents.bi import BI
from orchestra.agents.design import DESIGN
from orchestra.agents.specialist import Specialist
from orchestra.agents.web import WEB
from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import Step
from orchestra.graphs.lookups import lookup_for, tool_hint
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows.synthesis import finish_report

SPECIALISTS: dict[str, Specialist] = {s.domain: s for s in (WEB, DESIGN, BI, AI)}


def _approvals(tools: list[BaseTool], context: RunContext) -> HumanInTheLoopMiddleware:
    """Every tool that changes state (MCP annotation `readOnlyHint: false`) waits for a person, unless its pool is
    trusted in `routing.approvals.auto_approve_pools`."""
    gated = {
        tool.name: {"allowed_decisions": ["approve", "edit", "reject"]}
        for tool in tools
        if (tool.metadata or {}).get("readOnlyHint") is not True
        and tool.name.split("__", 1)[0] not in context.auto_approve_pools
    }
    return HumanInTheLoopMiddleware(interrupt_on=gated, description_prefix="This call changes external state")  # type: ignore[arg-type]


async def _offline(state: RunState, context: RunContext, chosen: Specialist) -> dict[str, Any]:
    """Offline: a fixed plan for the common one-step questions; otherwise an honest refusal with the exact call."""
    plan = lookup_for(state["triage"]["domain"], state["task"])
    step = Step(state, context)
    found = await plan.run(step, state["task"]) if plan else None
    if found is not None:
        title, body = found
        return step.update(**await finish_report(state | step.update(), context, f"# {title}\n{body}",
                                                 reader="colleague"))  # fmt: skip
    answer = (
        f"No model is configured, so no model was used and this open-ended {chosen.domain} task was not attempted: "
        f"it needs a model to plan its tool calls. The call that would answer it now: {tool_hint(state['task'])}. "
        f"Or set a provider key (e.g. OPENAI_API_KEY), or {chosen.offline_help}."
    )
    return step.update(answer=answer, model_used=False)


async def specialist(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    decision = state["triage"]
    chosen = SPECIALISTS[decision["domain"]]
    context = context_of(runtime)
    if context.llm.offline:
        return await _offline(state, context, chosen)
    model = context.llm.routed_model("specialist", state["task"], decision["complexity"], context.usage)
    tools = await context.tools.langchain_tools(chosen.tools_tier)
    agent = create_agent(model, tools, system_prompt=chosen.instructions, middleware=[_approvals(tools, context)])
    result = await agent.ainvoke({"messages": [HumanMessage(state["task"])]})
    return {"answer": str(result["messages"][-1].content), "model_used": True, "usage": context.usage.as_dict()}
