"""A conversation turn: the chat message in, the report out as an AI message, the thread's memory updated.

`start_turn` takes the turn's request (the latest human message, or `task` as a convenience, which then becomes
that message), makes a follow-up standalone, and clears what the previous turn left in the per-turn fields.
`finish_turn` appends the answer as an AI message whose metadata carries the triage, evidence, flags, report
path and usage; saves the report; and remembers the turn's companies, designs and deployments for the next one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from orchestra.core.llm import usage_line
from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import turn_evidence
from orchestra.graphs.followups import remember, resolve
from orchestra.graphs.progress import emit
from orchestra.graphs.prompts import FOLLOW_UP
from orchestra.graphs.state import ChatInput, RunContext, RunState
from orchestra.graphs.visuals import visuals
from orchestra.graphs.workflows.company_facts import company_mentions


def text_of(message: AnyMessage) -> str:
    """A message's text, whether its content is a string or a list of content blocks."""
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if isinstance(b, dict)) if isinstance(content, list) else ""


def start_turn(then: str) -> Callable[[RunState, Runtime[RunContext]], Awaitable[Command[str]]]:
    """The first node of a chat graph, going on to `then`."""

    async def start(state: RunState, runtime: Runtime[RunContext]) -> Command[str]:
        return await _start(state, runtime, then)

    return start


async def _start(state: RunState, runtime: Runtime[RunContext], then: str) -> Command[str]:
    messages = state.get("messages", [])
    update: dict[str, Any] = {}
    if messages and isinstance(messages[-1], HumanMessage):
        request = text_of(messages[-1])
    else:
        request = state.get("task", "")
        update["messages"] = [HumanMessage(request)]
    if not request.strip():
        answer = "Send a message saying what to do, for example: Research copealo.example for our sales call."
        return Command(goto=END, update={"answer": answer, "messages": [AIMessage(answer)]})
    task, note = await _standalone(request, state, context_of(runtime))
    emit("turn", request=request, task=task, resolved=note)
    update |= {
        "task": task, "turn_started": len(state.get("evidence", [])), "triage": {}, "answer": "", "report_path": "",
        "facts": Overwrite({"follow_up": note} if note else {}), "flags": Overwrite([]), "approvals": Overwrite([]),
    }  # fmt: skip
    return Command(goto=then, update=update)


async def _standalone(request: str, state: RunState, context: RunContext) -> tuple[str, str | None]:
    known = state.get("known", {})
    earlier = [m for m in state.get("messages", []) if isinstance(m, HumanMessage | AIMessage)][:-1]
    if not earlier or not any(known.values()):
        return request, None  # a first turn, or nothing to refer back to
    if context.llm.offline:
        return resolve(request, known, company_mentions(request))
    conversation = "\n".join(f"{type(m).__name__.removesuffix('Message')}: {text_of(m)[:400]}" for m in earlier[-6:])
    prompt = FOLLOW_UP.format(known=json.dumps(known)[:3000], conversation=conversation, message=request)
    # Triage has not run yet, so the router decides from the message alone.
    reply = await context.llm.routed_model("follow_up", request, "high", context.usage).ainvoke([HumanMessage(prompt)])
    task = str(reply.content).strip().strip('"') or request
    return task, (f"rewritten by the fast model from “{request}”" if task != request else None)


async def finish_turn(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    context = context_of(runtime)
    answer, flags = state.get("answer", ""), state.get("flags", [])
    thread_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    report = await asyncio.to_thread(
        save_report, context.reports_dir, thread_id, state.get("task", ""), answer, flags, context.usage.as_dict()
    )
    shown = answer + "".join(f"\n\n> **Cross-check:** {flag}" for flag in flags)
    metadata = {
        "triage": state.get("triage", {}),
        "flags": flags,
        "report_path": str(report),
        "model_used": bool(state.get("model_used")),
        "usage": context.usage.as_dict(),
        "usage_line": usage_line(context.usage.as_dict()),
        "run_id": context.usage.run_id,  # the server's run: what thumbs up or down on this answer refer to
        "evidence": [{k: v for k, v in e.items() if k != "result"} for e in turn_evidence(state)],
        "approvals": state.get("approvals", []),
        "visuals": visuals(state.get("facts", {})),
    }
    return {
        "messages": [AIMessage(shown, response_metadata={"orchestra": metadata})],
        "report_path": str(report),
        "known": remember(state.get("known", {}), state.get("facts", {})),
        "usage": context.usage.as_dict(),
    }


def save_report(
    reports_dir: Path, thread_id: str, task: str, answer: str, flags: list[str], usage: dict[str, Any]
) -> Path:
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower())[:48].strip("-") or "report"
    path = reports_dir / f"{stamp}-{slug}-{thread_id[:8]}.md"
    warnings = "".join(f"\n> **Cross-check:** {flag}" for flag in flags)
    footer = f"Task: {task}\nThread: {thread_id}\nModels: {usage_line(usage)}\n"
    path.write_text(f"{answer}\n{warnings}\n\n---\n{footer}", encoding="utf-8")
    return path


def chat_graph(name: str, body: StateGraph, context_schema: type[RunContext] | None) -> StateGraph:
    """`body` (a workflow) as a graph of its own that takes chat input: start_turn -> body -> finish_turn."""
    graph = StateGraph(RunState, input_schema=ChatInput, context_schema=context_schema)
    graph.add_node("start_turn", start_turn(then=name), destinations=(name, END))
    graph.add_node(name, body.compile())
    graph.add_node("finish_turn", finish_turn)
    graph.add_edge(START, "start_turn")
    graph.add_edge(name, "finish_turn")
    graph.add_edge("finish_turn", END)
    return graph
