"""The LLM layer: LiteLLM tiers behind LangChain chat models, budgets, and a log of every model call.

Tiers come from the `models:` config (with routing and budget overrides written by the models admin server).
A model whose key reference is unset is left out; when no tier has a model left, the layer is *offline*: it
hands out no chat model at all, so nothing can call a model by accident, and callers say so in their output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import LLMResult

from orchestra.core.envref import expand_env
from orchestra.core.models_config import ModelRoute, ModelsConfig, TierName, usage_log_path
from orchestra.sandbox.paths import SandboxPaths

TIER_FOR_COMPLEXITY: dict[str, TierName] = {"low": "fast", "high": "premium", "critical": "premium"}


class BudgetExceeded(RuntimeError):
    """A model call would go past a budget; raise the budget (models admin) or wait for the next period."""


@dataclass
class RunUsage:
    """Model calls of one run: what goes into the run's state and report."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    models: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        self.calls += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd += cost
        self.models[model] = self.models.get(model, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": round(self.cost_usd, 6), "models": dict(self.models)}  # fmt: skip


class UsageRecorder(BaseCallbackHandler):
    """Counts each finished call into the run's usage and appends it to the local call log."""

    raise_error = True  # a spent budget must stop the call, not just be logged by LangChain

    def __init__(self, layer: LLMLayer, tier: str, usage: RunUsage) -> None:
        self._layer, self._tier, self._usage = layer, tier, usage

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        self._layer.check_budget()

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generation in (g for batch in response.generations for g in batch):
            message = getattr(generation, "message", None)
            usage = getattr(message, "usage_metadata", None) or {}
            metadata = getattr(message, "response_metadata", None) or {}
            model = str(metadata.get("model_name") or metadata.get("model") or self._tier)
            cost = float(metadata.get("response_cost") or 0.0)
            self._usage.add(model, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), cost)
            self._layer.log_call(self._tier, model, usage, cost, str(kwargs.get("run_id", "")))


class LLMLayer:
    """Chat models per tier over one LiteLLM Router, or nothing at all when offline."""

    def __init__(self, config: ModelsConfig, environ: dict[str, str], data_dir: Path) -> None:
        self.config, self._environ, self.data_dir = config, environ, data_dir
        self._overrides = _read_overrides(data_dir)
        routing = self._overrides.get("routing", {})
        self.routes: dict[str, list[ModelRoute]] = {}
        for tier, routes in config.tiers.items():
            chosen = [r for r in routes if r.model in routing[tier]] if tier in routing else list(routes)
            self.routes[tier] = [r for r in chosen if r.usable(environ)]
        self._router: Any = None
        self._log_lock = threading.Lock()

    @property
    def offline(self) -> bool:
        return not any(self.routes.values())

    def has(self, tier: str) -> bool:
        return bool(self.routes.get(tier))

    def _litellm_router(self) -> Any:
        if self._router is None:
            _use_bundled_prices()
            from litellm import Router

            model_list = [
                {"model_name": name, "litellm_params": self._params(route)}
                for tier, routes in self.routes.items()
                for index, route in enumerate(routes)
                for name in ([tier] if tier != "panel" else [f"panel/{index}"])
            ]
            fallbacks = [{a: [b]} for a, b in (("premium", "fast"), ("fast", "premium")) if self.has(a) and self.has(b)]
            self._router = Router(
                model_list=model_list, fallbacks=fallbacks, num_retries=2, retry_after=1, timeout=120,
                allowed_fails=2, cooldown_time=30,
            )  # fmt: skip
        return self._router

    def _params(self, route: ModelRoute) -> dict[str, Any]:
        params: dict[str, Any] = {"model": route.model}
        if route.api_key:
            params["api_key"] = expand_env(route.api_key, self._environ)
        if route.api_base:
            params["api_base"] = expand_env(route.api_base, self._environ)
        return params

    def resolve(self, tier: str) -> str:
        """The tier that answers for `tier`: itself, or the other one when it has no model; never when offline."""
        if self.offline:
            raise RuntimeError("no model is configured (offline mode); the caller must not ask for one")
        return tier if self.has(tier) else "premium" if self.has("premium") else "fast"

    def chat_model(self, tier: str, usage: RunUsage) -> BaseChatModel:
        """A chat model for `tier` (falling back to the other tier); never called when offline."""
        tier = self.resolve(tier)
        _use_bundled_prices()
        from langchain_litellm import ChatLiteLLMRouter

        return ChatLiteLLMRouter(
            router=self._litellm_router(), model=tier, callbacks=[UsageRecorder(self, tier, usage)]
        )

    def panel(self, usage: RunUsage) -> list[tuple[str, BaseChatModel]]:
        """One chat model per panel member (different families), for cross-checks."""
        _use_bundled_prices()
        from langchain_litellm import ChatLiteLLMRouter

        router = self._litellm_router() if self.has("panel") else None
        return [
            (route.model, ChatLiteLLMRouter(router=router, model=f"panel/{index}",
                                            callbacks=[UsageRecorder(self, "panel", usage)]))
            for index, route in enumerate(self.routes.get("panel", []))
        ]  # fmt: skip

    # -- budgets and the call log ---------------------------------------------------------------------
    def spent_since(self, since: dt.datetime) -> float:
        path = usage_log_path(self.data_dir)
        if not path.exists():
            return 0.0
        total = 0.0
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if dt.datetime.fromisoformat(record["ts"]) >= since:
                total += float(record.get("cost_usd", 0))
        return total

    def budgets(self) -> dict[str, float | None]:
        """The spending limits in force, by period (the models admin's overrides first, then the config)."""
        overrides = self._overrides.get("budgets", {})
        return {period: overrides.get(period, getattr(self.config.budgets, f"{period}_usd"))
                for period in ("daily", "monthly")}  # fmt: skip

    def check_budget(self) -> None:
        limits = self.budgets()
        now = dt.datetime.now(dt.UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for period, start in (("daily", day), ("monthly", day.replace(day=1))):
            limit = limits[period]
            if limit is not None and self.spent_since(start) >= limit:
                raise BudgetExceeded(
                    f"the {period} model budget of ${limit:g} is spent; raise it (models pool: set_budget) or wait"
                )

    def log_call(self, tier: str, model: str, usage: dict[str, Any], cost: float, run_id: str) -> None:
        if not self.config.log_calls:
            return
        record = {
            "ts": dt.datetime.now(dt.UTC).isoformat(), "tier": tier, "model": model, "run_id": run_id,
            "input_tokens": int(usage.get("input_tokens", 0)), "output_tokens": int(usage.get("output_tokens", 0)),
            "cost_usd": cost,
        }  # fmt: skip
        path = usage_log_path(self.data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_lock, path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")


def _use_bundled_prices() -> None:
    """LiteLLM downloads a price list when first imported unless told to use the one it ships (no network here,
    and prices should not change under a running process)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _read_overrides(data_dir: Path) -> dict[str, Any]:
    """Routing and budget overrides written by the models admin server."""
    try:
        return json.loads(SandboxPaths.under(data_dir).models_admin.read_text())
    except (FileNotFoundError, ValueError):
        return {}
