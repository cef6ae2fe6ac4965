"""Model administration, shaped like Portkey's and OpenRouter's admin tools, over Orchestra's own `models:` config.

The configured tiers with prices and context windows from LiteLLM's cost map, the usage and spend recorded in
Orchestra's call log, budgets, and the routing of each tier. Changing budgets or routing writes an override file
that the LLM layer reads; the config file itself is never rewritten.

Run: `python -m orchestra.sandbox.servers.models --config FILE [--data-dir DIR]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import importlib.util
import json
import os
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.core.call_log import number, record_log
from orchestra.core.models_config import TierName, read_overrides, write_overrides
from orchestra.core.settings import ConfigError, default_data_dir, load_settings
from orchestra.core.spend import PERIODS, spend_ledger

READ = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)


@cache
def cost_map() -> dict[str, dict[str, Any]]:
    """LiteLLM's bundled model cost map, read from its package data without importing LiteLLM (slow, and it
    would try to download a newer map)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("LiteLLM is not installed; run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    return {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, dict) and k != "sample_spec"}


def describe_model(name: str) -> dict[str, Any]:
    entry = cost_map().get(name) or cost_map().get(name.split("/", 1)[-1]) or {}
    per_million = lambda key: round(entry[key] * 1_000_000, 4) if entry.get(key) is not None else None  # noqa: E731
    return {
        "model": name, "provider": entry.get("litellm_provider"), "mode": entry.get("mode"),
        "input_usd_per_million_tokens": per_million("input_cost_per_token"),
        "output_usd_per_million_tokens": per_million("output_cost_per_token"),
        "context_window": entry.get("max_input_tokens"), "max_output_tokens": entry.get("max_output_tokens"),
        "in_cost_map": bool(entry),
    }  # fmt: skip


class Admin:
    """Config, overrides and the usage log of one Orchestra installation."""

    def __init__(self, config_path: Path, data_dir: Path) -> None:
        self.config_path, self.data_dir = config_path, data_dir

    def settings(self) -> Any:
        try:
            return load_settings(self.config_path)
        except ConfigError as exc:
            raise ToolError(str(exc)) from None

    def overrides(self) -> dict[str, Any]:
        return read_overrides(self.data_dir)

    def save_overrides(self, overrides: dict[str, Any]) -> None:
        write_overrides(self.data_dir, overrides)

    def usage(self, since: dt.datetime) -> list[dict[str, Any]]:
        prefix = self.settings().server.key_prefix
        return list(record_log("calls", dict(os.environ), self.data_dir, prefix).read(since))


def build_server(admin: Admin) -> FastMCP:
    server = FastMCP("sandbox-models", instructions="Model tiers, prices, usage, spend, budgets and routing.")

    @server.tool(annotations=READ)
    def list_models(tier: Annotated[TierName | None, Field(description="Only this tier")] = None) -> dict[str, Any]:
        """The models each tier routes to, with prices per million tokens, context windows and whether usable."""
        settings, routing = admin.settings(), admin.overrides().get("routing", {})
        environ = dict(os.environ)
        tiers = []
        for name, routes in settings.models.tiers.items():
            if tier and name != tier:
                continue
            models = routing.get(name) or [r.model for r in routes]
            usable = {r.model: r.usable(environ) for r in routes}
            described = [describe_model(m) | {"usable": usable.get(m, False)} for m in models]
            tiers.append({"tier": name, "overridden": name in routing, "models": described})
        return {"tiers": tiers, "offline": not any(m["usable"] for t in tiers for m in t["models"])}

    @server.tool(annotations=READ)
    def search_model_catalog(
        query: Annotated[str, Field(min_length=2, description="Part of a model name, e.g. 'haiku' or 'gpt-4.1'")],
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        """Models LiteLLM knows (its cost map), with prices and context windows."""
        names = sorted(n for n, e in cost_map().items() if query.lower() in n.lower() and e.get("mode") == "chat")
        return {"total": len(names), "models": [describe_model(n) for n in names[:limit]]}

    @server.tool(annotations=READ)
    def get_usage(
        days: Annotated[int, Field(ge=1, le=366, description="Look back this many days")] = 30,
        group_by: Literal["model", "tier", "day"] = "model",
    ) -> dict[str, Any]:
        """Calls, tokens and spend recorded by Orchestra's LLM layer, grouped by model, tier or day."""
        records = admin.usage(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
        groups: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for record in records:
            key = record["ts"][:10] if group_by == "day" else str(record.get(group_by, "unknown"))
            for field in ("input_tokens", "output_tokens", "cost_usd"):
                groups[key][field] += number(record.get(field))
            groups[key]["calls"] += 1
        result: dict[str, Any] = {
            "days": days, "calls": len(records), "cost_usd": round(sum(number(r.get("cost_usd")) for r in records), 6),
            "groups": {k: {f: round(v, 6) for f, v in g.items()} for k, g in sorted(groups.items())},
        }  # fmt: skip
        if not records:
            result["note"] = "no model calls recorded in this period (Orchestra ran offline or the log is off)"
        return result

    @server.tool(annotations=READ)
    def get_budgets() -> dict[str, Any]:
        """Budgets (config, with overrides applied) and what has been spent against them, as the LLM layer counts
        it: for the installation by period, and for each tier and named tenant that has a limit."""
        override = admin.overrides().get("budgets", {})
        settings, now = admin.settings(), dt.datetime.now(dt.UTC)
        ledger = spend_ledger(dict(os.environ), admin.data_dir, settings.server.key_prefix)
        configured = settings.models.budgets
        found: dict[str, Any] = {
            period: {"limit_usd": override.get(period, getattr(configured, f"{period}_usd")),
                     "spent_usd": round(ledger.spent("all", period, now), 6), "overridden": period in override}
            for period in PERIODS
        }  # fmt: skip
        scoped = {f"tier {t}": limits for t, limits in configured.tiers.items()} | {
            f"tenant {t}": limits for t, limits in configured.tenants.items()}  # fmt: skip
        found["scoped"] = {
            scope: {period: {"limit_usd": getattr(limits, f"{period}_usd"),
                             "spent_usd": round(ledger.spent(scope, period, now), 6)} for period in PERIODS}
            for scope, limits in scoped.items()
        }  # fmt: skip
        return found

    @server.tool(annotations=WRITE)
    def set_budget(
        period: Literal["daily", "monthly"],
        limit_usd: Annotated[float, Field(gt=0, le=1_000_000, description="New limit in US dollars")],
    ) -> dict[str, Any]:
        """Set a spending limit; the LLM layer refuses model calls past it."""
        overrides = admin.overrides()
        overrides.setdefault("budgets", {})[period] = limit_usd
        admin.save_overrides(overrides)
        return get_budgets()

    @server.tool(annotations=WRITE)
    def set_tier_models(
        tier: TierName,
        models: Annotated[list[str], Field(min_length=1, max_length=5, description="LiteLLM model names, in order")],
    ) -> dict[str, Any]:
        """Route a tier to these models (an override of the config file's list)."""
        for model in models:
            if not describe_model(model)["in_cost_map"]:
                close = difflib.get_close_matches(model, list(cost_map()), n=3)
                raise ToolError(f"{model!r} is not in LiteLLM's model catalog; did you mean {', '.join(close)}?")
        if tier == "panel" and len({m.split("/", 1)[0] for m in models}) < 2:
            raise ToolError("a panel needs models from at least two families, so their mistakes differ")
        overrides = admin.overrides()
        overrides.setdefault("routing", {})[tier] = models
        admin.save_overrides(overrides)
        return list_models(tier)

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--config", type=Path, default=Path(os.environ.get("ORCHESTRA_CONFIG", "config/orchestra.yaml"))
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(os.environ.get("ORCHESTRA_DATA_DIR") or default_data_dir())
    build_server(Admin(args.config, data_dir)).run("stdio")


if __name__ == "__main__":
    main()
