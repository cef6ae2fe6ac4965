"""The `models:` section: LiteLLM model tiers, budgets, and the local log of model calls.

Tiers: `fast` for low-complexity work, `premium` for high, `panel` (two or three models of different families)
for cross-checks. A model whose key reference is unset is not usable; when no tier has a usable model,
Orchestra runs offline and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestra.core.envref import env_references

TierName = Literal["fast", "premium", "panel"]


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


class Budgets(_Section):
    """Spending limits for model calls, in US dollars (LiteLLM's cost map prices the calls)."""

    daily_usd: float | None = Field(None, gt=0, description="Spend per UTC day; unset means no limit.")
    monthly_usd: float | None = Field(None, gt=0, description="Spend per calendar month; unset means no limit.")


class ModelsConfig(_Section):
    """Model tiers for LiteLLM, budgets, and the local call log."""

    tiers: dict[TierName, list[ModelRoute]] = Field(default_factory=dict, description="Models per tier, in order.")
    budgets: Budgets = Field(default_factory=Budgets, description="Spending limits.")
    log_calls: bool = Field(
        True, description="Record every model call (model, tokens, cost) in `<data_dir>/llm-usage.jsonl`."
    )


def usage_log_path(data_dir: Path) -> Path:
    """Where model calls are recorded, one JSON object per line."""
    return data_dir / "llm-usage.jsonl"
