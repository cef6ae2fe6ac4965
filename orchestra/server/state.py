"""A LangGraph `StateSnapshot` in the shape of the LangGraph API's thread state (`/threads/{id}/state`)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import PregelTask, StateSnapshot

from orchestra.server.jsonio import interrupt_json


def checkpoint_of(config: RunnableConfig | None) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    found = {"thread_id": configurable["thread_id"], "checkpoint_ns": configurable.get("checkpoint_ns") or "",
             "checkpoint_id": configurable["checkpoint_id"]}  # fmt: skip
    if "checkpoint_map" in configurable:
        found["checkpoint_map"] = configurable["checkpoint_map"]
    return found


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data: values, next, tasks (with their interrupts and subgraph states), checkpoint."""
    parent = checkpoint_of(snapshot.parent_config)
    current = checkpoint_of(snapshot.config)
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [_task(task) for task in snapshot.tasks],
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": current,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": current["checkpoint_id"] if current else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def _task(task: PregelTask) -> dict[str, Any]:
    subgraph = task.state if isinstance(task.state, StateSnapshot) else None
    return {
        "id": task.id,
        "name": task.name,
        "path": list(task.path),
        "error": task.error,
        "interrupts": [interrupt_json(i) for i in task.interrupts],
        "checkpoint": task.state["configurable"] if task.state is not None and subgraph is None else None,
        "state": thread_state(subgraph) if subgraph is not None else None,
        "result": getattr(task, "result", None),
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """The state of a thread no run has written yet."""
    checkpoint = {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": None}
    return {
        "values": {}, "next": [], "tasks": [], "metadata": {}, "created_at": None, "checkpoint": checkpoint,
        "parent_checkpoint": None, "interrupts": [], "checkpoint_id": None, "parent_checkpoint_id": None,
    }  # fmt: skip


def pending_interrupts(snapshot: StateSnapshot) -> dict[str, list[dict[str, Any]]]:
    """Task id -> its interrupts waiting for an answer (the thread record's `interrupts`)."""
    return {task.id: [interrupt_json(i) for i in task.interrupts] for task in snapshot.tasks if task.interrupts}
