"""What a specialist is: its instructions, the gateway tier its tools come from, and how it picks a model."""

from __future__ import annotations

from dataclasses import dataclass

from orchestra.core.llm import TIER_FOR_COMPLEXITY


@dataclass(frozen=True)
class Specialist:
    domain: str
    tools_tier: str  # the gateway tier endpoint its tools are loaded from
    instructions: str
    offline_help: str  # what a user can do when no model is configured

    def model_tier(self, complexity: str) -> str:
        """Low -> fast, high and critical -> premium."""
        return TIER_FOR_COMPLEXITY.get(complexity, "premium")
