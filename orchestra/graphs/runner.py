"""Running one task on a thread: the supervisor graph with a checkpointer, tools, models, and progress events."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from orchestra.core.llm import LLMLayer
from orchestra.core.settings import OrchestraSettings
from orchestra.graphs.state import RunContext
from orchestra.graphs.supervisor import build_graph
from orchestra.tools.sessions import ThreadTools

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


def save_report(reports_dir: Path, thread_id: str, task: str, answer: str, flags: list[str]) -> Path:
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower())[:48].strip("-") or "report"
    path = reports_dir / f"{stamp}-{slug}-{thread_id[:8]}.md"
    warnings = "".join(f"\n> **Cross-check:** {flag}" for flag in flags)
    path.write_text(f"{answer}\n{warnings}\n\n---\nTask: {task}\nThread: {thread_id}\n", encoding="utf-8")
    return path


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
    """Run (or resume) `task` on `thread_id`; approvals are asked through `approve` as they come."""
    thread_id = thread_id or new_thread_id()
    tools = ThreadTools(gateway_url, headers)
    context = RunContext(
        tools=tools,
        llm=LLMLayer(settings.models, environ, settings.data_dir),
        reports_dir=settings.data_dir / "reports",
        auto_approve_pools=frozenset(settings.routing.approvals.auto_approve_pools),
        triage_model_below=settings.routing.triage.model_below_confidence,
    )  # fmt: skip
    graph = build_graph().compile(checkpointer=checkpointer)
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    notify = progress or (lambda kind, data: None)
    seen: set[str] = set()  # a subgraph's evidence comes again in its parent's update
    pending: Any = {"task": task, "evidence": [], "flags": [], "facts": {}, "approvals": []}
    try:
        snapshot = await graph.aget_state(config, subgraphs=True)
        seen.update(e["id"] for e in _all_evidence(snapshot))  # progress shows only the calls this run makes
        if snapshot.next and snapshot.values.get("task") == task:
            pending = None  # a run of this task was interrupted on this thread: resume from its last checkpoint
            notify("resume", {"next": list(snapshot.next)})
        while True:
            # "sync": each step's checkpoint is written before the next step starts, so a run killed mid-way
            # resumes at the step it was in (the default writes in the background and may lose the last step).
            async for namespace, update in graph.astream(
                pending, config, context=context, stream_mode="updates", subgraphs=True, durability="sync"
            ):
                for node, values in update.items():
                    _report_progress(notify, node, values, namespace, seen)
            state = await graph.aget_state(config)
            interrupts = [i for task_ in state.tasks for i in task_.interrupts]
            if not interrupts:
                break
            if approve is None:
                raise PermissionError(f"the run needs an approval and no approver is present: {interrupts[0].value}")
            pending = Command(resume=await _decide(interrupts[0].value, approve, notify))
    finally:
        await tools.aclose()
    values = state.values
    answer, flags = values.get("answer", ""), values.get("flags", [])
    report = None
    if answer:
        report = await asyncio.to_thread(save_report, context.reports_dir, thread_id, task, answer, flags)
    return RunResult(thread_id, answer, values.get("triage", {}), flags, bool(values.get("model_used")),
                     context.usage.as_dict(), report, values.get("evidence", []))  # fmt: skip


def _all_evidence(snapshot: Any) -> list[dict[str, Any]]:
    """Evidence in a state snapshot and in the snapshots of its interrupted subgraphs."""
    found = list(snapshot.values.get("evidence", []))
    for task_ in snapshot.tasks:
        if task_.state is not None and hasattr(task_.state, "values"):
            found += _all_evidence(task_.state)
    return found


async def _decide(request: dict[str, Any], approve: Approver, notify: Progress) -> Any:
    """Ask about each gated call, whether the request is a workflow's (one call) or a specialist agent's
    (LangChain's human-in-the-loop batch), and answer in the form that asked."""
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


def _report_progress(notify: Progress, node: str, values: Any, namespace: tuple[str, ...], seen: set[str]) -> None:
    if not isinstance(values, dict):
        return
    if node == "route" and "triage" in values:
        notify("triage", values["triage"])
    for item in values.get("evidence", []):
        if item["id"] not in seen:
            seen.add(item["id"])
            notify("tool", dict(item))
