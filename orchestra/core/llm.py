"""The LLM layer: LiteLLM tiers behind LangChain chat models, budgets, and a log of every model call.

Tiers come from the `models:` config (with routing and budget overrides written by the models admin server).
A model whose key reference is unset is left out; when no tier has a model left, the layer is *offline*: it
hands out no chat model at all, so nothing can call a model by accident, and callers say so in their output.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import LLMResult

from orchestra.core.call_log import KEY_PREFIX, record_log
from orchestra.core.envref import expand_env
from orchestra.core.models_config import Limits, ModelRoute, ModelsConfig, calibrated_threshold, read_overrides
from orchestra.core.spend import PERIODS, spend_ledger
from orchestra.routing import tier_router
from orchestra.routing.choice import Step, TierChoice, choose_tier

log = logging.getLogger(__name__)


class BudgetExceeded(RuntimeError):
    """A model call would go past a budget; raise the budget (models admin) or wait for the next period."""


@dataclass
class RunUsage:
    """Model calls of one run, charged to its tenant: what goes into the run's state, report and call log."""

    tenant: str = "local"
    run_id: str = ""
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0  # what the router's fast choices saved against premium for the same tokens
    models: dict[str, int] = field(default_factory=dict)
    routing: list[dict[str, Any]] = field(default_factory=list)

    def add(self, model: str, input_tokens: int, output_tokens: int, cost: float, saved: float = 0.0) -> None:
        self.calls += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd += cost
        self.saved_usd += saved
        self.models[model] = self.models.get(model, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": round(self.cost_usd, 6), "saved_usd": round(self.saved_usd, 6),
                "models": dict(self.models), "routing": list(self.routing)}  # fmt: skip


def usage_line(usage: dict[str, Any]) -> str:
    """A run's usage (`RunUsage.as_dict`) in one line for a report's footer: calls, cost, what routing chose and
    what it saved against sending those steps to premium."""
    line = f"model calls: {usage.get('calls', 0)} (${usage.get('cost_usd', 0):.4f})"
    routed = [choice for choice in usage.get("routing", []) if choice.get("by") == "router"]
    if routed:
        fast = sum(choice["tier"] == "fast" for choice in routed)
        line += (f"; router: {fast} of {len(routed)} steps to the fast tier, "
                 f"${usage.get('saved_usd', 0):.4f} saved against premium")  # fmt: skip
    return line


class UsageRecorder(BaseCallbackHandler):
    """Checks the budgets before each call; counts each finished call into the run's usage and the call log."""

    raise_error = True  # a spent budget must stop the call, not just be logged by LangChain

    def __init__(self, layer: LLMLayer, tier: str, usage: RunUsage, choice: TierChoice | None = None) -> None:
        self._layer, self._tier, self._usage, self._choice = layer, tier, usage, choice

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        self._layer.check_budget(self._tier, self._usage.tenant)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generation in (g for batch in response.generations for g in batch):
            message = getattr(generation, "message", None)
            usage = getattr(message, "usage_metadata", None) or {}
            metadata = getattr(message, "response_metadata", None) or {}
            deployment = metadata.get("model_id")
            answered = self._layer.deployed(deployment)
            model = answered or str(metadata.get("model_name") or self._tier)
            # a fallback to the other tier is charged to the tier that answered
            tier = str(deployment).split("/", 1)[0] if answered else self._tier
            cost = float(metadata.get("response_cost") or 0.0)
            tokens = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
            saved = self._saved(cost, *tokens)
            self._usage.add(model, *tokens, cost, saved)
            self._layer.record_call(tier, model, tokens, cost, saved, self._usage, self._choice)

    def _saved(self, cost: float, input_tokens: int, output_tokens: int) -> float:
        """Against premium's first model for the same tokens, when the router chose fast."""
        if self._choice is None or self._choice.by != "router" or self._choice.tier != "fast":
            return 0.0
        premium = self._layer.price("premium", input_tokens, output_tokens)
        return max(premium - cost, 0.0) if premium is not None else 0.0


class LLMLayer:
    """Chat models per tier over one LiteLLM Router, or nothing at all when offline."""

    def __init__(
        self, config: ModelsConfig, environ: dict[str, str], data_dir: Path, key_prefix: str = KEY_PREFIX
    ) -> None:
        self.config, self._environ, self.data_dir = config, environ, data_dir
        self._overrides = read_overrides(data_dir)
        routing = self._overrides.get("routing", {})
        self.routes: dict[str, list[ModelRoute]] = {}
        for tier, routes in config.tiers.items():
            chosen = [r for r in routes if r.model in routing[tier]] if tier in routing else list(routes)
            self.routes[tier] = [r for r in chosen if r.usable(environ)]
        self.router_threshold = calibrated_threshold(self._overrides)
        self.ledger = spend_ledger(environ, data_dir, key_prefix)
        self.calls = record_log("calls", environ, data_dir, key_prefix)
        self._routers: dict[bool, Any] = {}
        self.preload_router()
        if not self.offline:  # importing LiteLLM takes seconds: here, off the event loop, not in a run's first step
            self.litellm_router(across_tiers=True)
            _tier_chat_model()
            self._warn_of_unpriced_models()

    @property
    def offline(self) -> bool:
        return not any(self.routes.values())

    def has(self, tier: str) -> bool:
        return bool(self.routes.get(tier))

    def preload_router(self) -> None:
        """Read the tier router now, when it will be asked: the first run's step must not read it on the loop."""
        if self.has("fast") and self.has("premium"):
            tier_router.shipped()

    def litellm_router(self, across_tiers: bool) -> Any:
        """One deployment per model, named `tier/index`: a tier's models are tried in order on any failure (a
        context-window error too: the next model may take a longer prompt), then, `across_tiers`, the other tier's.
        Every deployment has its own chain, so LiteLLM sets aside (cools down) any of them that keeps failing."""
        if across_tiers not in self._routers:
            _use_bundled_prices()
            from litellm import Router

            model_list = [{"model_name": name, "litellm_params": self._params(route), "model_info": {"id": name}}
                          for tier, routes in self.routes.items() for name, route in _named(tier, routes)]  # fmt: skip
            order = {
                tier: [name for name, _ in _named(tier, self.routes.get(tier, []))] for tier in ("fast", "premium")
            }
            fallbacks = [{name: chain}
                         for tier, other in (("fast", "premium"), ("premium", "fast"))
                         for index, name in enumerate(order[tier])
                         if (chain := order[tier][index + 1 :] + (order[other] if across_tiers else []))]  # fmt: skip
            knobs = self.config.resilience
            self._routers[across_tiers] = Router(
                model_list=model_list, fallbacks=fallbacks, context_window_fallbacks=fallbacks,
                num_retries=knobs.retries, retry_after=0, timeout=knobs.timeout_s, allowed_fails=knobs.allowed_fails,
                cooldown_time=knobs.cooldown_s,
            )  # fmt: skip
        return self._routers[across_tiers]

    def _warn_of_unpriced_models(self) -> None:
        """A model missing from LiteLLM's price list (or priced at 0) costs nothing as budgets see it: say so."""
        budgets = self.config.budgets
        limited = any(
            getattr(limits, f"{period}_usd") is not None
            for limits in (budgets, budgets.per_tenant, *budgets.tiers.values(), *budgets.tenants.values())
            for period in PERIODS
        )
        unpriced = sorted({r.model for routes in self.routes.values() for r in routes if not _price_of(r.model, 1, 1)})
        if limited and unpriced:
            log.warning("models without a price in LiteLLM's list count as $0 against the budgets: %s",
                        ", ".join(unpriced))  # fmt: skip

    def may_fall_back_to(self, tier: str, tenant: str) -> bool:
        """Whether a call may fall back to `tier`: it has models and none of its budgets is spent (blocking I/O)."""
        if not self.has(tier):
            return False
        try:
            self.check_budget(tier, tenant)
        except BudgetExceeded:
            return False
        return True

    def _params(self, route: ModelRoute) -> dict[str, Any]:
        params: dict[str, Any] = {"model": route.model}
        if route.api_key:
            params["api_key"] = expand_env(route.api_key, self._environ)
        if route.api_base:
            params["api_base"] = expand_env(route.api_base, self._environ)
        return params

    def deployed(self, deployment: Any) -> str | None:
        """The model behind a Router deployment id (`fast/1`): the one that answered, after any fallback."""
        tier, _, index = str(deployment).partition("/")
        routes = self.routes.get(tier, [])
        return routes[int(index)].model if index.isdigit() and int(index) < len(routes) else None

    def resolve(self, tier: str) -> str:
        """The tier that answers for `tier`: itself, or the other one when it has no model; never when offline."""
        if self.offline:
            raise RuntimeError("no model is configured (offline mode); the caller must not ask for one")
        return tier if self.has(tier) else "premium" if self.has("premium") else "fast"

    def chat_model(self, tier: str, usage: RunUsage, choice: TierChoice | None = None) -> BaseChatModel:
        """A chat model for `tier`, falling back to the other tier unless the step is critical (premium by rule:
        a critical answer must not silently come from the fast tier) or that tier's budget is spent; never called
        when offline."""
        tier = self.resolve(tier)
        critical = choice is not None and choice.by == "rule" and choice.tier == "premium"
        return _tier_chat_model()(
            router=self.litellm_router(across_tiers=True), model=f"{tier}/0", layer=self, tenant=usage.tenant,
            across_tiers=not critical, callbacks=[UsageRecorder(self, tier, usage, choice)],
        )  # fmt: skip

    def routed_model(self, step: Step, task: str, complexity: str, usage: RunUsage) -> BaseChatModel:
        """The chat model for a step that could use either tier, as `choose_tier` decides; the decision goes into
        the run's usage. With only one tier configured, that one."""
        if not (self.has("fast") and self.has("premium")):
            return self.chat_model("premium", usage)
        choice = choose_tier(step, task, complexity, self.router_threshold)
        usage.routing.append(choice.as_dict())
        return self.chat_model(choice.tier, usage, choice)

    def panel(self, usage: RunUsage) -> list[tuple[str, BaseChatModel]]:
        """One chat model per panel member (different families), for cross-checks."""
        _use_bundled_prices()
        from langchain_litellm import ChatLiteLLMRouter

        router = self.litellm_router(across_tiers=True) if self.has("panel") else None
        return [
            (route.model, ChatLiteLLMRouter(router=router, model=name,
                                            callbacks=[UsageRecorder(self, "panel", usage)]))
            for name, route in _named("panel", self.routes.get("panel", []))
        ]  # fmt: skip

    def price(self, tier: str, input_tokens: int, output_tokens: int) -> float | None:
        """What the tier's first model charges for these tokens (LiteLLM's cost map); None when it is unpriced."""
        return _price_of(self.routes[tier][0].model, input_tokens, output_tokens) if self.has(tier) else None

    # -- budgets and the call log ---------------------------------------------------------------------
    def budgets(self) -> dict[str, float | None]:
        """The installation's spending limits by period (the models admin's overrides first, then the config)."""
        overrides = self._overrides.get("budgets", {})
        return {period: overrides.get(period, getattr(self.config.budgets, f"{period}_usd")) for period in PERIODS}

    def check_budget(self, tier: str, tenant: str) -> None:
        """Before a call: refuse it when any budget it counts toward (the installation's, its tier's, its
        tenant's) is spent."""
        installation = Limits.model_validate({f"{p}_usd": limit for p, limit in self.budgets().items()})
        now = dt.datetime.now(dt.UTC)
        for scope, limits in (self.config.budgets.scopes(tier, tenant) | {"all": installation}).items():
            for period in PERIODS:
                limit = getattr(limits, f"{period}_usd")
                if limit is not None and self.ledger.spent(scope, period, now) >= limit:
                    whose = "model budget" if scope == "all" else f"model budget of {scope}"
                    raise BudgetExceeded(
                        f"the {period} {whose} (${limit:g}) is spent; raise it (models pool: set_budget, or "
                        f"models.budgets in the config) or wait for the next period"
                    )

    def record_call(
        self, tier: str, model: str, tokens: tuple[int, int], cost: float, saved: float, usage: RunUsage,
        choice: TierChoice | None,
    ) -> None:  # fmt: skip
        """Count a finished call toward the budgets and, unless switched off, append it to the call log."""
        now = dt.datetime.now(dt.UTC)
        self.ledger.add(tier, usage.tenant, cost, now)
        if not self.config.log_calls:
            return
        record = {
            "ts": now.isoformat(), "tier": tier, "model": model, "tenant": usage.tenant, "run_id": usage.run_id,
            "input_tokens": tokens[0], "output_tokens": tokens[1], "cost_usd": cost, "saved_usd": round(saved, 8),
            **({"choice": choice.as_dict()} if choice else {}),
        }  # fmt: skip
        self.calls.append(record)


def _named(tier: str, routes: list[ModelRoute]) -> list[tuple[str, ModelRoute]]:
    """The Router's name of each of a tier's models: `fast/0`, `fast/1`, ..."""
    return [(f"{tier}/{index}", route) for index, route in enumerate(routes)]


def _price_of(model: str, input_tokens: int, output_tokens: int) -> float | None:
    _use_bundled_prices()
    import litellm

    try:
        prompt, completion = litellm.cost_per_token(
            model=model, prompt_tokens=input_tokens, completion_tokens=output_tokens
        )
    except Exception:  # LiteLLM raises bare Exceptions for models missing from its map
        return None
    return float(prompt) + float(completion)


@cache
def _tier_chat_model() -> type[BaseChatModel]:
    """LangChain's LiteLLM Router chat model, choosing per call whether it may fall back to the other tier (built
    on first use: importing LiteLLM takes seconds, which a CLI that never calls a model should not pay)."""
    _use_bundled_prices()
    from langchain_litellm import ChatLiteLLMRouter

    class TierChatModel(ChatLiteLLMRouter):
        layer: Any
        tenant: str = "local"
        across_tiers: bool = True

        def _router_for_call(self) -> Any:
            other = "premium" if self.model.startswith("fast/") else "fast"
            across = self.across_tiers and self.layer.may_fall_back_to(other, self.tenant)
            return self.layer.litellm_router(across_tiers=across)

        # The Router retries and falls back itself (models.resilience); LangChain's own retry would stack on it.
        def completion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
            return self._router_for_call().completion(**kwargs)

        async def acompletion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
            router = await asyncio.to_thread(self._router_for_call)  # the budget check reads a file or Redis
            return await router.acompletion(**kwargs)

    return TierChatModel


def _use_bundled_prices() -> None:
    """LiteLLM downloads a price list when first imported unless told to use the one it ships (no network here,
    and prices should not change under a running process)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
