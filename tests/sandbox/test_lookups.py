"""Offline, the common one-step questions are answered by fixed plans, with evidence; the rest get the exact call."""

from __future__ import annotations

import re
from collections import Counter

from tests.sandbox.conftest import Sandbox, structured
from tests.sandbox.test_workflows import run


async def test_how_many_open_deals_counts_the_crm(sandbox: Sandbox) -> None:
    result = await run(sandbox, "How many open deals do we have in the CRM right now?")
    open_deals = [d for d in sandbox.world.deals if not d.stage.startswith("closed")]
    assert f"We have **{len(open_deals):,} open deals**" in result.answer
    assert f"**${sum(d.amount_usd for d in open_deals):,.0f}** in total" in result.answer
    assert "Offline mode: no model was used" in result.answer
    assert result.evidence[0]["tool"] == "crm.hubspot-search-objects"
    assert result.usage["calls"] == 0


async def test_a_contacts_email_comes_from_the_crm(sandbox: Sandbox) -> None:
    async with sandbox.client("crm") as crm:
        listed = structured(await crm.call_tool("hubspot-list-objects", {"objectType": "contacts", "limit": 50}))
    named = Counter((c["properties"]["firstname"], c["properties"]["lastname"]) for c in listed["results"])
    contact = next(c["properties"] for c in listed["results"]
                   if named[(c["properties"]["firstname"], c["properties"]["lastname"])] == 1)  # fmt: skip
    result = await run(sandbox, f"What is {contact['firstname']} {contact['lastname']}'s email?")
    assert f"email {contact['email']}" in result.answer
    assert contact["jobtitle"] in result.answer


async def test_a_pricing_page_and_a_screenshot_are_read_offline(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[9]
    result = await run(sandbox, f"What's on {company.name}'s pricing page?")
    for plan in company.plans:
        assert plan.name in result.answer
    assert any(e["tool"] == "fetch.fetch" and "/pricing/" in e["arguments"]["url"] for e in result.evidence)
    shot = await run(sandbox, f"Take a screenshot of {sandbox.host_url}/sites/{company.domain}/")
    saved = re.search(r"saved as `([^`]+\.png)`", shot.answer)
    assert saved, shot.answer


async def test_design_files_deployments_customers_and_models_are_listed(sandbox: Sandbox) -> None:
    files = await run(sandbox, "List the Figma files")
    for name in ("Orchestra — Landing page", "Orchestra — Pricing page", "Orchestra — Settings page"):
        assert name in files.answer
    assert "get_figma_data" not in files.answer
    assert "Deployments" in (await run(sandbox, "List our deployments")).answer
    won = {d.company_id for d in sandbox.world.deals if d.stage == "closedwon"}
    customers = await run(sandbox, "How many customers do we have?")
    assert f"**{len(won):,} customer" in customers.answer
    models = await run(sandbox, "Which models are cheapest?")
    assert "openai/gpt-4.1-mini" in models.answer


async def test_what_needs_a_model_is_refused_with_the_exact_call(sandbox: Sandbox) -> None:
    result = await run(sandbox, "Which of our deals are most likely to slip this quarter, and why?")
    assert "no model was used" in result.answer
    assert "orchestra tools call hubspot-search-objects" in result.answer
    assert '"objectType": "deals"' in result.answer
    assert "list_models" not in result.answer
