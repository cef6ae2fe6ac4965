"""What a specialist is: its instructions and the gateway tier its tools come from (its model tier is chosen per
task by `orchestra.routing.choice`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Specialist:
    domain: str
    tools_tier: str  # the gateway tier endpoint its tools are loaded from
    instructions: str
    offline_help: str  # what a user can do when no model is configured
