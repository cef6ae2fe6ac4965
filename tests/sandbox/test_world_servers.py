"""What the world adds reaches agents through the servers: the as-of date, funding stages, stated competitors (in
the warehouse and on each website) and segment-level markets."""

from __future__ import annotations

import json

from tests.conftest import text_of
from tests.sandbox.conftest import Sandbox, structured


async def test_the_crm_says_which_day_its_data_is_as_of(sandbox: Sandbox) -> None:
    world = sandbox.world
    async with sandbox.client("crm") as crm:
        details = structured(await crm.call_tool("hubspot-get-user-details", {}))
        assert details["asOf"] == world.as_of
        overdue = next(d for d in world.deals if d.is_overdue(world.as_of_date))
        found = structured(
            await crm.call_tool(
                "hubspot-search-objects",
                {"objectType": "deals", "query": overdue.name, "properties": ["dealstage", "closedate"]},
            )
        )
        [deal] = [r for r in found["results"] if r["properties"]["closedate"] == overdue.close_date]
        assert deal["properties"]["dealstage"] == overdue.stage  # still open ...
        assert deal["properties"]["closedate"] < details["asOf"]  # ... and past its close date: overdue
        assert deal["createdAt"].startswith(overdue.created_date)


async def test_enrichment_and_social_carry_the_stage_and_the_as_of_date(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[2]
    async with sandbox.client("enrichment") as enrichment:
        org = structured(await enrichment.call_tool("enrich_organization", {"domain": company.domain}))
    assert org["funding"]["stage"] == company.funding_stage
    assert org["employee_count"] == company.employees
    assert org["as_of"] == sandbox.world.as_of
    async with sandbox.client("social") as social:
        history = structured(
            await social.call_tool("get_follower_history", {"company": company.name, "platform": "linkedin"})
        )
    assert history["as_of"] == sandbox.world.as_of
    assert history["history"][-1]["month"] == sandbox.world.as_of[:7]
    assert len({point["month"] for point in history["history"]}) == 12


async def test_the_warehouse_answers_competitors_segments_and_its_date(sandbox: Sandbox) -> None:
    world = sandbox.world
    company = world.companies[2]
    rivals = [world.company(i) for i in company.competitor_ids]
    telehealth = [c for c in world.companies if c.sub_industry == "Telehealth"]
    queries = {
        "competitors": f"SELECT competitor_name, competitor_domain FROM competitors "
        f"WHERE company_domain = '{company.domain}' ORDER BY competitor_domain",
        "segment": "SELECT market_size_usd, companies FROM segment_stats WHERE segment = 'Telehealth' "
        f"AND year = {world.as_of_date.year}",
        "as_of": "SELECT strftime(as_of, '%Y-%m-%d') AS as_of FROM snapshot",
    }
    async with sandbox.client("warehouse") as warehouse:
        results = {}
        for name, sql in queries.items():
            result = await warehouse.call_tool("execute_query", {"sql": sql})
            assert not result.isError, text_of(result)
            results[name] = text_of(result)
        tables = text_of(await warehouse.call_tool("list_tables", {}))
    for rival in rivals:
        assert rival.name in results["competitors"]
        assert rival.domain in results["competitors"]
    assert str(len(telehealth)) in results["segment"]
    assert world.as_of in results["as_of"]
    for table in ("competitors", "segment_stats", "snapshot"):
        assert table in tables
    assert "comparison page" in tables


async def test_each_website_lists_its_competitors_on_a_compare_page(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[2]
    rivals = [sandbox.world.company(i) for i in company.competitor_ids]
    async with sandbox.client("fetch") as fetch:
        home = await fetch.call_tool("fetch", {"url": f"{sandbox.host_url}/sites/{company.domain}/", "raw": True})
        assert f"/sites/{company.domain}/compare/" in text_of(home)  # linked from the navigation
        page = await fetch.call_tool("fetch", {"url": f"{sandbox.host_url}/sites/{company.domain}/compare/"})
    assert not page.isError, text_of(page)
    text = text_of(page)
    for rival in rivals:
        assert rival.name in text
        assert rival.domain in text
    manifest = json.loads(sandbox.paths.manifest.read_text())
    assert manifest["as_of"] == sandbox.world.as_of
