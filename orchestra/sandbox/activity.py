"""The CRM history and social presence of the demo world's companies."""

from __future__ import annotations

import datetime as dt
import random

from orchestra.sandbox import names
from orchestra.sandbox.model import (
    DEAL_STAGES,
    OPEN_STAGES,
    Activity,
    Company,
    Deal,
    Person,
    SocialPost,
    SocialProfile,
)

OVERDUE_SHARE = 0.12  # of open deals: still open, though the expected close date has passed (a slipped deal)
LOST_REASONS = ["Chose a competitor", "No budget this year", "Went silent", "Built it in-house", "Timing"]
_ACTIVITY_TEXT = {
    "call": ["Discovery call with {who}: pains are {pain}.", "Follow-up call with {who} about pricing."],
    "email": ["Sent {who} the security questionnaire.", "{who} asked for a case study in {industry}."],
    "meeting": ["Demo for {who} and team; strong interest in {feature}.", "Procurement review with {who}."],
    "note": ["{who} mentioned budget is approved for next quarter.", "Champion: {who}. Blocker: legal review."],
}
_PAINS = ["slow reporting", "manual data entry", "tool sprawl", "compliance audits", "onboarding time"]
_FEATURES = ["SSO", "the API", "audit logs", "custom dashboards", "the Slack integration"]
_POSTS = [
    "We just shipped {feature} for {sub}. Here is what changed and why.",
    "Hiring: we are growing the {dept} team in {city}.",
    "Customer story: how a {industry} leader cut {pain} by {pct}% with {name}.",
    "Join our webinar on {sub} trends for the year ahead.",
    "{name} is now SOC 2 Type II certified.",
]


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))


def _deal_name(rng: random.Random, company: Company, earlier: list[Deal], created: dt.date) -> str:
    """A new business deal (platform, pilot) or, once the company is a customer, an expansion or renewal; never
    the name of another deal of the company."""
    customer = any(d.stage == "closedwon" and d.close_date < created.isoformat() for d in earlier)
    kinds = ("Expansion", "Renewal") if customer else ("Platform", "Pilot")
    taken = {d.name for d in earlier}
    free = [f"{company.name} - {kind}" for kind in kinds if f"{company.name} - {kind}" not in taken]
    return rng.choice(free) if free else f"{company.name} - {rng.choice(kinds)} {len(earlier) + 1}"


def crm_history(
    rng: random.Random, companies: list[Company], people: list[Person], as_of: dt.date
) -> tuple[list[str], list[str], list[Deal], list[Activity]]:
    """Which companies and contacts our CRM knows, their deals, and the activities around them, up to `as_of`.

    Deals were created 20 to 540 days before as_of. Closed deals closed 14 days or more after creation; open deals
    are expected to close 7 to 180 days after as_of, except a few that slipped: open, with an expected close date
    5 to 75 days before as_of (and after their creation), so a report can say "overdue since"."""
    crm_companies = sorted(rng.sample([c.id for c in companies], k=int(len(companies) * 0.6)))
    by_company: dict[str, list[Person]] = {}
    for person in people:
        by_company.setdefault(person.company_id, []).append(person)
    contacts: list[str] = []
    deals: list[Deal] = []
    activities: list[Activity] = []
    index = {c.id: c for c in companies}
    for company_id in crm_companies:
        company = index[company_id]
        known = rng.sample(by_company[company_id], k=min(len(by_company[company_id]), rng.randint(2, 4)))
        contacts.extend(p.id for p in known)
        owner = rng.choice(names.SALES_REPS)
        history: list[Deal] = []
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            stage = rng.choice(DEAL_STAGES)
            created = _day(rng, as_of - dt.timedelta(days=540), as_of - dt.timedelta(days=20))
            if stage in OPEN_STAGES and rng.random() < OVERDUE_SHARE:
                close = _day(
                    rng,
                    max(created + dt.timedelta(days=14), as_of - dt.timedelta(days=75)),
                    as_of - dt.timedelta(days=4),
                )
            elif stage in OPEN_STAGES:
                close = _day(rng, as_of + dt.timedelta(days=7), as_of + dt.timedelta(days=180))
            else:
                close = _day(rng, created + dt.timedelta(days=14), as_of)
            amount = int(round(company.employees * rng.uniform(40, 160), -2)) + 5_000
            deal = Deal(
                id=f"d{len(deals) + 1:04d}", company_id=company_id,
                name=_deal_name(rng, company, history, created),
                stage=stage, amount_usd=amount, owner=owner, created_date=created.isoformat(),
                close_date=close.isoformat(), lost_reason=rng.choice(LOST_REASONS) if stage == "closedlost" else None,
            )  # fmt: skip
            deals.append(deal)
            history.append(deal)
            for _ in range(rng.randint(1, 4)):
                kind = rng.choice(sorted(_ACTIVITY_TEXT))
                who = rng.choice(known)
                text = rng.choice(_ACTIVITY_TEXT[kind]).format(
                    who=who.first_name + " " + who.last_name, pain=rng.choice(_PAINS), industry=company.industry,
                    feature=rng.choice(_FEATURES),
                )  # fmt: skip
                when = _day(rng, created, min(close, as_of))
                activities.append(
                    Activity(f"a{len(activities) + 1:05d}", company_id, who.id, kind, when.isoformat(), owner, text)
                )
    activities.sort(key=lambda a: (a.company_id, a.date, a.id))
    return crm_companies, contacts, deals, activities


def social_presence(
    rng: random.Random, companies: list[Company], as_of: dt.date
) -> tuple[list[SocialProfile], list[SocialPost]]:
    """Profiles with twelve months of follower counts up to `as_of`, and posts of the 90 days before it."""
    profiles: list[SocialProfile] = []
    posts: list[SocialPost] = []
    for company in companies:
        handle = company.domain.split(".")[0]
        platforms = ["linkedin", "x"] + (["youtube"] if rng.random() < 0.4 else [])
        for platform in platforms:
            followers = int(company.employees * rng.uniform(8, 60)) + rng.randint(50, 500)
            growth = rng.uniform(-0.01, 0.06)
            history = [int(followers / (1 + growth) ** (11 - m)) for m in range(12)]
            url = f"https://{platform}.example/{'company/' if platform == 'linkedin' else ''}{handle}"
            profiles.append(SocialProfile(company.id, platform, handle, url, history[-1], history))
            for template in rng.sample(_POSTS, rng.randint(2, len(_POSTS))):  # one announcement of each kind
                posted = _day(rng, as_of - dt.timedelta(days=90), as_of)
                text = template.format(
                    feature=rng.choice(_FEATURES), sub=company.sub_industry.lower(), dept=rng.choice(("sales", "data")),
                    city=company.hq_city, industry=company.industry.lower(), pain=rng.choice(_PAINS),
                    pct=rng.randint(12, 60), name=company.name,
                )  # fmt: skip
                reach = history[-1] / 100
                posts.append(
                    SocialPost(
                        id=f"s{len(posts) + 1:05d}", company_id=company.id, platform=platform,
                        posted_at=posted.isoformat(), text=text, likes=int(reach * rng.uniform(0.5, 6)),
                        comments=int(reach * rng.uniform(0.05, 0.8)), shares=int(reach * rng.uniform(0.02, 0.5)),
                    )
                )  # fmt: skip
    posts.sort(key=lambda p: (p.company_id, p.posted_at, p.id))
    return profiles, posts
