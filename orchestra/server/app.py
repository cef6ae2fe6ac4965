"""The FastAPI app of `orchestra serve`: its parts are built in the lifespan (checkpointer, record store, run
contexts, and the run machinery of `wiring.py`) and reach routes through `Depends`; tests pass graphs of their
own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from langgraph.graph.state import CompiledStateGraph

from orchestra.core.call_log import record_log
from orchestra.core.checkpoint import open_checkpointer
from orchestra.core.settings import OrchestraSettings
from orchestra.graphs.context import ServedContexts
from orchestra.graphs.state import screenshots_under
from orchestra.server.auth import Access
from orchestra.server.deps import ServerParts
from orchestra.server.errors import ApiError
from orchestra.server.graphs import GraphRegistry
from orchestra.server.guard import RequestGuard
from orchestra.server.jsonio import JsonReply
from orchestra.server.records import now_iso
from orchestra.server.routes import assistants, chat, meta, runs, threads
from orchestra.server.store import open_record_store
from orchestra.server.wiring import run_parts

log = logging.getLogger("orchestra.server")


def create_app(
    settings: OrchestraSettings,
    environ: Mapping[str, str],
    *,
    gateway_url: str,
    gateway_headers: Mapping[str, str] | None = None,
    graphs: Mapping[str, CompiledStateGraph] | None = None,
    host: str | None = None,
) -> FastAPI:
    """The app serving `graphs` (default: those of langgraph.json, from `orchestra.graphs.studio`), running their
    tools through the gateway at `gateway_url`. `host` is the address it is bound to (default `server.host`).
    Raises `AuthConfigError` when the keys in the environment cannot be used."""
    config = settings.server
    access = Access(config, environ)
    bound = host or config.host

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served = graphs
        if served is None:
            from orchestra.graphs.studio import GRAPHS

            served = GRAPHS
        redis_url = environ.get("REDIS_URL") or None
        async with contextlib.AsyncExitStack() as stack:
            saver = await stack.enter_async_context(open_checkpointer(settings.data_dir, redis_url))
            store = await stack.enter_async_context(open_record_store(settings.data_dir, redis_url, config.key_prefix))
            contexts = await ServedContexts.create(settings, dict(environ), gateway_url, dict(gateway_headers or {}))
            stack.push_async_callback(contexts.aclose)
            sweeper = asyncio.create_task(_release_idle_sessions(contexts, config.runs.tool_session_idle))
            stack.push_async_callback(_stopped, sweeper)
            registry = GraphRegistry(served, saver, now_iso())
            runs = await stack.enter_async_context(run_parts(config, registry, contexts, store, redis_url))
            runs.metrics.budgets(contexts.llm.budgets())
            info = await asyncio.to_thread(meta.server_info)
            outcomes = record_log("outcomes", {"REDIS_URL": redis_url or ""}, settings.data_dir, config.key_prefix)
            screenshots = screenshots_under(settings.data_dir)
            app.state.orchestra = ServerParts(config, registry, store, runs.manager, runs.broker, runs.locks,
                                              runs.metrics, info, screenshots, outcomes)  # fmt: skip
            try:
                yield
            finally:
                app.state.orchestra = None

    app = FastAPI(
        title="Orchestra server",
        summary="The LangGraph API subset that langgraph-sdk and agent-chat-ui use, over Orchestra's graphs.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # no interactive pages: they load scripts from the internet
        redoc_url=None,
        default_response_class=JsonReply,
    )
    app.state.access = access
    app.state.orchestra = None
    for router in (chat.router, meta.router, assistants.router, threads.router, runs.router):
        app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    if config.http.allowed_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(config.http.allowed_origins), allow_methods=["*"],
            allow_headers=["*"], expose_headers=["Content-Location", "Location"],
        )  # fmt: skip
    app.add_middleware(RequestGuard, access=access, bound_host=bound, max_bytes=config.http.max_request_bytes)
    return app


async def _release_idle_sessions(contexts: ServedContexts, idle_for: float) -> None:
    """Give back the tool sessions (browsers) of threads left idle, checking a few times per idle period."""
    while True:
        await asyncio.sleep(min(max(idle_for / 4, 1.0), 60.0))
        try:
            await contexts.sessions.release_idle(idle_for)
        except Exception:  # a session that fails to close must not stop the sweeping
            log.exception("releasing idle tool sessions failed")


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _api_error(request: Request, exc: ApiError) -> JsonReply:
    return JsonReply({"detail": exc.detail}, status_code=exc.status_code)


async def _validation_error(request: Request, exc: RequestValidationError) -> JsonReply:
    """422 naming each bad field, in one string as the LangGraph API words it (`{"detail": "..."}`)."""
    problems = []
    for error in exc.errors():
        if error["type"] == "json_invalid":  # FastAPI's loc is ("body", position): name the body, say what is wrong
            problems.append(f"body: not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})")
            continue
        where = ".".join(str(part) for part in error["loc"] if part not in ("body",)) or "body"
        problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return JsonReply({"detail": "; ".join(problems)}, status_code=422)
