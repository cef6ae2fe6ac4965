"""The `routing:` section: how tasks are triaged and which tool calls need a person's approval."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestra.core.units import Duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriageConfig(_Section):
    """Triage runs a learned classifier and the cues locally, in about 2 ms; a model is asked only when unsure."""

    model_below_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Ask the `fast` model when triage's confidence (the learned model's probability of its labels) "
        "is below this (and a model is set).",
    )


class ApprovalsConfig(_Section):
    """Tool calls that change external state pause the run until a person approves, edits or rejects them."""

    auto_approve_pools: list[str] = Field(
        default_factory=list, description="Pools trusted to change state without asking, e.g. `[deploy]` in a sandbox."
    )


class FollowUpsConfig(_Section):
    """Later turns of a conversation build on what the thread already knows."""

    evidence_fresh_for: Duration = Field(
        600.0,
        description="A read-only, idempotent tool result the thread already holds is reused by a later turn for "
        "this long instead of being fetched again (the report says which evidence it reused); `0` never reuses.",
    )


class RoutingConfig(_Section):
    """Triage, follow-ups and approvals."""

    triage: TriageConfig = Field(default_factory=TriageConfig, description="Rules first, a model when unsure.")
    follow_ups: FollowUpsConfig = Field(default_factory=FollowUpsConfig, description="Reuse within a thread.")
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig, description="Who approves writes.")
