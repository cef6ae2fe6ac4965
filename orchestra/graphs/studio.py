"""The graphs as `langgraph dev` and LangGraph Studio load them (see `langgraph.json`): compiled without a
checkpointer, since the server brings its own. Each entry is an async factory, so the run contexts (settings,
model layer, tool sessions at `$ORCHESTRA_GATEWAY_URL`) are built off the event loop before a node needs them."""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph

from orchestra.graphs import supervisor as _supervisor
from orchestra.graphs.context import warm_up
from orchestra.graphs.supervisor import WORKFLOWS
from orchestra.graphs.turns import chat_graph

# Every graph takes chat input ({"messages": [...]}, or {"task": ...}) and answers with an AI message.
GRAPHS: dict[str, CompiledStateGraph] = {
    "supervisor": _supervisor.build_graph(context_schema=None).compile(name="supervisor"),
    **{
        name: chat_graph(name, build(None), context_schema=None).compile(name=name) for name, build in WORKFLOWS.items()
    },
}


async def _served(name: str) -> CompiledStateGraph:
    await warm_up()
    return GRAPHS[name]


async def supervisor(config: Any) -> CompiledStateGraph:
    return await _served("supervisor")


async def sales_intelligence_research(config: Any) -> CompiledStateGraph:
    return await _served("sales_intelligence_research")


async def market_research_graph(config: Any) -> CompiledStateGraph:
    return await _served("market_research")


async def competitive_analysis(config: Any) -> CompiledStateGraph:
    return await _served("competitive_analysis")


async def design_to_deployment_graph(config: Any) -> CompiledStateGraph:
    return await _served("design_to_deployment")
