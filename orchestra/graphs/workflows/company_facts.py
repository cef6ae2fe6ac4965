"""The facts about one company that research workflows gather, each with the evidence id it came from.

Every function takes a `Step` (which records the tool calls) and returns plain data: `(value, evidence id)`
pairs, so a report can print a fact and cite it in the same breath.
"""

from __future__ import annotations

import re
from typing import Any

from orchestra.graphs import pages
from orchestra.graphs.evidence import Step

_DOMAIN = re.compile(r"\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:example|com|io|ai|co|net|org|dev|app))\b", re.I)
_NAME = re.compile(r"\b([A-Z][a-zA-Z0-9&]+(?: [A-Z][a-zA-Z0-9&]+){0,3})\b")
_PRICE = re.compile(r"\$[\d,]+(?:\.\d+)?\s*/\s*mo")
_SKIP_NAMES = {
    "Research",
    "Compare",
    "Prepare",
    "Brief",
    "Find",
    "Who",
    "What",
    "Tell",
    "Give",
    "Our",
    "We",
    "The",
    "Please",
}


def company_mentions(task: str) -> list[str]:
    """Domains first, then capitalized names, as the user wrote them."""
    domains = [m.group(1).lower() for m in _DOMAIN.finditer(task)]
    names = []
    for match in _NAME.finditer(task):
        words = match.group(1).split()
        while words and words[0] in _SKIP_NAMES:  # "Research Copealo Works" -> "Copealo Works"
            words.pop(0)
        if words:
            names.append(" ".join(words))
    return domains + [n for n in names if n.lower() not in {d.split(".")[0] for d in domains}]


async def browse_site(step: Step, url: str) -> dict[str, Any]:
    """Open the site in the thread's browser, click through to pricing, read the plans; then the team page."""
    site: dict[str, Any] = {"url": url}
    if await step.call("web", "browser", "browser_navigate", {"url": url}) is None:
        return site
    home = await step.call("web", "browser", "browser_snapshot", {})
    if home is None:
        return site
    snapshot, site["home_evidence"] = str(home[0]), home[1]
    site["title"] = next(iter(pages.headings(snapshot, "1")), "")
    pricing_ref = pages.link_ref(snapshot, "Pricing")
    if pricing_ref and await step.call(
        "web", "browser", "browser_click", {"element": "Pricing link", "target": pricing_ref}
    ):
        pricing = await step.call("web", "browser", "browser_snapshot", {})
        if pricing is not None:
            names = pages.headings(str(pricing[0]), "2")
            prices = _PRICE.findall(" ".join(pages.texts(str(pricing[0]))))
            site["plans"] = [{"name": n, "price": p} for n, p in zip(names, prices, strict=False)]
            site["plans_evidence"] = pricing[1]
    return site


async def leaders(step: Step, domain: str) -> tuple[list[dict[str, Any]], str | None]:
    found = await step.call(
        "bi", "enrichment", "search_people",
        {"organization_domain": domain, "seniorities": ["c_suite", "vp", "director"], "limit": 8},
    )  # fmt: skip
    return (found[0].get("people", []), found[1]) if found and isinstance(found[0], dict) else ([], None)


async def social(step: Step, domain: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    profiles = await step.call("bi", "social", "get_company_social_profiles", {"company": domain})
    if profiles and isinstance(profiles[0], dict):
        facts["profiles"], facts["profiles_evidence"] = profiles[0].get("profiles", []), profiles[1]
    engagement = await step.call("bi", "social", "get_engagement_summary", {"company": domain, "days": 90})
    if engagement and isinstance(engagement[0], dict):
        facts["engagement"], facts["engagement_evidence"] = engagement[0].get("platforms", []), engagement[1]
    return facts


async def crm_history(step: Step, domain: str) -> dict[str, Any]:
    """Our CRM's record: lifecycle stage, owner, deals, contacts, recent activity."""
    match_domain = {"propertyName": "domain", "operator": "EQ", "value": domain}
    search = {"objectType": "companies", "filterGroups": [{"filters": [match_domain]}]}
    found = await step.call("bi", "crm", "hubspot-search-objects", search)
    if found is None or not found[0].get("results"):
        return {"known": False, "evidence": found[1] if found else None}
    company = found[0]["results"][0]
    facts: dict[str, Any] = {"known": True, "company": company["properties"], "evidence": found[1]}
    account = await step.call("bi", "crm", "hubspot-get-user-details", {}, quiet=True)
    if account and isinstance(account[0], dict) and account[0].get("asOf"):
        # Close dates are judged against the date the CRM's data is current to, not this machine's clock.
        facts["as_of"], facts["as_of_evidence"] = str(account[0]["asOf"])[:10], account[1]
    for kind in ("deals", "contacts", "notes", "calls", "meetings", "emails"):
        linked = await step.call(
            "bi", "crm", "hubspot-list-associations",
            {"objectType": "companies", "objectId": company["id"], "toObjectType": kind},
        )  # fmt: skip
        if linked:
            facts[kind] = [r["properties"] for r in linked[0].get("results", [])]
            facts[f"{kind}_evidence"] = linked[1]
    owner_id = company["properties"].get("hubspot_owner_id")
    if owner_id:
        read = {"objectType": "owners", "inputs": [{"id": owner_id}]}
        owner = await step.call("bi", "crm", "hubspot-batch-read-objects", read)
        if owner and owner[0].get("results"):
            props = owner[0]["results"][0]["properties"]
            facts["owner"], facts["owner_evidence"] = f"{props['firstname']} {props['lastname']}", owner[1]
    return facts
