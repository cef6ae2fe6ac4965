"""CRM, enrichment, social and warehouse servers through the real gateway, checked against the generated world."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.conftest import text_of
from tests.sandbox.conftest import Sandbox, structured


async def test_crm_search_read_and_associations_match_the_world(sandbox: Sandbox) -> None:
    world = sandbox.world
    company = world.company(world.crm_company_ids[0])
    deals = [d for d in world.deals if d.company_id == company.id]
    async with sandbox.client("crm") as crm:
        tools = {t.name: t for t in (await crm.list_tools()).tools}
        assert tools["hubspot-search-objects"].annotations.readOnlyHint is True
        assert tools["hubspot-batch-create-objects"].annotations.readOnlyHint is False
        found = structured(
            await crm.call_tool(
                "hubspot-search-objects",
                {"objectType": "companies", "filterGroups": [{"filters": [
                    {"propertyName": "domain", "operator": "EQ", "value": company.domain}]}]},
            )
        )  # fmt: skip
        assert found["total"] == 1
        record = found["results"][0]
        assert record["properties"]["name"] == company.name
        assert record["properties"]["numberofemployees"] == str(company.employees)
        linked = structured(
            await crm.call_tool(
                "hubspot-list-associations",
                {"objectType": "companies", "objectId": record["id"], "toObjectType": "deals"},
            )
        )
        assert sorted(d["properties"]["dealname"] for d in linked["results"]) == sorted(d.name for d in deals)
        assert sum(float(d["properties"]["amount"]) for d in linked["results"]) == sum(d.amount_usd for d in deals)


async def test_crm_writes_are_validated_and_survive_a_restart(sandbox: Sandbox) -> None:
    async with sandbox.client("crm") as crm:
        bad = await crm.call_tool(
            "hubspot-batch-create-objects",
            {"objectType": "companies", "inputs": [{"properties": {"name": "Ok Co", "domain": "ok.example"}},
                                                   {"properties": {"name": "Bad", "domain": "not a domain"}}]},
        )  # fmt: skip
        assert bad.isError
        assert "domain 'not a domain' is malformed" in text_of(bad)
        none = structured(
            await crm.call_tool("hubspot-search-objects", {"objectType": "companies", "query": "ok.example"})
        )
        assert none["total"] == 0  # the valid input of a refused batch was not written either
        created = structured(
            await crm.call_tool(
                "hubspot-batch-create-objects",
                {"objectType": "companies",
                 "inputs": [{"properties": {"name": "Quorvex Labs", "domain": "quorvex.example"}}]},
            )
        )  # fmt: skip
        new_id = created["results"][0]["id"]
        unknown_stage = await crm.call_tool(
            "hubspot-batch-update-objects",
            {"objectType": "deals", "inputs": [{"id": "1", "properties": {"dealstage": "won"}}]},
        )
        assert unknown_stage.isError
        pool = sandbox.app.state.gateway.pools["crm"]
        for replica in list(pool.replicas):
            os.kill(replica.pid, signal.SIGKILL)
        await asyncio.sleep(1.5)  # replicas restart
        read = structured(
            await crm.call_tool("hubspot-batch-read-objects", {"objectType": "companies", "inputs": [{"id": new_id}]})
        )
        assert read["results"][0]["properties"]["domain"] == "quorvex.example"


async def test_enrichment_matches_firmographics_and_people(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[5]
    people = sandbox.world.people_at(company.id)
    async with sandbox.client("enrichment") as enrichment:
        org = structured(
            await enrichment.call_tool("enrich_organization", {"domain": f"https://www.{company.domain}/"})
        )
        assert org["name"] == company.name
        assert org["employee_count"] == company.employees
        assert org["funding"]["total_usd"] == company.total_funding_usd
        assert org["match_confidence"] == 1.0
        fuzzy = structured(await enrichment.call_tool("enrich_organization", {"name": company.name.lower() + "x"}))
        assert fuzzy["domain"] == company.domain
        assert fuzzy["match_confidence"] < 1.0
        leaders = structured(
            await enrichment.call_tool(
                "search_people", {"organization_domain": company.domain, "seniorities": ["c_suite"]}
            )
        )
        assert {p["name"] for p in leaders["people"]} == {p.name for p in people if p.seniority == "c_suite"}
        bad = await enrichment.call_tool("enrich_organization", {"domain": "not_a_domain"})
        assert bad.isError
        assert "is not a domain" in text_of(bad)
        unknown = await enrichment.call_tool("enrich_organization", {"domain": "nobody.example"})
        assert unknown.isError


async def test_social_profiles_and_posts_match_the_world(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[9]
    profiles = [p for p in sandbox.world.social_profiles if p.company_id == company.id]
    async with sandbox.client("social") as social:
        result = structured(await social.call_tool("get_company_social_profiles", {"company": company.name}))
        assert {p["platform"]: p["followers"] for p in result["profiles"]} == {
            p.platform: p.followers for p in profiles
        }
        posts = structured(await social.call_tool("get_recent_posts", {"company": company.domain, "limit": 2}))
        newest = sorted((p for p in sandbox.world.social_posts if p.company_id == company.id),
                        key=lambda p: (p.posted_at, p.id), reverse=True)[:2]  # fmt: skip
        assert [p["id"] for p in posts["posts"]] == [p.id for p in newest]
        summary = structured(await social.call_tool("get_engagement_summary", {"company": company.name, "days": 365}))
        assert {p["platform"] for p in summary["platforms"]} == {p.platform for p in profiles}


async def test_warehouse_sql_returns_the_generated_figures_and_describes_tables(sandbox: Sandbox) -> None:
    world = sandbox.world
    won = sum(d.amount_usd for d in world.deals if d.stage == "closedwon")
    async with sandbox.client("warehouse") as warehouse:
        sql = "SELECT count(*) AS n, (SELECT sum(amount_usd) FROM opportunities WHERE is_won) AS won FROM accounts"
        result = await warehouse.call_tool("execute_query", {"sql": sql})
        assert not result.isError, text_of(result)
        assert "200" in text_of(result)
        assert str(won) in text_of(result)
        tables = text_of(await warehouse.call_tool("list_tables", {}))
        assert "revenue_by_quarter" in tables
        assert "Recognized revenue from each customer account per calendar quarter." in tables
        refused = await warehouse.call_tool("execute_query", {"sql": "DELETE FROM accounts"})
        assert refused.isError or "read-only" in text_of(refused).lower()


@pytest.mark.parametrize("domain_index", [3])
async def test_fetch_reads_a_sandbox_page(sandbox: Sandbox, domain_index: int) -> None:
    company = sandbox.world.companies[domain_index]
    async with sandbox.client("fetch") as fetch:
        page = await fetch.call_tool("fetch", {"url": f"{sandbox.host_url}/sites/{company.domain}/pricing/"})
    assert not page.isError, text_of(page)
    text = text_of(page)
    assert company.plans[1].name in text
    assert f"${company.plans[1].price_per_month_usd}/mo" in text


async def test_crm_engagements_and_properties(sandbox: Sandbox) -> None:
    company_id = sandbox.world.crm_company_ids[2]
    company = sandbox.world.company(company_id)
    async with sandbox.client("crm") as crm:
        props = structured(await crm.call_tool("hubspot-list-properties", {"objectType": "deals"}))
        assert "dealstage" in {p["name"] for p in props["results"]}
        found = structured(
            await crm.call_tool("hubspot-search-objects", {"objectType": "companies", "query": company.domain})
        )
        crm_id = found["results"][0]["id"]
        note = structured(
            await crm.call_tool(
                "hubspot-create-engagement",
                {"type": "NOTE", "associations": {"companyIds": [crm_id]}, "metadata": {"body": "Sent the proposal."}},
            )
        )
        assert note["properties"]["hs_note_body"] == "Sent the proposal."
        notes = structured(
            await crm.call_tool(
                "hubspot-list-associations", {"objectType": "companies", "objectId": crm_id, "toObjectType": "notes"}
            )
        )
        assert "Sent the proposal." in {n["properties"]["hs_note_body"] for n in notes["results"]}
        orphan = await crm.call_tool(
            "hubspot-create-engagement", {"type": "NOTE", "associations": {}, "metadata": {"body": "x"}}
        )
        assert orphan.isError
        assert "at least one company" in text_of(orphan)


async def test_enrich_person_by_email_and_by_name(sandbox: Sandbox) -> None:
    person = sandbox.world.people[20]
    company = sandbox.world.company(person.company_id)
    async with sandbox.client("enrichment") as enrichment:
        by_email = structured(await enrichment.call_tool("enrich_person", {"email": person.email.upper()}))
        assert by_email["title"] == person.title
        by_name = structured(
            await enrichment.call_tool(
                "enrich_person",
                {"first_name": person.first_name, "last_name": person.last_name, "domain": company.domain},
            )
        )
        assert by_name["email"] == person.email
        missing = await enrichment.call_tool("enrich_person", {"first_name": person.first_name})
        assert missing.isError
        assert "give an email, or first_name, last_name and domain" in text_of(missing)


async def test_follower_history_has_twelve_months(sandbox: Sandbox) -> None:
    profile = sandbox.world.social_profiles[0]
    company = sandbox.world.company(profile.company_id)
    async with sandbox.client("social") as social:
        history = structured(
            await social.call_tool("get_follower_history", {"company": company.name, "platform": profile.platform})
        )
        assert [p["followers"] for p in history["history"]] == profile.followers_by_month
        unknown = await social.call_tool("get_follower_history", {"company": "Nobody At All", "platform": "x"})
        assert unknown.isError
