"""The generated world reads like real companies: firmographics that fit their stage, people that fit the team,
dates that make sense around the world's as-of date, stated competitors and segment-level markets."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from orchestra.sandbox import names
from orchestra.sandbox.build import build_sandbox, is_current
from orchestra.sandbox.config import SandboxConfig
from orchestra.sandbox.firmographics import STAGES
from orchestra.sandbox.model import DEFAULT_AS_OF, OPEN_STAGES, Deal, World
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.warehouse import COMPETITOR_SOURCE, build_warehouse
from orchestra.sandbox.world import generate_world

SEEDS = [42, 7, 1234]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(42, 200)


@pytest.fixture(scope="module")
def warehouse(world: World, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_warehouse(world, path)
    return duckdb.connect(str(path), read_only=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_company_has_the_headcount_revenue_and_funding_of_its_stage(seed: int) -> None:
    for company in generate_world(seed, 200).companies:
        stage = STAGES[company.funding_stage]
        rounds = [r.round for r in company.funding_rounds]
        assert stage.employees[0] <= company.employees <= stage.employees[1], company
        assert stage.revenue_usd[0] <= company.revenue_usd <= stage.revenue_usd[1], company
        assert stage.raised_usd[0] <= company.total_funding_usd <= stage.raised_usd[1], company
        expected = "Bootstrapped" if not rounds else "Public" if rounds[-1] == "IPO" else rounds[-1]
        assert company.funding_stage == expected
        assert rounds == ["Seed", "Series A", "Series B", "Series C", "IPO"][: len(rounds)]


def test_stages_spread_like_a_startup_market(world: World) -> None:
    stages = Counter(c.funding_stage for c in world.companies)
    assert set(stages) == set(STAGES)
    assert stages["Seed"] + stages["Series A"] > len(world.companies) / 2  # most are early
    assert 0 < stages["Public"] < 15


def test_the_headline_company_is_a_believable_series_b(world: World) -> None:
    company = world.companies[2]
    assert company.name == "Copealo Works"  # the README's example, kept through every change of the generator
    assert company.funding_stage == "Series B"
    series_b = STAGES["Series B"]
    assert series_b.employees[0] <= company.employees <= series_b.employees[1]
    assert company.size_band in ("51-200", "201-1000")
    assert series_b.raised_usd[0] <= company.total_funding_usd <= series_b.raised_usd[1]


def test_bands_match_the_numbers(world: World) -> None:
    size_bands = {"1-10": (1, 10), "11-50": (11, 50), "51-200": (51, 200), "201-1000": (201, 1000),
                  "1001-5000": (1001, 5000)}  # fmt: skip
    revenue_bands = {"<$1M": (0, 999_999), "$1M-$10M": (1_000_000, 9_999_999), "$10M-$50M": (10_000_000, 49_999_999),
                     "$50M-$250M": (50_000_000, 249_999_999), "$250M+": (250_000_000, 10**12)}  # fmt: skip
    for company in world.companies:
        low, high = size_bands[company.size_band]
        assert low <= company.employees <= high
        low, high = revenue_bands[company.revenue_band]
        assert low <= company.revenue_usd <= high


def test_company_suffixes_fit_their_industry(world: World) -> None:
    fitting = {"Health": {"Healthtech"}, "Logistics": {"Logistics"}, "Robotics": {"Logistics"}}
    for company in world.companies:
        suffix = company.name.split()[-1]
        assert company.industry in fitting.get(suffix, {company.industry}), company.name


def test_people_fit_the_team_they_work_in(world: World) -> None:
    by_company = Counter(p.company_id for p in world.people)
    emails = [p.email for p in world.people]
    assert len(emails) == len(set(emails))
    for company in world.companies:
        people = world.people_at(company.id)
        assert 2 <= by_company[company.id] <= company.employees
        titles = {p.title for p in people}
        assert "Chief Executive Officer" in titles
        if company.employees < 40:
            assert "Chief Financial Officer" not in titles
        if company.employees < 150:
            assert "Director of IT" not in titles
        assert all(p.email.endswith("@" + company.domain) for p in people)


def test_funding_rounds_follow_founding_and_each_other(world: World) -> None:
    as_of = world.as_of_date
    for company in world.companies:
        dates = [dt.date.fromisoformat(r.date) for r in company.funding_rounds]
        assert dates == sorted(dates)
        assert all(b - a >= dt.timedelta(days=60) for a, b in itertools.pairwise(dates))
        assert all(company.founded_year <= d.year and d <= as_of for d in dates)
        assert company.founded_year <= as_of.year - 2


def test_deal_dates_make_sense_around_the_as_of_date(world: World) -> None:
    as_of = world.as_of
    assert as_of == DEFAULT_AS_OF.isoformat()
    overdue = [d for d in world.deals if d.is_overdue(world.as_of_date)]
    assert 0 < len(overdue) < len(world.deals) / 4  # a few slipped on purpose, most are on time
    for deal in world.deals:
        assert deal.created_date < deal.close_date
        assert deal.created_date <= as_of
        if deal.stage in OPEN_STAGES and deal not in overdue:
            assert deal.close_date > as_of
        if deal.stage not in OPEN_STAGES:
            assert deal.close_date <= as_of
    assert all(a.date <= as_of for a in world.activities)
    assert all(p.posted_at <= as_of for p in world.social_posts)
    assert not [d for d in world.deals if d.name.endswith(("Renewal", "Expansion")) and not _won_before(world, d)]
    assert len({d.name for d in world.deals}) == len(world.deals)


def _won_before(world: World, deal: Deal) -> bool:
    return any(
        d.company_id == deal.company_id and d.stage == "closedwon" and d.close_date < deal.created_date
        for d in world.deals
    )


def test_another_as_of_date_moves_the_dates_and_nothing_else(world: World) -> None:
    later = generate_world(42, 200, dt.date(2027, 3, 15))
    shift = dt.date(2027, 3, 15) - world.as_of_date
    assert later.as_of == "2027-03-15"
    for before, after in zip(world.companies, later.companies, strict=True):
        assert (after.name, after.funding_stage, after.employees, after.revenue_usd) == (
            before.name, before.funding_stage, before.employees, before.revenue_usd,
        )  # fmt: skip
        for a, b in zip(before.funding_rounds, after.funding_rounds, strict=True):
            assert dt.date.fromisoformat(b.date) - dt.date.fromisoformat(a.date) == shift
            assert a.amount_usd == b.amount_usd
    for a, b in zip(world.deals, later.deals, strict=True):
        assert (a.name, a.stage, a.amount_usd) == (b.name, b.stage, b.amount_usd)
        assert dt.date.fromisoformat(b.close_date) - dt.date.fromisoformat(a.close_date) == shift
    assert [d.id for d in later.deals if d.is_overdue(later.as_of_date)] == [
        d.id for d in world.deals if d.is_overdue(world.as_of_date)
    ]


def test_competitors_are_named_peers_of_the_same_industry(world: World) -> None:
    for company in world.companies:
        assert 2 <= len(company.competitor_ids) <= 4
        assert company.id not in company.competitor_ids
        rivals = [world.company(i) for i in company.competitor_ids]
        assert all(r.industry == company.industry for r in rivals)
        same_segment = [c for c in world.companies if c.sub_industry == company.sub_industry and c.id != company.id]
        if len(same_segment) >= len(rivals) + 2:  # a crowded segment: its own players come first
            assert all(r.sub_industry == company.sub_industry for r in rivals)


def test_the_competitors_table_lists_what_each_company_states(
    world: World, warehouse: duckdb.DuckDBPyConnection
) -> None:
    company = world.companies[2]
    rows = warehouse.execute(
        "SELECT competitor_domain, competitor_name, source FROM competitors WHERE company_domain = ? ORDER BY 1",
        [company.domain],
    ).fetchall()
    rivals = [world.company(i) for i in company.competitor_ids]
    assert rows == sorted((r.domain, r.name, COMPETITOR_SOURCE) for r in rivals)
    [[total]] = warehouse.execute("SELECT count(*) FROM competitors").fetchall()
    assert total == sum(len(c.competitor_ids) for c in world.companies)


def test_segments_add_up_to_their_industry_every_year(world: World, warehouse: duckdb.DuckDBPyConnection) -> None:
    mismatched = warehouse.execute(
        "SELECT i.industry, i.year, i.market_size_usd, sum(s.market_size_usd) FROM industry_stats i "
        "JOIN segment_stats s USING (industry, year) GROUP BY ALL HAVING i.market_size_usd <> sum(s.market_size_usd)"
    ).fetchall()
    assert mismatched == []
    segments = {(i, s) for i, s in warehouse.execute("SELECT DISTINCT industry, segment FROM segment_stats").fetchall()}
    assert segments == {(i, s) for i, parts in names.INDUSTRIES.items() for s in parts}
    assert {("Healthtech", "Telehealth"), ("HR tech", "Recruiting")} <= segments
    years = [y for (y,) in warehouse.execute("SELECT DISTINCT year FROM segment_stats ORDER BY 1").fetchall()]
    assert years == list(range(world.as_of_date.year - 5, world.as_of_date.year + 1))
    telehealth = warehouse.execute(
        "SELECT year, market_size_usd, growth_pct, companies FROM segment_stats WHERE segment = 'Telehealth' "
        "ORDER BY year"
    ).fetchall()
    count = sum(1 for c in world.companies if c.sub_industry == "Telehealth")
    revenue = sum(c.revenue_usd for c in world.companies if c.sub_industry == "Telehealth")
    for (_, before, _, _), (_, size, growth, companies) in itertools.pairwise(telehealth):
        assert growth == round(100 * (size / before - 1), 1)
        assert companies == count
        assert size >= 5 * revenue


def test_the_warehouse_knows_its_as_of_date_and_the_overdue_deals(
    world: World, warehouse: duckdb.DuckDBPyConnection
) -> None:
    assert warehouse.execute("SELECT as_of FROM snapshot").fetchall() == [(world.as_of_date,)]
    rows = warehouse.execute("SELECT opportunity_id FROM opportunities WHERE is_overdue ORDER BY 1").fetchall()
    overdue = [i for (i,) in rows]
    assert overdue == sorted(d.id for d in world.deals if d.is_overdue(world.as_of_date))
    quarters = warehouse.execute("SELECT max(quarter_start) FROM revenue_by_quarter").fetchall()
    assert quarters[0][0] < dt.date(world.as_of_date.year, 3 * ((world.as_of_date.month - 1) // 3) + 1, 1)
    early = warehouse.execute(
        "SELECT r.account_id FROM revenue_by_quarter r JOIN opportunities o USING (account_id) WHERE o.is_won "
        "GROUP BY r.account_id HAVING min(r.quarter_start) + INTERVAL 3 MONTH <= min(o.close_date)"
    ).fetchall()
    assert early == []  # no revenue before the first deal was won


def test_as_of_today_is_an_explicit_input_and_the_build_stays_reproducible(tmp_path: Path) -> None:
    config = SandboxConfig(seed=42, companies=20, as_of="today")
    first, second = SandboxPaths.under(tmp_path / "a"), SandboxPaths.under(tmp_path / "b")
    for paths in (first, second):
        manifest = build_sandbox(paths, config, progress=lambda _: None, today=dt.date(2030, 2, 14))
    assert manifest["as_of"] == "2030-02-14"
    assert first.world.read_bytes() == second.world.read_bytes()
    tables = []
    for paths in (first, second):
        with duckdb.connect(str(paths.warehouse), read_only=True) as db:
            found = [t for (t,) in db.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
            tables.append({t: db.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in found})
    assert tables[0] == tables[1]
    assert {"competitors", "segment_stats", "snapshot"} <= set(tables[0])
    compare = first.sites / "copealo.example" / "compare" / "index.html"
    assert compare.read_bytes() == (second.sites / "copealo.example" / "compare" / "index.html").read_bytes()
    assert World.load(first.world).as_of == "2030-02-14"
    assert is_current(first, config)  # a new day does not rebuild (and wipe) the world: a reset does
    assert not is_current(first, config.model_copy(update={"as_of": "2030-02-14"}))
    with pytest.raises(ValueError, match="write it like 2026-11-01, or `today`"):
        SandboxConfig(as_of="tomorrow")
