"""What a run carries from node to node, and what it needs from outside (tools, models) that is not state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict  # pydantic describes these on Python 3.11 (the server's schemas)

from orchestra.core.llm import LLMLayer, RunUsage
from orchestra.tools.sessions import ThreadTools


class Evidence(TypedDict):
    """One tool call a report may cite as `[E3]`. The thread keeps its ledger from turn to turn."""

    id: str
    tool: str  # pool.tool
    arguments: dict[str, Any]
    ok: bool
    result: Any
    duration_ms: float
    at: NotRequired[float]  # when it ran (epoch seconds), so a later turn knows whether it is still fresh
    reused: NotRequired[str]  # the earlier evidence id this entry's result was taken from, instead of a new call


class Known(TypedDict, total=False):
    """What the thread has met so far, most recent first: what a follow-up's "them", "it", "their" refer to."""

    companies: list[dict[str, Any]]  # {name, domain}
    last_companies: list[dict[str, Any]]  # the companies of the latest turn that had any
    designs: list[dict[str, Any]]  # {name, file_key}
    deployments: list[dict[str, Any]]  # {project, url, id}


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Facts from later steps are added to, and may refine, facts from earlier ones."""
    return {**current, **update}


def ledger(current: list[Evidence], update: list[Evidence]) -> list[Evidence]:
    """New evidence appended once: a workflow run as a subgraph hands its whole state back to the supervisor,
    so entries the supervisor already holds arrive again and are skipped by id."""
    held = {e["id"] for e in current}
    return current + [e for e in update if e["id"] not in held]


def appended_once(current: list[Any], update: list[Any]) -> list[Any]:
    """Items appended in order, each once (the same subgraph hand-back as for the ledger)."""
    return current + [item for item in update if item not in current]


class ChatInput(TypedDict, total=False):
    """What a run takes: chat messages (the conversation so far, or the new turn), or `task` as a convenience."""

    messages: Annotated[list[AnyMessage], add_messages]
    task: str


class RunState(TypedDict, total=False):
    """The thread's state. `messages`, `evidence` and `known` last the thread's life; the rest is this turn's,
    reset when a new turn starts."""

    messages: Annotated[list[AnyMessage], add_messages]
    task: str  # this turn's request as a standalone task (a follow-up's references resolved)
    turn_started: int  # how much evidence the thread had when this turn began
    known: Known
    triage: dict[str, Any]
    evidence: Annotated[list[Evidence], ledger]
    facts: Annotated[dict[str, Any], merge]  # what the workflow steps found, by topic
    answer: str
    flags: Annotated[list[str], appended_once]  # cross-check findings and other warnings shown with the answer
    approvals: Annotated[list[dict[str, Any]], appended_once]
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
    evidence_fresh_for: float = 600.0  # seconds a read-only tool result may be reused by a later turn

    @property
    def screenshots_dir(self) -> Path:
        return screenshots_under(self.reports_dir.parent)


def screenshots_under(data_dir: Path) -> Path:
    """Where the browser pool saves screenshots asked for by absolute path (inside its output folder)."""
    return data_dir / "playwright" / "screenshots"
