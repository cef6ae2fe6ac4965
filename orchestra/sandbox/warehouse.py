"""The demo world's analytics warehouse: a DuckDB file with a description on every table and column.

The descriptions are DuckDB comments, so the warehouse MCP server's `list_tables` and `list_columns` serve them
to agents writing SQL, the way a Cortex-style semantic layer would.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb

from orchestra.core.sql import sql_literal
from orchestra.sandbox import names
from orchestra.sandbox.model import Deal, World

TABLES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "accounts": (
        "One row per company in the market, with firmographics; customers are flagged.",
        {
            "account_id": ("VARCHAR", "Company id, e.g. c042; joins opportunities and revenue_by_quarter"),
            "company_name": ("VARCHAR", "Company name"),
            "domain": ("VARCHAR", "Web domain"),
            "industry": ("VARCHAR", "Industry, e.g. Fintech"),
            "segment": ("VARCHAR", "Sub-industry segment within the industry, e.g. Payments"),
            "employees": ("INTEGER", "Employee count"),
            "size_band": ("VARCHAR", "Employee band, e.g. 51-200"),
            "hq_country": ("VARCHAR", "Country of headquarters"),
            "founded_year": ("INTEGER", "Year founded"),
            "funding_stage": ("VARCHAR", "Bootstrapped, Seed, Series A, Series B, Series C or Public"),
            "total_funding_usd": ("BIGINT", "Venture funding raised to date (and the IPO, if public), USD"),
            "estimated_revenue_usd": ("BIGINT", "Estimated annual revenue, USD"),
            "revenue_band": ("VARCHAR", "Revenue band, e.g. $10M-$50M"),
            "is_customer": ("BOOLEAN", "True when the company has at least one closed-won opportunity"),
            "owner": ("VARCHAR", "Our account owner (sales rep); NULL when not in the CRM"),
        },
    ),
    "opportunities": (
        "Sales opportunities (CRM deals) with stage, amount and dates; compare dates with snapshot.as_of.",
        {
            "opportunity_id": ("VARCHAR", "Deal id, e.g. d0007"),
            "account_id": ("VARCHAR", "Company id; joins accounts"),
            "name": ("VARCHAR", "Deal name"),
            "stage": ("VARCHAR", "Pipeline stage (HubSpot names); closedwon and closedlost are closed"),
            "amount_usd": ("INTEGER", "Deal amount, USD"),
            "created_date": ("DATE", "When the deal was created"),
            "close_date": ("DATE", "Actual (closed) or expected (open) close date"),
            "owner": ("VARCHAR", "Sales rep who owns the deal"),
            "is_closed": ("BOOLEAN", "True for closedwon and closedlost"),
            "is_won": ("BOOLEAN", "True for closedwon"),
            "is_overdue": ("BOOLEAN", "True when still open although close_date is before snapshot.as_of (slipped)"),
        },
    ),
    "revenue_by_quarter": (
        "Recognized revenue from each customer account per calendar quarter. Complete quarters only: the last "
        "eight before snapshot.as_of, from the quarter the account's first deal was won.",
        {
            "account_id": ("VARCHAR", "Customer company id; joins accounts"),
            "quarter": ("VARCHAR", "Calendar quarter, e.g. 2026-Q3"),
            "quarter_start": ("DATE", "First day of the quarter"),
            "revenue_usd": ("BIGINT", "Revenue recognized in the quarter (pro rata from the day a deal was won), USD"),
        },
    ),
    "industry_stats": (
        "Market size and growth per industry and year (analyst estimates).",
        {
            "industry": ("VARCHAR", "Industry; matches accounts.industry"),
            "year": ("INTEGER", "Calendar year"),
            "market_size_usd": ("BIGINT", "Total addressable market, USD"),
            "growth_pct": ("DOUBLE", "Growth over the previous year, percent"),
            "companies": ("INTEGER", "Companies in this warehouse for the industry"),
        },
    ),
    "segment_stats": (
        "Market size and growth per segment (sub-industry) and year (analyst estimates). The segments of an "
        "industry add up to its industry_stats.market_size_usd in every year.",
        {
            "industry": ("VARCHAR", "Industry; matches accounts.industry and industry_stats.industry"),
            "segment": ("VARCHAR", "Segment within the industry; matches accounts.segment, e.g. Telehealth"),
            "year": ("INTEGER", "Calendar year"),
            "market_size_usd": ("BIGINT", "Addressable market of the segment, USD"),
            "growth_pct": ("DOUBLE", "Growth over the previous year, percent"),
            "companies": ("INTEGER", "Companies in this warehouse for the segment"),
        },
    ),
    "competitors": (
        "The competitors each company names itself, one row per pair, as stated on the company's own comparison "
        "page (/compare/ on its website). Stated by the company, so not symmetric.",
        {
            "company_domain": ("VARCHAR", "The company that names the competitor; joins accounts.domain"),
            "competitor_domain": ("VARCHAR", "The competitor's domain; joins accounts.domain"),
            "competitor_name": ("VARCHAR", "The competitor's name"),
            "source": ("VARCHAR", "Where the pair was found"),
        },
    ),
    "snapshot": (
        "One row: the date this warehouse is current to. Treat it as today: an open opportunity closing after it "
        "is upcoming, one closing before it is overdue, and the current year's figures are estimates.",
        {"as_of": ("DATE", "The warehouse's today")},
    ),
}
COMPETITOR_SOURCE = "company's own comparison page"
_SEGMENT_MARKET_MULTIPLE = 5  # a segment's market is at least five times what its companies here earn


def _complete_quarters(as_of: dt.date, count: int) -> list[dt.date]:
    """The first days of the last `count` calendar quarters that ended before `as_of`, oldest first."""
    current = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)  # holds as_of, so not complete yet
    quarters = [current]
    for _ in range(count):
        start = quarters[-1]
        quarters.append(dt.date(start.year - 1, 10, 1) if start.month == 1 else dt.date(start.year, start.month - 3, 1))
    return quarters[:0:-1]


def _quarter_end(start: dt.date) -> dt.date:
    """The first day of the next quarter."""
    return dt.date(start.year + 1, 1, 1) if start.month == 10 else dt.date(start.year, start.month + 3, 1)


def _revenue(world: World, company_id: str, won: list[Deal]) -> list[tuple[object, ...]]:
    """A customer's revenue per complete quarter: each won deal's amount a year, pro rata from its close date,
    with the drift of expansions and discounts (a stream of its own per company)."""
    rng = random.Random(f"{world.seed}-{company_id}-revenue")
    rows = []
    drift = 1.0
    for start in _complete_quarters(world.as_of_date, 8):
        end = _quarter_end(start)
        days = (end - start).days
        active = [(d.amount_usd, (end - max(start, dt.date.fromisoformat(d.close_date))).days) for d in won]
        earned = sum(amount / 4 * min(1.0, share / days) for amount, share in active if share > 0)
        if earned:
            drift *= rng.uniform(0.97, 1.08)
            rows.append(
                (company_id, f"{start.year}-Q{(start.month - 1) // 3 + 1}", start.isoformat(), int(earned * drift))
            )
    return rows


def _market(world: World) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """industry_stats and segment_stats: per industry, a size that grows each year; per segment, a share of it
    that drifts, so that the segments of an industry add up to it exactly in every year."""
    rng = random.Random(f"{world.seed}-market")
    years = list(range(world.as_of_date.year - 5, world.as_of_date.year + 1))
    industries, segments = [], []
    for industry in sorted(names.INDUSTRIES):
        members = [c for c in world.companies if c.industry == industry]
        parts = names.INDUSTRIES[industry]
        base = rng.randint(8, 60) * 1_000_000_000
        growths = [round(rng.uniform(4, 28), 1) for _ in years]
        weights = {s: rng.uniform(0.5, 1.5) for s in parts}
        trends = {s: rng.uniform(-0.04, 0.06) for s in parts}
        revenue = {s: sum(c.revenue_usd for c in members if c.sub_industry == s) for s in parts}
        while True:  # the year before the first, then each year; grown until every segment dwarfs its companies
            sizes = [base]
            for growth in growths:
                sizes.append(int(sizes[-1] * (1 + growth / 100)))
            split = [
                _split(size, {s: weights[s] * (1 + trends[s]) ** k for s in parts}) for k, size in enumerate(sizes)
            ]
            if all(part[s] >= _SEGMENT_MARKET_MULTIPLE * revenue[s] for part in split for s in parts):
                break
            base = base * 5 // 4
        for k, year in enumerate(years, start=1):
            industries.append((industry, year, sizes[k], growths[k - 1], len(members)))
            for s in parts:
                growth = round(100 * (split[k][s] / split[k - 1][s] - 1), 1)
                count = sum(1 for c in members if c.sub_industry == s)
                segments.append((industry, s, year, split[k][s], growth, count))
    return industries, segments


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """`total` in whole dollars by `weights`; the largest part takes the rounding, so the parts add up to it."""
    whole = sum(weights.values())
    parts = {s: int(total * w / whole) for s, w in weights.items()}
    parts[max(weights, key=lambda s: weights[s])] += total - sum(parts.values())
    return parts


def _rows(world: World) -> dict[str, list[tuple[object, ...]]]:
    as_of = world.as_of_date
    won = {d.company_id for d in world.deals if d.stage == "closedwon"}
    owners = {d.company_id: d.owner for d in world.deals}
    accounts = [
        (c.id, c.name, c.domain, c.industry, c.sub_industry, c.employees, c.size_band, c.hq_country, c.founded_year,
         c.funding_stage, c.total_funding_usd, c.revenue_usd, c.revenue_band, c.id in won, owners.get(c.id))
        for c in world.companies
    ]  # fmt: skip
    opportunities = [
        (d.id, d.company_id, d.name, d.stage, d.amount_usd, d.created_date, d.close_date, d.owner,
         d.stage.startswith("closed"), d.stage == "closedwon", d.is_overdue(as_of))
        for d in world.deals
    ]  # fmt: skip
    revenue = []
    for company_id in sorted(won):
        deals = [d for d in world.deals if d.company_id == company_id and d.stage == "closedwon"]
        revenue.extend(_revenue(world, company_id, deals))
    industries, segments = _market(world)
    competitors = [
        (c.domain, world.company(other).domain, world.company(other).name, COMPETITOR_SOURCE)
        for c in world.companies
        for other in c.competitor_ids
    ]
    return {
        "accounts": accounts,
        "opportunities": opportunities,
        "revenue_by_quarter": revenue,
        "industry_stats": industries,
        "segment_stats": segments,
        "competitors": competitors,
        "snapshot": [(world.as_of,)],
    }


def _literal(value: object) -> str:
    """A value of ours as SQL: strings quoted, numbers and booleans as they are, None as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return sql_literal(value)
    if isinstance(value, bool | int | float):
        return repr(value).upper() if isinstance(value, bool) else repr(value)
    raise TypeError(f"no SQL literal for {type(value).__name__} {value!r}")


def build_warehouse(world: World, path: Path) -> None:
    """Write the warehouse file at `path` (replacing it), with comments on every table and column."""
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    rows = _rows(world)
    with duckdb.connect(str(tmp)) as db:
        for table, (description, columns) in TABLES.items():
            db.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, (t, _) in columns.items())})")
            if rows[table]:
                # One statement of literals: DuckDB binds parameters a row at a time, many times slower.
                values = ", ".join(f"({', '.join(map(_literal, row))})" for row in rows[table])
                db.execute(f"INSERT INTO {table} VALUES {values}")
            # COMMENT ON takes no parameters: the texts are ours, quoted as SQL string literals.
            db.execute(f"COMMENT ON TABLE {table} IS {sql_literal(description)}")
            for name, (_, text) in columns.items():
                db.execute(f"COMMENT ON COLUMN {table}.{name} IS {sql_literal(text)}")
    tmp.replace(path)
