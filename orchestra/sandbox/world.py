"""The demo world: about 200 fictional companies and everything the sandbox servers know about them.

Generation is deterministic: the same seed and as-of date give the same world, byte for byte, so tests and
evaluation suites can check reports against it. Everything is derived from one `random.Random(seed)` in a fixed
order, plus streams of their own (named after the seed and the company) for what was added later, so that adding
never renames the companies. The world is drawn as of `DEFAULT_AS_OF` and then moved to the as-of date it is built
for, every date by the same number of days.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from orchestra.sandbox import names
from orchestra.sandbox.activity import crm_history, social_presence
from orchestra.sandbox.firmographics import draw_firmographics
from orchestra.sandbox.model import DEFAULT_AS_OF, Company, Person, Plan, World


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _size_band(employees: int) -> str:
    for limit, band in ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000"), (5000, "1001-5000")):
        if employees <= limit:
            return band
    return "5001+"


def _revenue_band(revenue: int) -> str:
    bands = ((1_000_000, "<$1M"), (10_000_000, "$1M-$10M"), (50_000_000, "$10M-$50M"), (250_000_000, "$50M-$250M"))
    for limit, band in bands:
        if revenue < limit:
            return band
    return "$250M+"


def _company(rng: random.Random, index: int, taken: set[str], seed: int, as_of: dt.date) -> Company:
    while True:
        word = names.invented_word(rng)
        suffix = rng.choice(names.COMPANY_SUFFIXES)
        if word not in taken:
            taken.add(word)
            break
    industry = rng.choice(sorted(names.INDUSTRIES))
    sub_industry = rng.choice(names.INDUSTRIES[industry])
    name = names.company_name(word, suffix, industry)
    founded = rng.randint(as_of.year - 22, as_of.year - 3)
    firm = draw_firmographics(rng, random.Random(f"{seed}-c{index:03d}-firmographics"), founded, as_of)
    city, country = rng.choice(names.CITIES)
    base_price = rng.choice((19, 29, 39, 49, 79, 99))
    plans = [
        Plan("Starter", base_price, ["Up to 5 users", "Email support", "Core dashboards"]),
        Plan("Growth", base_price * 3, ["Up to 50 users", "Priority support", "API access", "SSO"]),
        Plan("Enterprise", base_price * 10, ["Unlimited users", "Dedicated manager", "Audit logs", "SLA 99.9%"]),
    ]
    noun = sub_industry.lower()
    return Company(
        id=f"c{index:03d}",
        name=name,
        domain=f"{slug(word)}.example",
        industry=industry,
        sub_industry=sub_industry,
        description=f"{name} builds {noun} software for {rng.choice(('mid-market', 'enterprise', 'startup'))} "
        f"teams in {rng.choice(('Europe', 'North America', 'Asia-Pacific', 'Latin America', 'Africa'))}.",
        tagline=f"{sub_industry} that {rng.choice(('just works', 'scales with you', 'teams love', 'pays for itself'))}",
        employees=firm.employees,
        size_band=_size_band(firm.employees),
        hq_city=city,
        hq_country=country,
        founded_year=founded,
        revenue_usd=firm.revenue_usd,
        revenue_band=_revenue_band(firm.revenue_usd),
        funding_stage=firm.stage,
        tech_stack=sorted(rng.sample(names.TECHNOLOGIES, rng.randint(3, 7))),
        funding_rounds=firm.rounds,
        plans=plans,
    )


# The smallest team at which a company has someone with the title: no CFO at a five-person startup.
_TEAM_SIZE_FOR_TITLE = {
    "Chief Executive Officer": 1, "Chief Technology Officer": 2, "Chief Financial Officer": 40,
    "VP of Engineering": 30, "VP of Sales": 25, "VP of Marketing": 40, "Head of Data": 60,
    "Director of Operations": 80, "Director of IT": 150, "Engineering Manager": 20, "Sales Manager": 30,
    "Product Manager": 8, "Senior Software Engineer": 3, "Data Engineer": 12, "Account Executive": 5,
    "Marketing Specialist": 6,
}  # fmt: skip


def _people(rng: random.Random, company: Company, start: int) -> list[Person]:
    """The people a data source knows at the company: the CEO (and CTO), then more the bigger the team, never more
    than work there, with titles a team of that size has, and no two with the same name."""
    fitting = [t for t in names.TITLES if company.employees >= _TEAM_SIZE_FOR_TITLE[t[0]]]
    founders, others = fitting[:2], fitting[2:]  # TITLES starts with the CEO and the CTO
    count = min(len(fitting), company.employees, company.employees // 40 + rng.randint(3, 6))
    chosen = set(founders + rng.sample(others, max(0, count - len(founders))))
    people: list[Person] = []
    taken: set[tuple[str, str]] = set()
    for title, seniority, department in (t for t in names.TITLES if t in chosen):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        while (first, last) in taken:
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        taken.add((first, last))
        number = start + len(people)
        people.append(
            Person(
                id=f"p{number:05d}", company_id=company.id, first_name=first, last_name=last, title=title,
                seniority=seniority, department=department, email=f"{first}.{last}@{company.domain}".lower(),
                linkedin_url=f"https://www.linkedin.example/in/{slug(first + '-' + last)}-{number}",
            )
        )  # fmt: skip
    return people


def _competitors(rng: random.Random, company: Company, companies: list[Company]) -> list[str]:
    """The two to four rivals a company names on its comparison page: the biggest of its segment, then of its
    industry (companies compare themselves with the names buyers already know)."""
    peers = [c for c in companies if c.industry == company.industry and c.id != company.id]
    ranked = sorted(peers, key=lambda c: (c.sub_industry != company.sub_industry, -c.revenue_usd, c.id))
    wanted = min(len(ranked), rng.randint(2, 4))
    return sorted(c.id for c in rng.sample(ranked[: wanted + 2], wanted))


def generate_world(seed: int = 42, companies: int = 200, as_of: dt.date = DEFAULT_AS_OF) -> World:
    """The whole world for `seed`, as it stands on `as_of`: generated as of the default date, then moved, so that
    another as-of date changes the dates and nothing else (names, sizes, stages, amounts stay)."""
    rng = random.Random(seed)
    drawn_as_of = DEFAULT_AS_OF
    taken: set[str] = set()
    all_companies = [_company(rng, i + 1, taken, seed, drawn_as_of) for i in range(companies)]
    for company in all_companies:
        company.competitor_ids = _competitors(rng, company, all_companies)
    people: list[Person] = []
    for company in all_companies:
        people.extend(_people(rng, company, len(people) + 1))
    crm = crm_history(rng, all_companies, people, drawn_as_of)
    profiles, posts = social_presence(rng, all_companies, drawn_as_of)
    world = World(seed, drawn_as_of.isoformat(), all_companies, people, *crm, profiles, posts)
    return _moved(world, as_of - drawn_as_of)


def _moved(world: World, shift: dt.timedelta) -> World:
    """`world` with every date `shift` later (founding years too, by where the middle of the year lands)."""

    def move(day: str) -> str:
        return (dt.date.fromisoformat(day) + shift).isoformat()

    world.as_of = move(world.as_of)
    for company in world.companies:
        company.founded_year = (dt.date(company.founded_year, 7, 1) + shift).year
        for funding in company.funding_rounds:
            funding.date = move(funding.date)
    for deal in world.deals:
        deal.created_date, deal.close_date = move(deal.created_date), move(deal.close_date)
    for activity in world.activities:
        activity.date = move(activity.date)
    for post in world.social_posts:
        post.posted_at = move(post.posted_at)
    return world
