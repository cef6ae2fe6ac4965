"""The served graphs as LangGraph API assistants: one per graph, its id the UUID LangGraph derives from the graph
id (so ids match `langgraph dev`'s), and either that id or the graph id accepted wherever an assistant is named."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from orchestra.server.checkpoints import TenantSaver

# The namespace the LangGraph API derives an assistant id from its graph id with (uuid5), kept for equal ids.
_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


@dataclass(frozen=True)
class Assistant:
    assistant_id: str
    graph_id: str
    created_at: str
    description: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id, "graph_id": self.graph_id, "name": self.graph_id,
            "description": self.description, "config": {}, "context": {}, "metadata": {"created_by": "system"},
            "version": 1, "created_at": self.created_at, "updated_at": self.created_at,
        }  # fmt: skip


class GraphRegistry:
    """The graphs this server runs, each copied per tenant with that tenant's view of the checkpointer."""

    def __init__(self, graphs: Mapping[str, CompiledStateGraph], saver: BaseCheckpointSaver, started_at: str) -> None:
        self._graphs = dict(graphs)
        self._saver = saver
        self._copies: dict[tuple[str, str], CompiledStateGraph] = {}
        self._savers: dict[str, TenantSaver] = {}
        self.assistants = [
            Assistant(str(uuid.uuid5(_ASSISTANT_NAMESPACE, graph_id)), graph_id, started_at,
                      getattr(graph, "description", None))
            for graph_id, graph in self._graphs.items()
        ]  # fmt: skip
        self._by_id = {a.assistant_id: a for a in self.assistants} | {a.graph_id: a for a in self.assistants}

    def resolve(self, assistant_id: str) -> Assistant | None:
        """The assistant named by its UUID or by its graph id."""
        return self._by_id.get(assistant_id)

    def base(self, graph_id: str) -> CompiledStateGraph:
        """The graph as compiled, without a checkpointer: for schemas and drawings."""
        return self._graphs[graph_id]

    def saver(self, tenant: str) -> TenantSaver:
        if tenant not in self._savers:
            self._savers[tenant] = TenantSaver(self._saver, tenant)
        return self._savers[tenant]

    def for_tenant(self, graph_id: str, tenant: str) -> CompiledStateGraph:
        """`graph_id` with `tenant`'s checkpointer (copies are cheap and cached)."""
        key = (graph_id, tenant)
        if key not in self._copies:
            self._copies[key] = self._graphs[graph_id].copy(update={"checkpointer": self.saver(tenant)})
        return self._copies[key]
