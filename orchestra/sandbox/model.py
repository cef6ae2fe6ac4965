"""The demo world's records: what the generator writes and every sandbox server reads."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The world's default "now" (`sandbox.as_of`). Every date is generated relative to the as-of date a build is given,
# so a world built with another one differs in its dates only.
DEFAULT_AS_OF = dt.date(2026, 11, 1)
DEAL_STAGES = [
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent",
    "closedwon", "closedlost",
]  # fmt: skip
OPEN_STAGES = DEAL_STAGES[:5]


@dataclass
class FundingRound:
    round: str
    amount_usd: int
    date: str
    lead_investor: str


@dataclass
class Plan:
    name: str
    price_per_month_usd: int
    features: list[str]


@dataclass
class Person:
    id: str
    company_id: str
    first_name: str
    last_name: str
    title: str
    seniority: str
    department: str
    email: str
    linkedin_url: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Company:
    id: str
    name: str
    domain: str
    industry: str
    sub_industry: str
    description: str
    tagline: str
    employees: int
    size_band: str
    hq_city: str
    hq_country: str
    founded_year: int
    revenue_usd: int
    revenue_band: str
    funding_stage: str  # Bootstrapped, Seed, Series A, Series B, Series C or Public (see firmographics.STAGES)
    tech_stack: list[str]
    funding_rounds: list[FundingRound]
    plans: list[Plan]
    competitor_ids: list[str] = field(default_factory=list)

    @property
    def total_funding_usd(self) -> int:
        return sum(r.amount_usd for r in self.funding_rounds)


@dataclass
class Deal:
    id: str
    company_id: str
    name: str
    stage: str
    amount_usd: int
    owner: str
    created_date: str
    close_date: str
    lost_reason: str | None = None

    def is_overdue(self, as_of: dt.date) -> bool:
        """Still open although its expected close date has passed."""
        return self.stage in OPEN_STAGES and self.close_date < as_of.isoformat()


@dataclass
class Activity:
    id: str
    company_id: str
    contact_id: str | None
    kind: str  # call, email, meeting, note
    date: str
    owner: str
    summary: str


@dataclass
class SocialProfile:
    company_id: str
    platform: str
    handle: str
    url: str
    followers: int
    followers_by_month: list[int]  # oldest first, the last 12 months


@dataclass
class SocialPost:
    id: str
    company_id: str
    platform: str
    posted_at: str
    text: str
    likes: int
    comments: int
    shares: int


@dataclass
class World:
    seed: int
    as_of: str  # ISO date: the world's today; every date in it is relative to this one
    companies: list[Company]
    people: list[Person]
    crm_company_ids: list[str]  # the companies our CRM knows
    crm_contact_ids: list[str]
    deals: list[Deal]
    activities: list[Activity]
    social_profiles: list[SocialProfile]
    social_posts: list[SocialPost]

    @property
    def as_of_date(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of)

    def company(self, company_id: str) -> Company:
        return self._companies[company_id]

    def people_at(self, company_id: str) -> list[Person]:
        return [p for p in self.people if p.company_id == company_id]

    @property
    def _companies(self) -> dict[str, Company]:
        cache = self.__dict__.get("_company_index")
        if cache is None:
            cache = self.__dict__["_company_index"] = {c.id: c for c in self.companies}
        return cache

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: Path) -> World:
        data = json.loads(path.read_text(encoding="utf-8"))
        for company in data["companies"]:
            company["funding_rounds"] = [FundingRound(**r) for r in company["funding_rounds"]]
            company["plans"] = [Plan(**p) for p in company["plans"]]
        return cls(
            seed=data["seed"],
            as_of=data["as_of"],
            companies=[Company(**c) for c in data["companies"]],
            people=[Person(**p) for p in data["people"]],
            crm_company_ids=data["crm_company_ids"],
            crm_contact_ids=data["crm_contact_ids"],
            deals=[Deal(**d) for d in data["deals"]],
            activities=[Activity(**a) for a in data["activities"]],
            social_profiles=[SocialProfile(**s) for s in data["social_profiles"]],
            social_posts=[SocialPost(**s) for s in data["social_posts"]],
        )
