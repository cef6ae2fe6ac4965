"""The `models:` section: LiteLLM model tiers, budgets, and the local log of model calls.

Tiers: `fast` for low-complexity work, `premium` for high, `panel` (two or three models of different families)
for cross-checks. A model whose key reference is unset is not usable; when no tier has a usable model,
Orchestra runs offline and says so.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestra.core.envref import env_references
from orchestra.sandbox.paths import SandboxPaths

TierName = Literal["fast", "premium", "panel"]
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # what an API key's tenant may be called


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRoute(_Section):
    """One model a tier may use, in LiteLLM's naming (`provider/model`)."""

    model: str = Field(description="LiteLLM model name, e.g. `openai/gpt-4.1-mini` or `anthropic/claude-sonnet-4-5`.")
    api_key: str | None = Field(None, description="Key reference, e.g. `${OPENAI_API_KEY}`; never the key itself.")
    api_base: str | None = Field(None, description="Base URL for self-hosted or proxy endpoints (Ollama, vLLM).")

    def usable(self, environ: dict[str, str]) -> bool:
        return not any(env_references(text, environ) for text in (self.api_key or "", self.api_base or ""))

    @property
    def family(self) -> str:
        """The provider, used to keep a panel's models from different families."""
        return self.model.split("/", 1)[0] if "/" in self.model else self.model.split("-", 1)[0]


class Limits(_Section):
    """Spending limits in US dollars (LiteLLM's cost map prices the calls); unset means no limit."""

    daily_usd: float | None = Field(None, gt=0, description="Spend per UTC day; unset means no limit.")
    monthly_usd: float | None = Field(None, gt=0, description="Spend per calendar month; unset means no limit.")


class Budgets(Limits):
    """Spending limits for model calls: for the installation (`daily_usd`, `monthly_usd`), per tier, and per tenant
    (an API key's owner on the server; `local` for the CLI). Checked before every call; spend is counted in Redis
    when `REDIS_URL` is set, so every replica sees it, else in `<data_dir>/llm-spend.jsonl`."""

    tiers: dict[TierName, Limits] = Field(default_factory=dict, description="Limits per tier, e.g. premium only.")
    per_tenant: Limits = Field(default_factory=Limits, description="Limits every tenant has on its own spend.")
    tenants: dict[str, Limits] = Field(
        default_factory=dict, description="Limits of named tenants, in place of `per_tenant` for them."
    )

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, tenants: dict[str, Limits]) -> dict[str, Limits]:
        wrong = [name for name in tenants if not TENANT_NAME.match(name)]
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not a tenant name (1-64 of a-z, 0-9, '_' and '-', starting with a "
                             "letter or digit), as `tenant=key` names them in ORCHESTRA_SERVER_KEYS")  # fmt: skip
        return tenants

    def scopes(self, tier: str, tenant: str) -> dict[str, Limits]:
        """The limits a call of `tenant` on `tier` must stay within, by the name of what they limit."""
        by_tier: dict[str, Limits] = dict(self.tiers)
        return {"all": self, f"tier {tier}": by_tier.get(tier, Limits()),
                f"tenant {tenant}": self.tenants.get(tenant, self.per_tenant)}  # fmt: skip


class Resilience(_Section):
    """How LiteLLM's Router rides out a failing provider: each tier's models are tried in order (a 5xx, timeout,
    rate limit or context-window error moves to the next one, then to the other tier), each retried a bounded
    number of times; a model that keeps failing is set aside for the cooldown."""

    timeout_s: float = Field(120, gt=0, description="Seconds a model call may take before it counts as failed.")
    retries: int = Field(2, ge=0, le=5, description="Retries of a model before moving to the next one.")
    cooldown_s: float = Field(30, ge=0, description="Seconds a model that keeps failing is set aside.")
    allowed_fails: int = Field(2, ge=0, description="Failures in a minute before a model is set aside.")


class ModelsConfig(_Section):
    """Model tiers for LiteLLM, budgets, and the local call log."""

    tiers: dict[TierName, list[ModelRoute]] = Field(default_factory=dict, description="Models per tier, in order.")
    budgets: Budgets = Field(default_factory=Budgets, description="Spending limits.")
    resilience: Resilience = Field(default_factory=Resilience, description="Retries, timeouts, cooldowns.")
    log_calls: bool = Field(
        True,
        description="Record every model call (model, tenant, tokens, cost, routing) in `<data_dir>/llm-usage.jsonl`,"
        " or a Redis stream when `REDIS_URL` is set.",
    )


def usage_log_path(data_dir: Path) -> Path:
    """Where model calls are recorded, one JSON object per line."""
    return data_dir / "llm-usage.jsonl"


def read_overrides(data_dir: Path) -> dict[str, Any]:
    """Routing, budget and router-threshold overrides written by the models admin server and `models calibrate`;
    the config file itself is never rewritten."""
    try:
        return json.loads(SandboxPaths.under(data_dir).models_admin.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def calibrated_threshold(overrides: dict[str, Any]) -> float | None:
    """The router threshold `orchestra models calibrate --write` saved, if a usable one is there."""
    router = overrides.get("router")
    value = router.get("threshold") if isinstance(router, dict) else None
    usable = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if usable else None  # type: ignore[arg-type]


def write_overrides(data_dir: Path, overrides: dict[str, Any]) -> None:
    path = SandboxPaths.under(data_dir).models_admin
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(overrides, indent=2, sort_keys=True))
    tmp.replace(path)  # atomic: a reader never sees half a file
