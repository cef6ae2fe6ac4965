"""The run context of a node: what `orchestra run` passes in, or, for graphs served by `langgraph dev`
(LangGraph Studio), one built from the environment, with tool sessions kept per conversation thread."""

from __future__ import annotations

import os
from functools import cache

from langgraph.config import get_config
from langgraph.runtime import Runtime

from orchestra.core.llm import LLMLayer
from orchestra.core.settings import OrchestraSettings, load_settings, runtime_environment
from orchestra.graphs.state import RunContext
from orchestra.tools.gateway_client import DEFAULT_GATEWAY, auth_headers
from orchestra.tools.sessions import ToolSessions


@cache
def _served() -> tuple[ToolSessions, LLMLayer, OrchestraSettings]:
    """Built once per serving process, on first use (never at import)."""
    settings = load_settings()
    sessions = ToolSessions(os.environ.get("ORCHESTRA_GATEWAY_URL", DEFAULT_GATEWAY), auth_headers())
    return sessions, LLMLayer(settings.models, runtime_environment(settings), settings.data_dir), settings


def context_of(runtime: Runtime[RunContext]) -> RunContext:
    if isinstance(runtime.context, RunContext):
        return runtime.context
    sessions, llm, settings = _served()
    thread_id = str(get_config().get("configurable", {}).get("thread_id", "default"))
    return RunContext(tools=sessions.for_thread(thread_id), llm=llm, reports_dir=settings.data_dir / "reports")
