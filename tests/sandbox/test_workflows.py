"""Workflows end to end, offline, through the real gateway and sandbox servers; reports checked against the world."""

from __future__ import annotations

import re
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from orchestra.core.settings import load_settings
from orchestra.graphs.cross_check import grounding_flags, report_headings
from orchestra.graphs.runner import RunResult, run_task
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


async def run(sandbox: Sandbox, task: str, *, trusted: tuple[str, ...] = (), **options: Any) -> RunResult:
    settings = load_settings(ROOT / "config" / "orchestra.yaml")
    routing = settings.routing.model_copy(
        update={"approvals": settings.routing.approvals.model_copy(update={"auto_approve_pools": list(trusted)})}
    )
    settings = settings.model_copy(update={"data_dir": sandbox.paths.root.parent, "routing": routing})
    environ = {"PATH": "/usr/bin:/bin"}  # no provider keys: offline
    return await run_task(
        task, settings=settings, environ=environ, gateway_url=sandbox.gateway_url,
        checkpointer=options.pop("checkpointer", InMemorySaver()), **options,
    )  # fmt: skip


def cited(answer: str, text: str) -> list[str]:
    """The evidence ids cited on the line that contains `text`."""
    line = next(line for line in answer.splitlines() if text in line)
    return re.findall(r"E\d+", line)


async def test_sales_brief_states_the_worlds_facts_with_citations(sandbox: Sandbox) -> None:
    world = sandbox.world
    company = next(world.company(c) for c in world.crm_company_ids if any(d.company_id == c for d in world.deals))
    result = await run(sandbox, f"Research {company.name} for our sales call tomorrow")
    answer = result.answer
    assert result.triage["workflow"] == "sales_intelligence_research"
    assert result.model_used is False
    assert "Offline mode: no model was used" in answer
    assert f"# Sales brief: {company.name} ({company.domain})" in answer
    assert f"founded {company.founded_year}; {company.employees:,} employees" in answer
    for plan in company.plans:
        assert f"{plan.name} ${plan.price_per_month_usd}/mo" in answer
    ceo = next(p for p in world.people_at(company.id) if p.title == "Chief Executive Officer")
    assert f"{ceo.name}, Chief Executive Officer" in answer
    for deal in (d for d in world.deals if d.company_id == company.id):
        assert f'Deal "{deal.name}"' in answer
        assert f"${deal.amount_usd:,}" in answer
    tools = {e["id"]: e["tool"] for e in result.evidence}
    assert tools[cited(answer, "Pricing page lists")[0]] == "browser.browser_snapshot"
    assert tools[cited(answer, "Chief Executive Officer")[0]] == "enrichment.search_people"
    assert result.usage["calls"] == 0
    assert result.report_path is not None
    assert result.report_path.read_text().startswith(f"# Sales brief: {company.name}")


async def test_market_research_matches_the_warehouse(sandbox: Sandbox) -> None:
    world = sandbox.world
    segment = "Telehealth"
    players = sorted((c for c in world.companies if c.sub_industry == segment), key=lambda c: -c.revenue_usd)
    result = await run(sandbox, f"Size the {segment.lower()} market: growth, segments and top players")
    answer = result.answer
    assert result.triage["workflow"] == "market_research"
    assert f"# Market research: {segment} (Healthtech)" in answer
    top = answer.split("## Top players")[1].split("##")[0]
    assert [line.split(" (")[0].removeprefix("- ") for line in top.strip().splitlines()] == [
        c.name for c in players[:5]
    ]
    assert f"revenue ${players[0].revenue_usd:,}" in answer
    assert tools_of(result, cited(answer, players[0].name)) == {"warehouse.execute_query"}


async def test_a_region_narrows_the_players_and_says_the_market_figures_are_worldwide(sandbox: Sandbox) -> None:
    from orchestra.graphs.regions import REGIONS

    world = sandbox.world
    europe = set(REGIONS["Europe"])
    players = sorted((c for c in world.companies if c.sub_industry == "Cloud security" and c.hq_country in europe),
                     key=lambda c: -c.revenue_usd)  # fmt: skip
    assert players  # the world has some, or this test shows nothing
    result = await run(sandbox, "size the cloud security market in europe")
    answer = result.answer
    assert "no split by region: the figures below are not for Europe alone" in answer
    top = answer.split("## Top players")[1].split("##")[0]
    assert [line.split(" (")[0].removeprefix("- ") for line in top.strip().splitlines()] == [
        c.name for c in players[:5]
    ]


def tools_of(result: RunResult, ids: list[str]) -> set[str]:
    return {e["tool"] for e in result.evidence if e["id"] in ids}


async def test_cross_check_flags_a_planted_wrong_number(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[3]
    result = await run(
        sandbox, f"Brief me on {company.domain} before our call; it goes to the board, so it must be exact"
    )
    assert result.triage["complexity"] == "critical"
    assert result.flags == []  # the plan's own report is grounded
    wrong = result.answer.replace(f"{company.employees:,} employees", f"{company.employees + 4217:,} employees")
    flags = grounding_flags(wrong, result.evidence, report_headings(wrong))
    assert flags == [f"unsupported: the number {company.employees + 4217} appears in no tool result"]


async def test_browser_session_lasts_across_steps_of_one_thread(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[15]
    result = await run(sandbox, f"Research {company.domain} for a sales call")
    navigate, *rest = [e for e in result.evidence if e["tool"].startswith("browser.")]
    assert navigate["tool"] == "browser.browser_navigate"
    # The snapshot after the click shows the pricing page of the page the navigate call opened.
    assert any(f"/sites/{company.domain}/pricing/" in str(e["result"]) for e in rest)


async def test_competitive_analysis_compares_the_competitors_the_company_states(sandbox: Sandbox) -> None:
    world = sandbox.world
    target = world.companies[5]
    peers = sorted((world.company(c) for c in target.competitor_ids), key=lambda c: c.name)
    result = await run(sandbox, f"Who are {target.name}'s main competitors?")
    answer = result.answer
    assert result.triage["workflow"] == "competitive_analysis"
    assert answer.startswith(f"# Competitive analysis: {target.name} against {', '.join(p.name for p in peers)}")
    stated = f"How the set was chosen: the competitors {target.name} names itself, as the warehouse's competitors table"
    assert stated in answer
    plans = answer.split("## Plans and prices")[1].split("##")[0]
    for company in (target, *peers):  # every plan, not only the entry one
        for plan in company.plans:
            assert f"{plan.name} ${plan.price_per_month_usd:,}/mo" in plans
    table = answer.split("## Comparison")[1].split("##")[0]
    for company in (target, *peers):
        row = next(line for line in table.splitlines() if line.startswith(f"| {company.name} ["))
        entry = min(plan.price_per_month_usd for plan in company.plans)
        assert f"| {company.employees:,} | ${company.total_funding_usd:,} | ${entry}/mo |" in row


async def test_a_segment_is_sized_on_its_own_and_a_wider_fallback_is_said(sandbox: Sandbox) -> None:
    import duckdb

    with duckdb.connect(str(sandbox.paths.warehouse), read_only=True) as db:
        year, size, growth = db.execute(
            "SELECT year, market_size_usd, growth_pct FROM segment_stats WHERE segment = 'Recruiting' "
            "ORDER BY year DESC LIMIT 1"
        ).fetchone()
    result = await run(sandbox, "Size the HR tech recruiting segment")
    assert result.triage["workflow"] == "market_research"
    assert f"- Recruiting segment size ${size:,.0f} in {year}, growth {growth}%" in result.answer
    assert "industry as a whole" in result.answer
    wider = await run(sandbox, "Size the HR tech onboarding segment")
    assert "No segment of that name is in the data: sizing the whole" in wider.answer


async def test_an_overdue_deal_is_a_finding_not_a_plan(sandbox: Sandbox) -> None:
    world = sandbox.world
    as_of = world.as_of_date
    overdue = next(d for d in world.deals if d.is_overdue(as_of))
    others = [d for d in world.deals if d.company_id == overdue.company_id and d.id != overdue.id]
    company = world.company(overdue.company_id)
    result = await run(sandbox, f"Research {company.domain} for our sales call")
    assert f"overdue since {overdue.close_date}" in result.answer
    step = result.answer.split("## Suggested next step")[1]
    if not any(not d.stage.startswith("closed") and not d.is_overdue(as_of) for d in others):
        assert f"is overdue since {overdue.close_date}" in step
    assert f"closing {overdue.close_date}" not in step


async def test_a_task_run_again_on_its_thread_shows_only_its_own_evidence(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[21]
    saver, thread = InMemorySaver(), "same-task-twice"
    first = await run(sandbox, f"Research {company.domain} for our sales call", checkpointer=saver, thread_id=thread)
    again = await run(sandbox, f"Research {company.domain} for our sales call", checkpointer=saver, thread_id=thread)
    table = again.answer.split("## Evidence")[1]
    shown = re.findall(r"^\| (E\d+) \|", table, re.M)
    assert shown == [e["id"] for e in again.evidence]
    assert not set(shown) & {e["id"] for e in first.evidence}  # the first run's rows are not repeated
    assert set(re.findall(r"\[(E\d+)", again.answer.split("## Evidence")[0])) <= set(shown)
