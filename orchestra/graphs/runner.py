"""Running one task on a thread: the supervisor graph with a checkpointer, tools, models, and progress events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from orchestra.core.settings import OrchestraSettings
from orchestra.graphs.context import ServedContexts
from orchestra.graphs.evidence import turn_evidence
from orchestra.graphs.state import RunContext
from orchestra.graphs.supervisor import build_graph
from orchestra.graphs.turns import text_of

Progress = Callable[[str, dict[str, Any]], None]
Approver = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class RunResult:
    thread_id: str
    answer: str
    triage: dict[str, Any]
    flags: list[str]
    model_used: bool
    usage: dict[str, Any]
    report_path: Path | None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id, "triage": self.triage, "answer": self.answer, "flags": self.flags,
            "model_used": self.model_used, "usage": self.usage,
            "report_path": str(self.report_path) if self.report_path else None,
            "evidence": [{k: e[k] for k in ("id", "tool", "ok", "duration_ms")} for e in self.evidence],
        }  # fmt: skip


def new_thread_id() -> str:
    """A fresh conversation thread id; `orchestra run` decides it before the run starts so it can print it first."""
    return uuid.uuid4().hex


async def run_task(
    task: str,
    *,
    settings: OrchestraSettings,
    environ: dict[str, str],
    gateway_url: str,
    checkpointer: BaseCheckpointSaver,
    thread_id: str | None = None,
    progress: Progress | None = None,
    approve: Approver | None = None,
    headers: dict[str, str] | None = None,
) -> RunResult:
    """Run `task` as the next turn of `thread_id` (or resume the same task where it was interrupted); approvals
    are asked through `approve` as they come, progress arrives as the graph's `custom` events."""
    thread_id = thread_id or new_thread_id()
    contexts = await ServedContexts.create(settings, environ, gateway_url, headers or {})
    try:
        context = contexts.for_run(thread_id, run_id=str(uuid.uuid4()))  # the call log's records name their run
        return await run_turn(task, context, checkpointer, thread_id, progress, approve)
    finally:
        await contexts.aclose()


async def run_turn(
    task: str,
    context: RunContext,
    checkpointer: BaseCheckpointSaver,
    thread_id: str,
    progress: Progress | None = None,
    approve: Approver | None = None,
    graph: CompiledStateGraph | None = None,
) -> RunResult:
    """`run_task` with a run context of the caller's (its tools and models; the evals bring recorded ones), and
    the supervisor graph compiled over `checkpointer` (by the caller when it runs many turns: compiling takes
    tens of milliseconds)."""
    graph = graph or build_graph().compile(checkpointer=checkpointer)
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    notify = progress or (lambda kind, data: None)
    pending: Any = {"task": task}
    snapshot = await graph.aget_state(config)
    if snapshot.next and _last_request(snapshot.values) == task:
        pending = None  # this task was interrupted on this thread: resume from its last checkpoint
        notify("resume", {"next": list(snapshot.next)})
    while True:
        # "sync": each step's checkpoint is written before the next step starts, so a run killed mid-way
        # resumes at the step it was in (the default writes in the background and may lose the last step).
        async for _, event in graph.astream(
            pending, config, context=context, stream_mode="custom", subgraphs=True, durability="sync"
        ):
            _report_progress(notify, event)
        state = await graph.aget_state(config)
        interrupts = [i for task_ in state.tasks for i in task_.interrupts]
        if not interrupts:
            break
        if approve is None:
            raise PermissionError(f"the run needs an approval and no approver is present: {interrupts[0].value}")
        pending = Command(resume=await _decide(interrupts[0].value, approve, notify))
    values = state.values
    report = Path(values["report_path"]) if values.get("report_path") else None
    return RunResult(thread_id, values.get("answer", ""), values.get("triage", {}), values.get("flags", []),
                     bool(values.get("model_used")), context.usage.as_dict(), report,
                     turn_evidence(values))  # fmt: skip


def _last_request(values: dict[str, Any]) -> str | None:
    humans = [m for m in values.get("messages", []) if isinstance(m, HumanMessage)]
    return text_of(humans[-1]) if humans else None


async def _decide(request: dict[str, Any], approve: Approver, notify: Progress) -> Any:
    """Ask about each gated call, whether the request is a workflow's (one call) or a specialist agent's
    (LangChain's human-in-the-loop batch), and answer in the form that asked."""
    if request.get("kind") == "choice":  # which of several things the user meant
        notify("choice", request)
        return await approve(request)
    if "action_requests" not in request:
        notify("approval", request)
        return await approve(request)
    decisions = []
    for action in request["action_requests"]:
        question = {"tool": action["name"], "arguments": action["args"], "reason": action.get("description", "")}
        notify("approval", question)
        answer = await approve(question)
        if answer.get("action") == "approve":
            decisions.append({"type": "approve"})
        elif answer.get("action") == "edit":
            edited = {"name": action["name"], "args": {**action["args"], **answer.get("arguments", {})}}
            decisions.append({"type": "edit", "edited_action": edited})
        else:
            decisions.append({"type": "reject", "message": "The user rejected this call."})
    return {"decisions": decisions}


def _report_progress(notify: Progress, event: Any) -> None:
    """The graph's `custom` events, as the CLI's progress lines: the triage, and each tool call as it ends."""
    if not isinstance(event, dict):
        return
    kind = event.get("event")
    if kind == "triage":
        notify("triage", event)
    elif kind == "turn" and event.get("resolved"):
        notify("follow_up", event)
    elif kind == "tool" and event.get("phase") == "end":
        notify("tool", {**event, "tool": f"{event['pool']}.{event['tool']}"})
