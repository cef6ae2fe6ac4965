"""The run context of a node: what `orchestra run` passes in, or, for graphs served to many threads (`orchestra
serve`, `langgraph dev`), one per run from `ServedContexts`, with tool sessions kept per conversation thread."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict

from langgraph.config import get_config
from langgraph.runtime import Runtime

from orchestra.core.llm import LLMLayer, RunUsage
from orchestra.core.settings import OrchestraSettings, load_settings, runtime_environment
from orchestra.graphs.state import RunContext
from orchestra.tools.gateway_client import DEFAULT_GATEWAY, auth_headers
from orchestra.tools.sessions import ThreadTools, ToolSessions


class ServedContexts:
    """Run contexts for a process serving many threads: one LLM layer, and each thread's tool sessions (its
    browser stays open from one run of the thread to the next), held until `aclose`.

    Build it with `create` (its constructor reads files, which must not happen on the event loop)."""

    def __init__(
        self, settings: OrchestraSettings, environ: dict[str, str], gateway_url: str, headers: dict[str, str]
    ) -> None:
        self.settings = settings
        self.llm = LLMLayer(settings.models, environ, settings.data_dir, settings.server.key_prefix)
        self.sessions = ToolSessions(gateway_url, headers)

    @classmethod
    async def create(
        cls, settings: OrchestraSettings, environ: dict[str, str], gateway_url: str, headers: dict[str, str]
    ) -> ServedContexts:
        return await asyncio.to_thread(cls, settings, environ, gateway_url, headers)

    def for_run(self, thread_id: str, tenant: str = "local", run_id: str = "") -> RunContext:
        """A fresh context for one run of `thread_id` (its own usage count, charged to `tenant`), over the thread's
        tool sessions."""
        context = run_context(self.settings, self.sessions.for_thread(thread_id), self.llm)
        context.usage = RunUsage(tenant=tenant, run_id=run_id)
        return context

    async def aclose(self) -> None:
        await self.sessions.aclose()


def run_context(settings: OrchestraSettings, tools: ThreadTools, llm: LLMLayer) -> RunContext:
    """A run's context over these tools and models, with the settings' routing choices."""
    routing = settings.routing
    return RunContext(
        tools=tools,
        llm=llm,
        reports_dir=settings.data_dir / "reports",
        auto_approve_pools=frozenset(routing.approvals.auto_approve_pools),
        triage_model_below=routing.triage.model_below_confidence,
        evidence_fresh_for=routing.follow_ups.evidence_fresh_for,
    )


_served: ServedContexts | None = None
_runs: OrderedDict[str, RunContext] = OrderedDict()
_RUNS_KEPT = 64


def _from_environment() -> ServedContexts:
    settings = load_settings()
    gateway = os.environ.get("ORCHESTRA_GATEWAY_URL", DEFAULT_GATEWAY)
    return ServedContexts(settings, runtime_environment(settings), gateway, auth_headers())


async def warm_up() -> None:
    """Build the contexts of a server that brings none of its own (`langgraph dev`), off the event loop; the graph
    factories in `studio.py` call this, so no node ever reads a file on the loop."""
    global _served
    if _served is None:
        _served = await asyncio.to_thread(_from_environment)


def context_of(runtime: Runtime[RunContext]) -> RunContext:
    if isinstance(runtime.context, RunContext):
        return runtime.context
    if _served is None:
        raise RuntimeError("no run context: pass context=RunContext(...) or serve the graphs from studio.py")
    configurable = get_config().get("configurable", {})
    thread_id = str(configurable.get("thread_id", "default"))
    run_id = str(get_config().get("metadata", {}).get("run_id", thread_id))
    if run_id not in _runs:  # one context per run, so its usage is counted once across every node
        _runs[run_id] = _served.for_run(thread_id, run_id=run_id)
        while len(_runs) > _RUNS_KEPT:
            _runs.popitem(last=False)
    return _runs[run_id]
