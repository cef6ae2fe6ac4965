"""The graphs as `langgraph dev` and LangGraph Studio load them (see `langgraph.json`): compiled without a
checkpointer, since the server brings its own. Tools come from the gateway at `$ORCHESTRA_GATEWAY_URL`."""

from orchestra.graphs import supervisor as _supervisor
from orchestra.graphs.workflows import competitive, design_to_deployment, market_research, sales_research

supervisor = _supervisor.build_graph(context_schema=None).compile(name="supervisor")
sales_intelligence_research = sales_research.build_graph(context_schema=None).compile(
    name="sales_intelligence_research"
)
market_research_graph = market_research.build_graph(context_schema=None).compile(name="market_research")
competitive_analysis = competitive.build_graph(context_schema=None).compile(name="competitive_analysis")
design_to_deployment_graph = design_to_deployment.build_graph(context_schema=None).compile(name="design_to_deployment")
