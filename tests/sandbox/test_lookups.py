"""Offline, the common one-step questions are answered by fixed plans, with evidence; the rest get the exact call."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

from orchestra.graphs.lookups import tool_hint
from orchestra.sandbox.names import SALES_REPS
from tests.sandbox.conftest import Sandbox, structured
from tests.sandbox.test_workflows import run


async def test_how_many_open_deals_counts_the_crm(sandbox: Sandbox) -> None:
    result = await run(sandbox, "How many open deals do we have in the CRM right now?")
    open_deals = [d for d in sandbox.world.deals if not d.stage.startswith("closed")]
    assert f"We have **{len(open_deals):,} open deals**" in result.answer
    assert f"**${sum(d.amount_usd for d in open_deals):,.0f}** in total" in result.answer
    assert "Offline mode: no model was used" in result.answer
    # the date the CRM is current to (to tell overdue deals), then the deals
    assert [e["tool"] for e in result.evidence[:2]] == ["crm.hubspot-get-user-details", "crm.hubspot-search-objects"]
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
    lowercase = await run(sandbox, f"what's {contact['firstname'].lower()} {contact['lastname'].lower()}'s email")
    assert f"email {contact['email']}" in lowercase.answer
    no_apostrophe = await run(sandbox, f"whats {contact['firstname'].lower()} {contact['lastname'].lower()}s phone")
    assert f"email {contact['email']}, phone {contact.get('phone') or 'none on record'}" in no_apostrophe.answer


async def test_someone_the_crm_does_not_know_is_looked_up_in_enrichment_at_the_named_company(sandbox: Sandbox) -> None:
    world = sandbox.world
    async with sandbox.client("crm") as crm:  # someone of the enrichment world whom our CRM has no contact for
        for person in world.people:
            same = [{"propertyName": "firstname", "operator": "EQ", "value": person.first_name},
                    {"propertyName": "lastname", "operator": "EQ", "value": person.last_name}]  # fmt: skip
            search = {"objectType": "contacts", "filterGroups": [{"filters": same}]}
            if not structured(await crm.call_tool("hubspot-search-objects", search))["results"]:
                break
    company = world.company(person.company_id)
    result = await run(sandbox, f"What is {person.first_name} {person.last_name}'s email at {company.name}?")
    assert f"The CRM has no contact named {person.first_name} {person.last_name}" in result.answer
    assert f"email {person.email}" in result.answer
    assert person.title in result.answer
    assert [e["tool"] for e in result.evidence][-1] == "enrichment.enrich_person"

    unplaced = await run(sandbox, f"What is {person.first_name} {person.last_name}'s email?")
    namesakes = [p for p in world.people if p.name == person.name]
    for namesake in namesakes:  # matched on the name alone: each person of that name, with their company
        assert f"email {namesake.email}" in unplaced.answer
        assert world.company(namesake.company_id).name in unplaced.answer
    assert ("matched on the name alone" in unplaced.answer) is (len(namesakes) == 1)


async def test_a_pricing_page_and_a_screenshot_are_read_offline(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[9]
    result = await run(sandbox, f"What's on {company.name}'s pricing page?")
    for plan in company.plans:
        assert plan.name in result.answer
    assert any(e["tool"] == "fetch.fetch" and "/pricing/" in e["arguments"]["url"] for e in result.evidence)
    lowercase = await run(sandbox, f"whats on {company.name.split()[0].lower()}'s pricing page")
    assert plan.name in lowercase.answer
    looked_up = {str(e["arguments"].get("name", "")).lower() for e in lowercase.evidence if "enrich" in e["tool"]}
    assert not looked_up & {"whats", "pricing", "page", "pricing page"}  # task words are not company names
    shot = await run(sandbox, f"Take a screenshot of {sandbox.host_url}/sites/{company.domain}/")
    saved = re.search(r"saved as `([^`]+\.png)`", shot.answer)
    assert saved, shot.answer
    path = Path(saved.group(1))
    assert path.is_absolute()  # a path the user can open, not one relative to the browser server's folder
    assert path.read_bytes().startswith(b"\x89PNG")


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
    other = await run(sandbox, "What does gpt-4o cost per million tokens?")  # not a configured model
    assert "gpt-4o is not one of the configured models. From LiteLLM's price catalog:" in other.answer
    assert re.search(r"- gpt-4o: input \$[\d.]+, output \$[\d.]+ per million tokens", other.answer)
    assert (await run(sandbox, "List our deployments")).answer.count("| deployment |") <= 1


async def test_what_needs_a_model_is_refused_with_the_exact_call(sandbox: Sandbox) -> None:
    result = await run(sandbox, "Which of our deals are most likely to slip this quarter, and why?")
    assert "no model was used" in result.answer
    assert "orchestra tools call hubspot-search-objects" in result.answer
    assert '"objectType": "deals"' in result.answer
    assert "list_models" not in result.answer


async def test_a_deal_question_with_a_close_date_window_is_filtered_by_it(sandbox: Sandbox) -> None:
    world = sandbox.world
    as_of = world.as_of_date
    first = dt.date(as_of.year, (as_of.month - 1) // 3 * 3 + 1, 1)
    last = dt.date(first.year + (first.month + 2) // 12, (first.month + 2) % 12 + 1, 1) - dt.timedelta(days=1)
    open_deals = [d for d in world.deals if not d.stage.startswith("closed")]
    closing = [d for d in open_deals if first.isoformat() <= d.close_date <= last.isoformat()]
    assert 0 < len(closing) < len(open_deals)
    result = await run(sandbox, "how many deals are closing this quarter?")
    assert f"**{len(closing):,} open deal" in result.answer
    assert f"({first} to {last}; the CRM is current to {as_of})" in result.answer
    overdue = [d for d in open_deals if d.is_overdue(as_of)]
    late = await run(sandbox, "Which deals are overdue?")
    assert f"**{len(overdue):,} open deal" in late.answer
    everything = await run(sandbox, "How many open deals do we have?")
    assert f"{len(overdue)} of them {'is' if len(overdue) == 1 else 'are'} overdue" in everything.answer
    biggest_late = max(overdue, key=lambda d: d.amount_usd)
    assert f"{biggest_late.close_date} (**overdue**)" in everything.answer


async def test_a_filter_the_plan_cannot_apply_is_refused_not_ignored(sandbox: Sandbox) -> None:
    for task in ("How many deals are owned by Sam Whitfield?", "How many customers do we have in Narnia?"):
        result = await run(sandbox, task)
        assert "no model was used" in result.answer, task
        assert "We have" not in result.answer, task


async def test_customers_are_counted_in_the_industry_asked_for(sandbox: Sandbox) -> None:
    world = sandbox.world
    won = {d.company_id for d in world.deals if d.stage == "closedwon"}
    industry = Counter(world.company(c).industry for c in won).most_common(1)[0][0]
    in_industry = sum(1 for c in won if world.company(c).industry == industry)
    assert in_industry < len(won)
    result = await run(sandbox, f"How many customers do we have in {industry}?")
    assert f"**{in_industry:,} customer" in result.answer
    assert f"in the {industry} industry" in result.answer


async def test_a_pricing_comparison_compares_the_companies_not_model_prices(sandbox: Sandbox) -> None:
    a, b = sandbox.world.companies[10:12]
    result = await run(sandbox, f"compare pricing of {a.domain} and {b.domain}")
    assert result.triage["workflow"] == "competitive_analysis"
    assert not [e for e in result.evidence if e["tool"] == "models.list_models"]
    for company in (a, b):
        for plan in company.plans:
            assert f"{plan.name} ${plan.price_per_month_usd:,}/mo" in result.answer
    table = [line for line in result.answer.splitlines() if line.startswith(f"| {a.name}")]
    assert table
    assert not re.search(r"\| \d{4,} \|", table[0])  # thousands separators, as in the rest of the report


async def test_deal_questions_count_the_stage_and_close_date_window_asked(sandbox: Sandbox) -> None:
    world = sandbox.world
    as_of = world.as_of_date
    won, lost = ([d for d in world.deals if d.stage == s] for s in ("closedwon", "closedlost"))
    last_year = [d for d in won if d.close_date.startswith(str(as_of.year - 1))]
    this_year = [d for d in won if d.close_date.startswith(str(as_of.year))]
    assert last_year
    assert this_year
    assert lost
    cases = [
        (f"How many deals did we win in {as_of.year - 1}?", last_year, "won deal",
         f"dealstage EQ closedwon, closedate GTE {as_of.year - 1}-01-01, closedate LTE {as_of.year - 1}-12-31"),
        ("How many deals did we win this year?", this_year, "won deal", f"closedate GTE {as_of.year}-01-01"),
        ("How many closed lost deals are there?", lost, "lost deal", "dealstage EQ closedlost`"),
        ("How many closed deals do we have?", won + lost, "closed deal", "dealstage IN ['closedwon', 'closedlost']"),
    ]  # fmt: skip
    for task, deals, noun, applied in cases:
        answer = (await run(sandbox, task)).answer
        assert f"We have **{len(deals):,} {noun}" in answer, (task, answer)
        assert f"worth **${sum(d.amount_usd for d in deals):,.0f}** in total" in answer, task
        assert "Filter applied: `" in answer
        assert applied in answer, (task, answer)
        assert "open deal" not in answer
        assert "overdue" not in answer, task


async def test_why_deals_were_lost_comes_from_the_crms_reasons(sandbox: Sandbox) -> None:
    lost = [d for d in sandbox.world.deals if d.stage == "closedlost"]
    reasons = Counter(d.lost_reason for d in lost if d.lost_reason)
    assert reasons
    result = await run(sandbox, "How many deals did we lose and why?")
    assert f"We have **{len(lost):,} lost deal" in result.answer
    for reason, count in reasons.items():
        assert f"- {reason}: {count}" in result.answer
    assert "closed_lost_reason" in result.answer


async def test_the_deals_of_a_named_company_are_its_own(sandbox: Sandbox) -> None:
    world = sandbox.world
    open_by = Counter(d.company_id for d in world.deals if not d.stage.startswith("closed"))
    company = world.company(next(c for c, n in open_by.most_common() if c in world.crm_company_ids))
    mine = [d for d in world.deals if d.company_id == company.id and not d.stage.startswith("closed")]
    result = await run(sandbox, f"list the open deals for {company.name.lower()}")
    assert f"We have **{len(mine):,} open deal{'s' if len(mine) != 1 else ''}** with {company.name}" in result.answer
    for deal in mine:
        assert f"| {deal.name} | {deal.stage} |" in result.answer
    assert "hubspot-list-associations" in {e["tool"].split(".", 1)[1] for e in result.evidence}
    others = [line for line in result.answer.splitlines() if line.startswith("| ") and " - " in line]
    assert len(others) == len(mine)  # no other company's deal


async def test_a_companys_owner_and_contacts_come_from_the_crm(sandbox: Sandbox) -> None:
    world = sandbox.world
    company_id = next(c for c in world.crm_company_ids if sum(p.company_id == c for p in world.people
                                                              if p.id in world.crm_contact_ids) >= 2)  # fmt: skip
    company = world.company(company_id)
    deals = [d for d in world.deals if d.company_id == company_id]
    owner = deals[0].owner if deals else SALES_REPS[int(company_id[1:]) % len(SALES_REPS)]
    result = await run(sandbox, f"Who owns the {company.name} account in the CRM?")
    assert f"account owner in the CRM is **{owner}**" in result.answer, result.answer
    contacts = [p for p in world.people if p.company_id == company_id and p.id in world.crm_contact_ids]
    counted = await run(sandbox, f"How many contacts do we have at {company.name}?")
    assert f"We have **{len(contacts)} contacts** at {company.name}" in counted.answer, counted.answer
    for person in contacts:
        assert f"email {person.email}" in counted.answer


async def test_customers_are_listed_with_the_filter_asked(sandbox: Sandbox) -> None:
    world = sandbox.world
    won = {d.company_id for d in world.deals if d.stage == "closedwon"}
    country = Counter(world.company(c).hq_country for c in won).most_common(2)[1][0]
    there = sorted(world.company(c).name for c in won if world.company(c).hq_country == country)
    result = await run(sandbox, f"list our customers in {country.lower()}")
    assert f"**{len(there):,} customer" in result.answer
    assert f"headquartered in {country}" in result.answer
    listed = [line.split(" | ")[0].lstrip("| ") for line in result.answer.splitlines() if line.endswith(f"{country} |")]
    assert listed == there


async def test_people_who_share_a_name_are_all_listed_with_their_companies(sandbox: Sandbox) -> None:
    world = sandbox.world
    in_crm = {p.name for p in world.people if p.id in world.crm_contact_ids}
    shared = Counter(p.name for p in world.people)
    for known in (True, False):  # two CRM contacts of one name; two people only the enrichment source knows
        name = next(n for n, count in shared.items() if count == 2 and (n in in_crm) is known
                    and all(p.id in world.crm_contact_ids for p in world.people if p.name == n) is known)  # fmt: skip
        result = await run(sandbox, f"What's {name}'s email?")
        for person in (p for p in world.people if p.name == name):
            line = next(line for line in result.answer.splitlines() if f"email {person.email}" in line)
            assert world.company(person.company_id).name in line, (name, result.answer)


def test_hints_name_the_right_tool_with_the_tasks_own_arguments() -> None:
    revenue = tool_hint("what is the total revenue of companies in the warehouse by industry")
    assert "execute_query" in revenue
    assert "FROM accounts GROUP BY industry" in revenue
    assert "revenue_by_quarter" not in revenue
    owner = tool_hint("Which rep is the account owner of Briium Works?")
    assert '"objectType": "companies", "query": "Briium Works"' in owner
    contacts = tool_hint("Which contacts at Briium Works are decision makers?")
    assert '"value": "Briium Works"' in contacts
    assert '"objectType": "contacts"' in contacts
    lost = tool_hint("Which deals did we lose to a competitor in 2025, and should we retry them?")
    assert '"value": "closedlost"' in lost
    assert '"value": "2025-01-01"' in lost
    page = tool_hint("click the signup button on copealo.example")
    assert '"url": "https://copealo.example/"' in page
    for task in ("Who owns the deal?", "How many contacts do we have?", "Summarize the home page", "enrich Acme"):
        assert "<" not in tool_hint(task), task
