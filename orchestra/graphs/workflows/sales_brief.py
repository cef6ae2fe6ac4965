"""The sales brief, written from gathered facts: who they are, who to talk to, where we stand, what to do next.

Pure functions of the facts, so the brief is the same for the same tool results, and every sentence cites them.
"""

from __future__ import annotations

from typing import Any

from orchestra.graphs.evidence import cite, counted

OPEN_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
]
_STAGE_NAMES = {
    "appointmentscheduled": "appointment scheduled", "qualifiedtobuy": "qualified to buy",
    "presentationscheduled": "presentation scheduled", "decisionmakerboughtin": "decision maker bought in",
    "contractsent": "contract sent", "closedwon": "closed won", "closedlost": "closed lost",
}  # fmt: skip


def _money(value: Any) -> str:
    try:
        return f"${float(value):,.0f}"
    except (TypeError, ValueError):
        return "an unknown amount"


def who_they_are(org: dict[str, Any], evidence: str) -> list[str]:
    funding = org.get("funding") or {}
    location = org.get("location") or {}
    lines = [
        f"- {org.get('description') or org['name']}{cite(evidence)}",
        f"- {org.get('industry')} ({org.get('sub_industry') or 'segment unknown'}), headquartered in "
        f"{location.get('city')}, {location.get('country')}; founded {org.get('founded_year')}; "
        f"{counted(org.get('employee_count'), 'employee')}; revenue band {org.get('revenue_band') or 'unknown'}"
        f"{cite(evidence)}",
    ]
    if funding.get("total_usd"):
        lines.append(f"- Raised {_money(funding['total_usd'])} in total; latest round {funding.get('latest_round')}"
                     f"{cite(evidence)}")  # fmt: skip
    if org.get("technologies"):
        lines.append(f"- Runs on {', '.join(org['technologies'][:8])}{cite(evidence)}")
    return lines


def website(site: dict[str, Any]) -> list[str]:
    lines = []
    if site.get("title"):
        lines.append(f'- Their home page leads with "{site["title"]}"{cite(site.get("home_evidence"))}')
    if site.get("plans"):
        plans = ", ".join(f"{p['name']} {p['price']}" for p in site["plans"])
        lines.append(f"- Pricing page lists {plans}{cite(site.get('plans_evidence'))}")
    return lines or ["- The website could not be read (see the evidence table)."]


def people(leaders: list[dict[str, Any]], evidence: str | None, crm: dict[str, Any]) -> list[str]:
    known = {c.get("email") for c in crm.get("contacts", [])}
    lines = []
    for person in leaders[:6]:
        in_crm = " (already a contact in our CRM)" if person.get("email") in known else ""
        lines.append(
            f"- {person['name']}, {person['title']} <{person.get('email') or 'no email'}>{in_crm}{cite(evidence)}"
        )
    return lines or ["- No senior people found."]


def where_we_stand(crm: dict[str, Any]) -> list[str]:
    if not crm.get("known"):
        return [f"- They are not in our CRM yet{cite(crm.get('evidence'))}."]
    company = crm["company"]
    lines = [f"- CRM lifecycle stage: {company.get('lifecyclestage')}; account owner: {crm.get('owner', 'unassigned')}"
             f"{cite(crm.get('evidence'), crm.get('owner_evidence'))}"]  # fmt: skip
    for deal in sorted(crm.get("deals", []), key=lambda d: d.get("closedate", "")):
        stage = _STAGE_NAMES.get(deal.get("dealstage", ""), deal.get("dealstage"))
        reason = f" (lost: {deal['closed_lost_reason']})" if deal.get("closed_lost_reason") else ""
        if _overdue(deal, crm):
            reason = f": **overdue since {deal.get('closedate')}** (the CRM is current to {crm['as_of']})"
            citation = cite(crm.get("deals_evidence"), crm.get("as_of_evidence"))
        else:
            citation = cite(crm.get("deals_evidence"))
        lines.append(f"- Deal \"{deal.get('dealname')}\": {stage}, {_money(deal.get('amount'))}, close date "
                     f"{deal.get('closedate')}{reason}{citation}")  # fmt: skip
    activities = [(a.get("hs_timestamp", ""), kind, a) for kind in ("notes", "calls", "meetings", "emails")
                  for a in crm.get(kind, [])]  # fmt: skip
    for when, kind, activity in sorted(activities, key=lambda item: item[0], reverse=True)[:3]:
        body = next((v for k, v in activity.items() if k.endswith(("_body", "_text"))), "")
        lines.append(f"- Last {kind[:-1]} ({when[:10]}): {body}{cite(crm.get(f'{kind}_evidence'))}")
    return lines


def _overdue(deal: dict[str, Any], crm: dict[str, Any]) -> bool:
    """An open deal whose expected close date passed before the date the CRM is current to."""
    as_of = crm.get("as_of")
    return bool(as_of and deal.get("dealstage") in OPEN_STAGES and str(deal.get("closedate", "")) < as_of)


def next_step(crm: dict[str, Any], leaders: list[dict[str, Any]]) -> str:
    deals = crm.get("deals", [])
    open_deals = sorted((d for d in deals if d.get("dealstage") in OPEN_STAGES), key=lambda d: d.get("closedate", ""))
    champion = leaders[0]["name"] if leaders else "their leadership"
    current = [d for d in open_deals if not _overdue(d, crm)]
    if open_deals and not current:  # every open deal slipped: that is the finding, not a plan to close on time
        deal = open_deals[-1]
        return (
            f'"{deal["dealname"]}" is overdue since {deal.get("closedate")} (expected close passed; the CRM is '
            f"current to {crm['as_of']}): re-qualify it with {champion} and agree a new timeline"
            f"{cite(crm.get('deals_evidence'), crm.get('as_of_evidence'))}."
        )
    if current:
        deal = current[0]
        stage = _STAGE_NAMES.get(deal["dealstage"], deal["dealstage"])
        amount, close = _money(deal.get("amount")), deal.get("closedate")
        return (
            f'Advance "{deal["dealname"]}" ({stage}, {amount}, closing {close}): confirm the decision process '
            f"and timeline with {champion}{cite(crm.get('deals_evidence'))}."
        )
    if any(d.get("dealstage") == "closedwon" for d in deals):
        return f"They are a customer: open an expansion conversation with {champion}{cite(crm.get('deals_evidence'))}."
    lost = [d for d in deals if d.get("dealstage") == "closedlost"]
    if lost:
        return (f"Re-engage: the last deal was lost ({lost[-1].get('closed_lost_reason')}); lead with what changed "
                f"since{cite(crm.get('deals_evidence'))}.")  # fmt: skip
    return f"Open the relationship: book a discovery call with {champion} and add them to the CRM."


def social_lines(social: dict[str, Any]) -> list[str]:
    lines = []
    for profile in social.get("profiles", []):
        growth = profile["growth_pct_12m"]
        lines.append(
            f"- {profile['platform']}: {profile['followers']:,} followers, {growth:+}% over the last year"
            f"{cite(social.get('profiles_evidence'))}"
        )
    for platform in social.get("engagement", []):
        if platform.get("posts"):
            rate = platform["engagement_rate_pct"]
            lines.append(
                f"- {platform['platform']}: {platform['posts']} posts in 90 days, engagement {rate}% per post"
                f"{cite(social.get('engagement_evidence'))}"
            )
    return lines or ["- No social profiles found."]
