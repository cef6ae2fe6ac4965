"""Design, deploy and model-admin servers through the real gateway; and the world's determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import httpx
import pytest

from orchestra.sandbox.build import build_sandbox
from orchestra.sandbox.config import SandboxConfig
from orchestra.sandbox.paths import SandboxPaths
from tests.conftest import mcp_client, text_of
from tests.sandbox.conftest import Sandbox, structured


async def test_design_tier_serves_the_pricing_frame(sandbox: Sandbox) -> None:
    async with mcp_client(f"{sandbox.gateway_url}/tiers/design/mcp") as design:
        names = {t.name for t in (await design.list_tools()).tools}
        assert {"design__get_figma_data", "design__list_figma_files", "deploy__deploy"} <= names
        files = structured(await design.call_tool("design__list_figma_files", {}))
        pricing = next(f for f in files["files"] if f["name"].endswith("Pricing page"))
        data = text_of(
            await design.call_tool("design__get_figma_data", {"fileKey": pricing["fileKey"], "nodeId": "1:2"})
        )
    assert "Pricing — Desktop" in data
    assert json.loads(data)["nodes"][0]["name"] == "Pricing — Desktop"
    assert "Inter" in data


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


async def test_deployment_serves_the_page_and_rollback_restores_the_previous_one(sandbox: Sandbox) -> None:
    versions = []
    for number in (1, 2):
        site = sandbox.builds / f"launch-v{number}"  # the deploy pool takes folders only from its workspace
        site.mkdir(parents=True)
        (site / "index.html").write_text(f"<h1>Launch page v{number}</h1>")
        versions.append(site)
    async with sandbox.client("deploy") as deploy, httpx.AsyncClient() as http:
        first = structured(await deploy.call_tool("deploy", {"project": "launch", "directory": str(versions[0])}))
        assert "v1" in (await http.get(first["url"])).text
        second = structured(await deploy.call_tool("deploy", {"project": "launch", "directory": str(versions[1])}))
        assert "v1" in (await http.get(first["production_url"])).text  # not production until promoted
        await deploy.call_tool("promote_deployment", {"deployment_id": second["id"]})
        assert "v2" in (await http.get(first["production_url"])).text
        await deploy.call_tool("rollback_deployment", {"project": "launch"})
        assert "v1" in (await http.get(first["production_url"])).text
        assert "v2" in (await http.get(second["url"])).text  # immutable
        bad = await deploy.call_tool("deploy", {"project": "Bad Name!", "directory": str(versions[0])})
        assert bad.isError


async def test_models_admin_reports_offline_prices_and_persists_budget_changes(sandbox: Sandbox) -> None:
    async with sandbox.client("models") as models:
        listed = structured(await models.call_tool("list_models", {"tier": "premium"}))
        [premium] = listed["tiers"]
        sonnet = next(m for m in premium["models"] if m["model"] == "anthropic/claude-sonnet-4-5")
        assert sonnet["input_usd_per_million_tokens"] == 3.0
        assert sonnet["context_window"] == 200000
        # The calls the LLM layer logged: other tests of this session may have made some (in the shared Redis).
        usage = structured(await models.call_tool("get_usage", {"group_by": "tier"}))
        assert usage["calls"] == sum(int(group["calls"]) for group in usage["groups"].values())
        assert ("no model calls recorded" in usage.get("note", "")) == (usage["calls"] == 0)
        budgets = structured(await models.call_tool("set_budget", {"period": "daily", "limit_usd": 5}))
        assert (budgets["daily"]["limit_usd"], budgets["daily"]["overridden"]) == (5.0, True)
        assert budgets["daily"]["spent_usd"] == pytest.approx(usage["cost_usd"], abs=1e-6)  # one day's calls
        assert budgets["scoped"] == {}  # the shipped config limits no tier or tenant of its own
        refused = await models.call_tool("set_tier_models", {"tier": "panel", "models": ["openai/gpt-4.1-mini"]})
        assert refused.isError
        assert "two families" in text_of(refused)
    saved = json.loads(sandbox.paths.models_admin.read_text())
    assert saved["budgets"]["daily"] == 5


def test_two_builds_with_the_same_seed_are_identical(tmp_path: Path) -> None:
    first, second = SandboxPaths.under(tmp_path / "a"), SandboxPaths.under(tmp_path / "b")
    for paths in (first, second):
        build_sandbox(paths, SandboxConfig(seed=7, companies=30), progress=lambda _: None)
    assert first.world.read_bytes() == second.world.read_bytes()
    assert tree_digest(first.sites) == tree_digest(second.sites)
    assert tree_digest(first.designs) == tree_digest(second.designs)
    queries = [
        f"SELECT * FROM {t} ORDER BY ALL" for t in ("accounts", "opportunities", "revenue_by_quarter", "industry_stats")
    ]
    rows = []
    for paths in (first, second):
        with duckdb.connect(str(paths.warehouse), read_only=True) as db:
            rows.append([db.execute(q).fetchall() for q in queries])
    assert rows[0] == rows[1]
    other = SandboxPaths.under(tmp_path / "c")
    build_sandbox(other, SandboxConfig(seed=8, companies=30), progress=lambda _: None)
    assert other.world.read_bytes() != first.world.read_bytes()
