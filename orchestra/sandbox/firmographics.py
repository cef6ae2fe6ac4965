"""A company's size, revenue and funding, drawn together so they fit the stage the company has reached.

A company's funding history decides its stage; the stage bounds its headcount, revenue and money raised (`STAGES`,
checked for every company by the tests). Within those bounds, one draw places the company from small to large and
revenue follows headcount, so a bigger team of a stage also earns more.

The draws that decide names, cities and prices downstream come from the world's shared stream, so this takes
exactly as many draws from it as the world always did (a normal variate, a uniform, the funding loop): seed 42's
companies keep their names. What is new (bootstrapped and public companies, dates moved before the as-of date)
draws from the company's own stream.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from statistics import NormalDist

from orchestra.sandbox import names
from orchestra.sandbox.model import FundingRound


@dataclass(frozen=True)
class Stage:
    """What companies of one funding stage look like: inclusive ranges of headcount, revenue and money raised."""

    name: str
    employees: tuple[int, int]
    revenue_usd: tuple[int, int]
    raised_usd: tuple[int, int]


STAGES = {
    s.name: s
    for s in (
        Stage("Bootstrapped", (2, 120), (150_000, 18_000_000), (0, 0)),
        Stage("Seed", (2, 25), (50_000, 2_000_000), (500_000, 4_000_000)),
        Stage("Series A", (15, 80), (1_000_000, 10_000_000), (5_000_000, 25_000_000)),
        Stage("Series B", (50, 250), (5_000_000, 40_000_000), (20_000_000, 80_000_000)),
        Stage("Series C", (150, 1_000), (20_000_000, 200_000_000), (50_000_000, 300_000_000)),
        Stage("Public", (800, 5_000), (150_000_000, 1_000_000_000), (150_000_000, 700_000_000)),
    )
}
# Round, and the range of its amount in millions. The ranges keep the widths they always had (the shared stream's
# draws depend on them); Series B starts at 16 so that Seed + A + B stays within the Series B stage's $80M.
_ROUNDS = (("Seed", 1, 4), ("Series A", 5, 20), ("Series B", 16, 56), ("Series C", 50, 150))
_BOOTSTRAPPED_SHARE = 0.12  # of all companies: never raised, whatever the funding loop drew
_PUBLIC_SHARE = 0.5  # of the Series C companies at least 12 years old with a C round a year or more ago
_REVENUE_FOLLOWS_HEADCOUNT = 0.75  # weight of the size percentile in the revenue percentile


@dataclass
class Firmographics:
    employees: int
    revenue_usd: int
    stage: str
    rounds: list[FundingRound]


def draw_firmographics(rng: random.Random, own: random.Random, founded: int, as_of: dt.date) -> Firmographics:
    """Headcount, revenue, stage and funding of a company founded in `founded`, as of `as_of`.

    `rng` is the world's shared stream (fixed draws, see the module); `own` is this company's stream."""
    size = NormalDist().cdf(rng.normalvariate(0, 1))  # where the company sits within its stage, 0 small to 1 large
    productivity = rng.random()
    rounds = _funding_history(rng, own, founded, as_of)
    stage = rounds[-1].round if rounds else "Bootstrapped"
    if own.random() < _BOOTSTRAPPED_SHARE:
        rounds, stage = [], "Bootstrapped"
    elif stage == "Series C" and founded <= as_of.year - 12:
        ipo = _initial_public_offering(own, rounds[-1], as_of)
        if ipo is not None:
            rounds, stage = [*rounds, ipo], "Public"
    profile = STAGES[stage]
    employees = round(_within(profile.employees, size))
    revenue_share = _REVENUE_FOLLOWS_HEADCOUNT * size + (1 - _REVENUE_FOLLOWS_HEADCOUNT) * productivity
    revenue = round(_within(profile.revenue_usd, revenue_share), -4)
    return Firmographics(employees, int(revenue), stage, rounds)


def _within(bounds: tuple[int, int], share: float) -> float:
    """The point `share` (0 to 1) of the way from low to high on a log scale: sizes and revenues spread that way."""
    low, high = bounds
    return low * (high / low) ** min(1.0, max(0.0, share))


def _funding_history(rng: random.Random, own: random.Random, founded: int, as_of: dt.date) -> list[FundingRound]:
    """Seed, then each next round one to three years later, each less likely than the one before."""
    rounds: list[FundingRound] = []
    year = founded
    for label, low, high in _ROUNDS:
        year += rng.randint(1, 3)
        if year > as_of.year or rng.random() < 0.25 * len(rounds):
            break
        amount = rng.randint(low, high) * 1_000_000
        drawn = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        previous = dt.date.fromisoformat(rounds[-1].date) if rounds else None
        date = _round_date(own, drawn, previous, as_of)
        rounds.append(FundingRound(label, amount, date.isoformat(), rng.choice(names.INVESTORS)))
    return rounds


def _round_date(own: random.Random, drawn: dt.date, previous: dt.date | None, as_of: dt.date) -> dt.date:
    """The drawn date, at least nine months after the previous round (it stays in the drawn year) and never after
    as_of: a date drawn after as_of in the as-of year moves to a day between the previous round and as_of."""
    date = max(drawn, previous + dt.timedelta(days=270)) if previous else drawn
    if date <= as_of:
        return date
    earliest = max(dt.date(as_of.year, 1, 1), previous + dt.timedelta(days=60) if previous else dt.date.min)
    if earliest >= as_of:
        return as_of
    return earliest + dt.timedelta(days=own.randrange((as_of - earliest).days))


def _initial_public_offering(own: random.Random, last: FundingRound, as_of: dt.date) -> FundingRound | None:
    """Some mature Series C companies have listed, one to three years after the C round (never after as_of)."""
    if own.random() >= _PUBLIC_SHARE:
        return None
    date = dt.date.fromisoformat(last.date) + dt.timedelta(days=own.randint(365, 3 * 365))
    if date > as_of - dt.timedelta(days=30):
        return None
    amount = own.randint(10, 40) * 10_000_000
    return FundingRound("IPO", amount, date.isoformat(), own.choice(names.UNDERWRITERS))
