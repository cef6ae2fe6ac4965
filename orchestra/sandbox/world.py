"""The demo world: about 200 fictional companies and everything the sandbox servers know about them.

Generation is deterministic: the same seed gives the same world, byte for byte, so tests and evaluation
suites can check reports against it. Everything is derived from one `random.Random(seed)` in a fixed order.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from orchestra.sandbox import names
from orchestra.sandbox.activity import crm_history, social_presence
from orchestra.sandbox.model import TODAY, Company, FundingRound, Person, Plan, World


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


def _date(rng: random.Random, start: dt.date, end: dt.date) -> str:
    return (start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))).isoformat()


def _company(rng: random.Random, index: int, taken: set[str]) -> Company:
    while True:
        word = names.invented_word(rng)
        name = f"{word} {rng.choice(names.COMPANY_SUFFIXES)}"
        if word not in taken:
            taken.add(word)
            break
    industry = rng.choice(sorted(names.INDUSTRIES))
    sub_industry = rng.choice(names.INDUSTRIES[industry])
    founded = rng.randint(2004, 2023)
    employees = max(5, int(rng.lognormvariate(4.3, 1.1)))
    revenue = int(employees * rng.uniform(90_000, 260_000))
    rounds: list[FundingRound] = []
    year = founded
    for label, low, high in (("Seed", 1, 4), ("Series A", 5, 20), ("Series B", 20, 60), ("Series C", 50, 150)):
        year += rng.randint(1, 3)
        if year > TODAY.year or rng.random() < 0.25 * len(rounds):
            break
        amount = rng.randint(low, high) * 1_000_000
        date = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        rounds.append(FundingRound(label, amount, min(date, TODAY).isoformat(), rng.choice(names.INVESTORS)))
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
        employees=employees,
        size_band=_size_band(employees),
        hq_city=city,
        hq_country=country,
        founded_year=founded,
        revenue_usd=revenue,
        revenue_band=_revenue_band(revenue),
        tech_stack=sorted(rng.sample(names.TECHNOLOGIES, rng.randint(3, 7))),
        funding_rounds=rounds,
        plans=plans,
    )


def _people(rng: random.Random, company: Company, start: int) -> list[Person]:
    count = min(len(names.TITLES), max(4, company.employees // 40 + rng.randint(3, 6)))
    titles = names.TITLES[:4] + rng.sample(names.TITLES[4:], count - 4)
    people = []
    for offset, (title, seniority, department) in enumerate(titles):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        people.append(
            Person(
                id=f"p{start + offset:05d}", company_id=company.id, first_name=first, last_name=last, title=title,
                seniority=seniority, department=department, email=f"{first}.{last}@{company.domain}".lower(),
                linkedin_url=f"https://www.linkedin.example/in/{slug(first + '-' + last)}-{start + offset}",
            )
        )  # fmt: skip
    return people


def generate_world(seed: int = 42, companies: int = 200) -> World:
    """The whole world for `seed`."""
    rng = random.Random(seed)
    taken: set[str] = set()
    all_companies = [_company(rng, i + 1, taken) for i in range(companies)]
    for company in all_companies:
        peers = [c.id for c in all_companies if c.industry == company.industry and c.id != company.id]
        company.competitor_ids = sorted(rng.sample(peers, min(3, len(peers))))
    people: list[Person] = []
    for company in all_companies:
        people.extend(_people(rng, company, len(people) + 1))
    crm = crm_history(rng, all_companies, people)
    profiles, posts = social_presence(rng, all_companies)
    return World(seed, all_companies, people, *crm, profiles, posts)
