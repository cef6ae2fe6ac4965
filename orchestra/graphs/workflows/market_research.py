"""`market_research`: a market or segment's size, growth, segments and top players, from warehouse SQL, plus
web evidence from the leading players' own sites.

The warehouse is read through its MCP server with plain SQL; the tables describe themselves (`list_tables`).
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.core.sql import sql_literal
from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import Step, cite, counted
from orchestra.graphs.regions import region_in
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows.synthesis import finish_report


def rows(result: Any) -> list[dict[str, Any]]:
    """Rows of an `execute_query` result as dicts."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return []
    if not isinstance(result, dict) or not result.get("success", True):
        return []
    return [dict(zip(result.get("columns", []), row, strict=False)) for row in result.get("rows", [])]


async def query(step: Step, sql: str) -> tuple[list[dict[str, Any]], str | None]:
    found = await step.call("bi", "warehouse", "execute_query", {"sql": sql})
    return (rows(found[0]), found[1]) if found else ([], None)


def match_market(task: str, markets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The industry (and segment, when named) the task is about, by words the task shares with their names."""
    words = re.findall(r"[a-z][a-z/-]+", task.lower())
    best, best_score = None, 0.0
    for market in markets:
        for key in ("segment", "industry"):
            name = str(market[key]).lower()
            score = max((difflib.SequenceMatcher(None, name, " ".join(words[i : i + len(name.split())])).ratio()
                         for i in range(len(words))), default=0.0)  # fmt: skip
            if score >= 0.8 and key == "segment":
                score += 0.01  # the narrower market wins a tie: "the HR tech recruiting segment" is Recruiting
            if score > best_score and score >= 0.8:
                segment = market["segment"] if key == "segment" else None
                best, best_score = {"industry": market["industry"], "segment": segment}, score
    return best


async def find_market(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["measure", "__end__"]]:
    step = Step(state, context_of(runtime))
    markets, evidence = await query(step, "SELECT DISTINCT industry, segment FROM accounts ORDER BY 1, 2")
    chosen = match_market(state["task"], markets)
    if chosen is None:
        names = sorted({m["industry"] for m in markets})
        answer = f"I could not tell which market to research. The warehouse covers: {', '.join(names)}{cite(evidence)}."
        return Command(goto=END, update=step.update(answer=answer))
    return Command(goto="measure", update=step.update(facts={"market": chosen, "market_evidence": evidence}))


async def measure(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    market = state["facts"]["market"]
    industry = sql_literal(market["industry"])
    scope = f"industry = {industry}" + (f" AND segment = {sql_literal(market['segment'])}" if market["segment"] else "")
    facts: dict[str, Any] = {}
    industry_scope = f"industry = {industry}"
    if region := region_in(state["task"]):  # the market figures are worldwide; the companies can be narrowed
        countries = ", ".join(sql_literal(country) for country in region[1])
        scope += f" AND hq_country IN ({countries})"
        industry_scope += f" AND hq_country IN ({countries})"
        facts["region"] = region[0]
    facts["size"], facts["size_evidence"] = await query(
        step, f"SELECT year, market_size_usd, growth_pct FROM industry_stats WHERE industry = {industry} ORDER BY year"
    )
    if market["segment"]:  # the segment asked for, sized on its own; the industry's figures stay for context
        facts["segment_size"], facts["segment_size_evidence"] = await query(
            step,
            f"SELECT year, market_size_usd, growth_pct FROM segment_stats WHERE industry = {industry} "
            f"AND segment = {sql_literal(market['segment'])} ORDER BY year",
        )
    facts["segments"], facts["segments_evidence"] = await query(
        step,
        f"SELECT segment, count(*) AS companies, sum(estimated_revenue_usd) AS revenue_usd FROM accounts "
        f"WHERE {industry_scope} GROUP BY segment ORDER BY revenue_usd DESC",
    )
    facts["players"], facts["players_evidence"] = await query(
        step,
        f"SELECT company_name, domain, segment, employees, estimated_revenue_usd, total_funding_usd FROM accounts "
        f"WHERE {scope} ORDER BY estimated_revenue_usd DESC LIMIT 5",
    )
    facts["ours"], facts["ours_evidence"] = await query(
        step,
        f"SELECT count(DISTINCT a.account_id) FILTER (WHERE a.is_customer) AS customers, "
        f"coalesce(sum(o.amount_usd) FILTER (WHERE o.is_won), 0) AS won_usd, "
        f"coalesce(sum(o.amount_usd) FILTER (WHERE NOT o.is_closed), 0) AS open_pipeline_usd "
        f"FROM accounts a LEFT JOIN opportunities o ON o.account_id = a.account_id WHERE {scope}",
    )
    return step.update(facts=facts)


async def web_evidence(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """What the top three players say about themselves, read from their sites."""
    step = Step(state, context_of(runtime))
    pages = []
    for player in state["facts"].get("players", [])[:3]:
        org = await step.call("bi", "enrichment", "enrich_organization", {"domain": player["domain"]})
        if org is None or not isinstance(org[0], dict) or not org[0].get("website_url"):
            continue
        page = await step.call("web", "fetch", "fetch", {"url": org[0]["website_url"], "max_length": 1500})
        if page is not None:
            text = str(page[0])
            lines = [line.strip("# ").strip() for line in text.splitlines() if line.strip()]
            tagline = next((line for line in lines if not line.startswith("Contents of")), "")
            pages.append({"name": player["company_name"], "tagline": tagline, "evidence": page[1]})
    return step.update(facts={"web": pages})


def _usd(value: Any) -> str:
    return f"${float(value or 0):,.0f}"


async def write_report(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    facts = state["facts"]
    market = facts["market"]
    name = market["segment"] or market["industry"]
    lines = [
        f"# Market research: {name}" + (f" ({market['industry']})" if market["segment"] else ""),
        "## Size and growth",
    ]
    segment_size, size = facts.get("segment_size", []), facts.get("size", [])
    if segment_size:
        first, last = segment_size[0], segment_size[-1]
        where = cite(facts["segment_size_evidence"])
        lines.append(f"- {market['segment']} segment size {_usd(last['market_size_usd'])} in {last['year']}, growth "
                     f"{last['growth_pct']}% over the previous year{where}")  # fmt: skip
        lines.append(f"- From {_usd(first['market_size_usd'])} in {first['year']}{where}")
    elif market["segment"]:
        lines.append(f"- The data has no size for the {market['segment']} segment: the figures below are for the "
                     f"whole {market['industry']} industry, a wider market.")  # fmt: skip
    elif re.search(r"\bsegment|\bsub-?market|\bniche", state["task"], re.I):
        lines.append(f"- No segment of that name is in the data: sizing the whole {market['industry']} industry, a "
                     "wider market.")  # fmt: skip
    if region := facts.get("region"):
        players = facts.get("players", [])
        found = "" if players else f" None of the data's companies in this market is headquartered in {region}."
        lines.append(f"- The data sizes markets worldwide, with no split by region: the figures below are not for "
                     f"{region} alone. Segments and players are those headquartered in {region}.{found}")  # fmt: skip
    if size:
        first, last = size[0], size[-1]
        label = f"The {market['industry']} industry as a whole" if segment_size else f"{market['industry']} market size"
        lines.append(f"- {label}: {_usd(last['market_size_usd'])} in {last['year']}, growth "
                     f"{last['growth_pct']}% over the previous year{cite(facts['size_evidence'])}")  # fmt: skip
        lines.append(f"- From {_usd(first['market_size_usd'])} in {first['year']}{cite(facts['size_evidence'])}")
    lines.append("## Segments")
    for segment in facts.get("segments", []):
        companies = counted(segment["companies"], "company", "companies")
        lines.append(f"- {segment['segment']}: {companies}, combined revenue "
                     f"{_usd(segment['revenue_usd'])}{cite(facts['segments_evidence'])}")  # fmt: skip
    lines.append("## Top players")
    for player in facts.get("players", []):
        lines.append(f"- {player['company_name']} ({player['domain']}, {player['segment']}): revenue "
                     f"{_usd(player['estimated_revenue_usd'])}, {counted(player['employees'], 'employee')}, funding "
                     f"{_usd(player['total_funding_usd'])}{cite(facts['players_evidence'])}")  # fmt: skip
    lines.append("## In their own words")
    lines += [f'- {p["name"]}: "{p["tagline"]}"{cite(p["evidence"])}' for p in facts.get("web", [])] or [
        "- No sites read."
    ]
    ours = (facts.get("ours") or [{}])[0]
    won, pipeline = _usd(ours.get("won_usd")), _usd(ours.get("open_pipeline_usd"))
    lines += [
        "## Where we stand",
        f"- {counted(ours.get('customers'), 'customer')}, {won} won, {pipeline} in open pipeline in this market"
        f"{cite(facts.get('ours_evidence'))}",
    ]
    return await finish_report(state, context_of(runtime), "\n".join(lines), reader="strategy lead")


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, context_schema=context_schema)
    graph.add_node("find_market", find_market)
    graph.add_node("measure", measure)
    graph.add_node("web_evidence", web_evidence)
    graph.add_node("report", write_report)
    graph.add_edge(START, "find_market")
    graph.add_edge("measure", "web_evidence")
    graph.add_edge("web_evidence", "report")
    graph.add_edge("report", END)
    return graph
