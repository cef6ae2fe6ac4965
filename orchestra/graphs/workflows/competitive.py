"""`competitive_analysis`: one company against the competitors the user names, or else its segment's leaders.

For each company: firmographics (enrichment), entry price (its pricing page, fetched), social reach and growth.
Then a comparison table and, for the first company, strengths and gaps measured against the others.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.core.sql import sql_literal
from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import Step, cite
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows import company_facts as gather
from orchestra.graphs.workflows.companies import find_companies, look_up
from orchestra.graphs.workflows.market_research import query
from orchestra.graphs.workflows.synthesis import finish_report

_PRICE = re.compile(r"\$([\d,]+)\s*/\s*mo")


async def pick_companies(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["profile", "__end__"]]:
    step = Step(state, context_of(runtime))
    hits, _ = await find_companies(step, state["task"], want=6, tries=8)
    found: list[dict[str, Any]] = [{**hit.company, "evidence": hit.evidence} for hit in hits]
    matched = [hit.note for hit in hits if hit.note]
    if not found:
        answer = "I could not tell which company to compare. Name it (and its competitors, if you know them)."
        return Command(goto=END, update=step.update(answer=answer))
    chosen_by = None
    if len(found) == 1:  # no competitors named: the ones the company states, else its segment's leaders
        target = found[0]
        stated, evidence = await query(
            step,
            "SELECT competitor_domain AS domain FROM competitors "
            f"WHERE company_domain = {sql_literal(target['domain'])} ORDER BY competitor_name",
        )
        if stated:
            chosen_by = (f"the competitors {target['name']} names itself, as the warehouse's competitors table "
                         f"records them{cite(evidence)}")  # fmt: skip
        else:
            stated, evidence = await query(
                step,
                f"SELECT domain FROM accounts WHERE segment = {sql_literal(target['sub_industry'])} AND domain <> "
                f"{sql_literal(target['domain'])} ORDER BY estimated_revenue_usd DESC LIMIT 3",
            )
            chosen_by = (f"no competitors are stated for {target['name']}, so the revenue leaders of its segment "
                         f"({target['sub_industry']}){cite(evidence)}")  # fmt: skip
        for peer in stated:
            hit = await look_up(step, peer["domain"])
            if hit:
                found.append({**hit.company, "evidence": hit.evidence, "chosen_by": evidence})
    facts = {"companies": found, "matched": matched, "chosen_by": chosen_by or "the companies the task names"}
    return Command(goto="profile", update=step.update(facts=facts))


def _plan_prices(page: str) -> list[tuple[str, int]]:
    """(plan, $/month) pairs of a pricing page read as text: each price goes with the heading above it."""
    plans, heading = [], ""
    for line in page.splitlines():
        text = line.strip()
        if text.startswith("#"):
            heading = text.lstrip("# ").strip()
        elif price := _PRICE.search(text):
            plans.append((heading or f"Plan {len(plans) + 1}", int(price.group(1).replace(",", ""))))
            heading = ""
    return plans


async def profile(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    step = Step(state, context_of(runtime))
    profiles = []
    for company in state["facts"]["companies"]:
        page = await step.call(
            "web", "fetch", "fetch", {"url": f"{company['website_url']}pricing/", "max_length": 3000}
        )
        plans = _plan_prices(str(page[0])) if page else []
        prices = [price for _, price in plans]
        social = await gather.social(step, company["domain"])
        linkedin = next((p for p in social.get("profiles", []) if p["platform"] == "linkedin"), None)
        profiles.append({
            "name": company["name"], "domain": company["domain"], "evidence": company["evidence"],
            "employees": company.get("employee_count"), "funding": (company.get("funding") or {}).get("total_usd", 0),
            "entry_price": min(prices) if prices else None, "price_evidence": page[1] if page else None,
            "plans": plans,
            "followers": linkedin["followers"] if linkedin else None,
            "growth": linkedin["growth_pct_12m"] if linkedin else None,
            "social_evidence": social.get("profiles_evidence"),
        })  # fmt: skip
    return step.update(facts={"profiles": profiles})


def _plans(profiles: list[dict[str, Any]]) -> list[str]:
    """Every plan each company lists, not only the entry one."""
    lines = []
    for p in profiles:
        listed = ", ".join(f"{name} ${price:,}/mo" for name, price in p.get("plans", [])) or "no prices found"
        lines.append(f"- {p['name']}: {listed}{cite(p['price_evidence'])}")
    return lines


def strengths_and_gaps(profiles: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """How the first company ranks against the rest on each measure."""
    first, others = profiles[0], profiles[1:]
    audience, social = "LinkedIn audience", "social_evidence"
    measures = [("employees", "larger team", "smaller team", "evidence", "{:,}"),
                ("funding", "more funding", "less funding", "evidence", "${:,}"),
                ("followers", f"bigger {audience}", f"smaller {audience}", social, "{:,}"),
                ("growth", "faster audience growth", "slower audience growth", social, "{:.1f}%")]  # fmt: skip
    strengths, gaps = [], []
    for key, better, worse, evidence_key, shown in measures:
        values = [p[key] for p in others if p[key] is not None]
        if first[key] is None or not values:
            continue
        citation = cite(first[evidence_key], *(p[evidence_key] for p in others))
        own, top, bottom = shown.format(first[key]), shown.format(max(values)), shown.format(min(values))
        if first[key] > max(values):
            strengths.append(f"- {better} than every competitor ({own} against at most {top}){citation}")
        elif first[key] < min(values):
            gaps.append(f"- {worse} than every competitor ({own}; the others {bottom} or more){citation}")
    prices = [p["entry_price"] for p in others if p["entry_price"] is not None]
    if first["entry_price"] is not None and prices:
        citation = cite(first["price_evidence"], *(p["price_evidence"] for p in others))
        if first["entry_price"] < min(prices):
            strengths.append(f"- cheapest entry plan (${first['entry_price']}/mo){citation}")
        elif first["entry_price"] > max(prices):
            gaps.append(f"- most expensive entry plan (${first['entry_price']}/mo){citation}")
    return strengths or ["- no measure where it leads every competitor"], gaps or ["- no measure where it trails all"]


def _number(value: float | None, shown: str) -> str:
    """A figure as the rest of the report writes it (thousands separators), or "n/a" when no source gave it."""
    return shown.format(value) if value is not None else "n/a"


async def write_report(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    profiles = state["facts"]["profiles"]
    rows = [
        "| company | employees | funding | entry plan | LinkedIn followers | growth (year) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in profiles:
        price = f"${p['entry_price']}/mo" if p["entry_price"] is not None else "n/a"
        sources = cite(p["evidence"], p["price_evidence"], p["social_evidence"])
        cells = [
            f"{p['name']}{sources}",
            _number(p["employees"], "{:,}"),
            _number(p["funding"], "${:,}"),
            price,
            _number(p["followers"], "{:,}"),
            _number(p["growth"], "{:.1f}%"),
        ]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    strengths, gaps = strengths_and_gaps(profiles)
    others = ", ".join(p["name"] for p in profiles[1:])
    name = profiles[0]["name"]
    lines = [
        f"# Competitive analysis: {name} against {others}",
        f"How the set was chosen: {state['facts'].get('chosen_by', 'the companies the task names')}.",
        "## Comparison", *rows, "## Plans and prices", *_plans(profiles),
        f"## Where {name} is stronger", *strengths, f"## Where {name} trails", *gaps,
    ]  # fmt: skip
    return await finish_report(state, context_of(runtime), "\n".join(lines), reader="product marketing lead")


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, context_schema=context_schema)
    graph.add_node("pick_companies", pick_companies)
    graph.add_node("profile", profile)
    graph.add_node("report", write_report)
    graph.add_edge(START, "pick_companies")
    graph.add_edge("profile", "report")
    graph.add_edge("report", END)
    return graph
