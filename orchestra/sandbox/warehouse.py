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
from orchestra.sandbox.model import TODAY, World

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
            "total_funding_usd": ("BIGINT", "Venture funding raised to date, USD"),
            "estimated_revenue_usd": ("BIGINT", "Estimated annual revenue, USD"),
            "is_customer": ("BOOLEAN", "True when the company has at least one closed-won opportunity"),
            "owner": ("VARCHAR", "Our account owner (sales rep); NULL when not in the CRM"),
        },
    ),
    "opportunities": (
        "Sales opportunities (CRM deals) with stage, amount and dates.",
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
        },
    ),
    "revenue_by_quarter": (
        "Recognized revenue from each customer account per calendar quarter.",
        {
            "account_id": ("VARCHAR", "Customer company id; joins accounts"),
            "quarter": ("VARCHAR", "Calendar quarter, e.g. 2026-Q3"),
            "quarter_start": ("DATE", "First day of the quarter"),
            "revenue_usd": ("BIGINT", "Revenue recognized in the quarter, USD"),
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
}


def _quarters(count: int) -> list[dt.date]:
    start = dt.date(TODAY.year, 3 * ((TODAY.month - 1) // 3) + 1, 1)
    quarters = [start]
    for _ in range(count - 1):
        previous = quarters[-1]
        month = previous.month - 3
        quarters.append(dt.date(previous.year - (month < 1), month + 12 if month < 1 else month, 1))
    return sorted(quarters)


def _rows(world: World) -> dict[str, list[tuple[object, ...]]]:
    rng = random.Random(f"{world.seed}-warehouse")
    won = {d.company_id for d in world.deals if d.stage == "closedwon"}
    owners = {d.company_id: d.owner for d in world.deals}
    accounts = [
        (c.id, c.name, c.domain, c.industry, c.sub_industry, c.employees, c.size_band, c.hq_country, c.founded_year,
         c.total_funding_usd, c.revenue_usd, c.id in won, owners.get(c.id))
        for c in world.companies
    ]  # fmt: skip
    opportunities = [
        (d.id, d.company_id, d.name, d.stage, d.amount_usd, d.created_date, d.close_date, d.owner,
         d.stage.startswith("closed"), d.stage == "closedwon")
        for d in world.deals
    ]  # fmt: skip
    revenue = []
    for company_id in sorted(won):
        annual = sum(d.amount_usd for d in world.deals if d.company_id == company_id and d.stage == "closedwon")
        level = annual / 4
        for quarter in _quarters(8):
            level *= rng.uniform(0.97, 1.08)
            label = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
            revenue.append((company_id, label, quarter.isoformat(), int(level)))
    stats = []
    for industry in sorted({c.industry for c in world.companies}):
        size = rng.randint(8, 60) * 1_000_000_000
        count = sum(1 for c in world.companies if c.industry == industry)
        for year in range(TODAY.year - 5, TODAY.year + 1):
            growth = round(rng.uniform(4, 28), 1)
            size = int(size * (1 + growth / 100))
            stats.append((industry, year, size, growth, count))
    return {
        "accounts": accounts,
        "opportunities": opportunities,
        "revenue_by_quarter": revenue,
        "industry_stats": stats,
    }


def build_warehouse(world: World, path: Path) -> None:
    """Write the warehouse file at `path` (replacing it), with comments on every table and column."""
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    rows = _rows(world)
    with duckdb.connect(str(tmp)) as db:
        for table, (description, columns) in TABLES.items():
            db.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, (t, _) in columns.items())})")
            if rows[table]:
                db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows[table])
            # COMMENT ON takes no parameters: the texts are ours, quoted as SQL string literals.
            db.execute(f"COMMENT ON TABLE {table} IS {sql_literal(description)}")
            for name, (_, text) in columns.items():
                db.execute(f"COMMENT ON COLUMN {table}.{name} IS {sql_literal(text)}")
    tmp.replace(path)
