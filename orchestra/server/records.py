"""Thread and run records: what the server keeps about threads and runs besides the checkpoints themselves, in the
shapes the LangGraph API answers with. Every record belongs to one tenant; the tenant never leaves the server."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]
MultitaskStrategy = Literal["reject", "enqueue", "interrupt", "rollback"]

ACTIVE_RUN_STATUSES: frozenset[str] = frozenset({"pending", "running"})


def now_iso() -> str:
    """UTC now in one fixed ISO format, so stored timestamps sort as text."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """A fresh thread or run id: a time-ordered UUID (v7), as the LangGraph API hands out (Python 3.11 has no
    `uuid.uuid7`), so ids sort by creation."""
    millis = time.time_ns() // 1_000_000
    raw = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


@dataclass
class ThreadRecord:
    """A conversation thread. `values` and `interrupts` mirror its last checkpoint, written when a run ends."""

    tenant: str
    thread_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: ThreadStatus = "idle"
    values: Any = None
    interrupts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    state_updated_at: str | None = None
    # False when read without `values` (they can be large): writing such a record back keeps the stored values.
    values_loaded: bool = True

    @classmethod
    def new(cls, tenant: str, thread_id: str, metadata: dict[str, Any] | None = None) -> ThreadRecord:
        stamp = now_iso()
        return cls(tenant, thread_id, stamp, stamp, dict(metadata or {}), state_updated_at=stamp)

    def updated(self, **changes: Any) -> ThreadRecord:
        return replace(self, updated_at=now_iso(), **changes)

    def to_api(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id, "created_at": self.created_at, "updated_at": self.updated_at,
            "state_updated_at": self.state_updated_at or self.updated_at, "metadata": self.metadata,
            "status": self.status, "values": self.values, "interrupts": self.interrupts, "config": self.config,
            "error": self.error,
        }  # fmt: skip


@dataclass
class RunRecord:
    """One run of a graph on a thread. `kwargs` holds what the client asked for (input, command, config, ...)."""

    tenant: str
    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    created_at: str
    updated_at: str
    status: RunStatus
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    multitask_strategy: MultitaskStrategy = "enqueue"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    @property
    def temporary(self) -> bool:
        """A stateless run's thread, deleted when the run ends."""
        return bool(self.kwargs.get("temporary"))

    def updated(self, **changes: Any) -> RunRecord:
        return replace(self, updated_at=now_iso(), **changes)

    def to_api(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "thread_id": self.thread_id, "assistant_id": self.assistant_id,
            "created_at": self.created_at, "updated_at": self.updated_at, "status": self.status,
            "metadata": self.metadata, "kwargs": self.kwargs, "multitask_strategy": self.multitask_strategy,
        }  # fmt: skip
