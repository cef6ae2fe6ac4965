"""What a run carries from node to node, and what it needs from outside (tools, models) that is not state."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from orchestra.core.llm import LLMLayer, RunUsage
from orchestra.tools.sessions import ThreadTools


class Evidence(TypedDict):
    """One tool call a report may cite as `[E3]`."""

    id: str
    tool: str  # pool.tool
    arguments: dict[str, Any]
    ok: bool
    result: Any
    duration_ms: float


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Facts from later steps are added to, and may refine, facts from earlier ones."""
    return {**current, **update}


class RunState(TypedDict, total=False):
    task: str
    triage: dict[str, Any]
    evidence: Annotated[list[Evidence], operator.add]
    facts: Annotated[dict[str, Any], merge]  # what the workflow steps found, by topic
    answer: str
    flags: Annotated[list[str], operator.add]  # cross-check findings and other warnings shown with the answer
    approvals: Annotated[list[dict[str, Any]], operator.add]
    report_path: str
    model_used: bool
    usage: dict[str, Any]


@dataclass
class RunContext:
    """Per-run dependencies, passed as LangGraph's runtime context (never checkpointed)."""

    tools: ThreadTools
    llm: LLMLayer
    reports_dir: Path
    usage: RunUsage = field(default_factory=RunUsage)
    auto_approve_pools: frozenset[str] = frozenset()
    triage_model_below: float = 0.5
