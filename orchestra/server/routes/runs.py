"""`/threads/{id}/runs` and stateless `/runs`: create a run (background, wait, stream), list, read, join, rejoin a
stream (`Last-Event-ID`), cancel and delete."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from orchestra.routing.outcomes import record_feedback
from orchestra.server.bodies import JsonRoute
from orchestra.server.deps import Parts, ServerParts, Tenant
from orchestra.server.errors import Conflict, Unprocessable
from orchestra.server.jsonio import JsonReply
from orchestra.server.records import RunRecord, now_iso
from orchestra.server.responses import RunEventStream, RunResult
from orchestra.server.routes.threads import checked_uuid, load_thread
from orchestra.server.schemas import Feedback, RunCreate

router = APIRouter(tags=["runs"], route_class=JsonRoute)


def _paths(run: RunRecord) -> tuple[str, str]:
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    return base, f"{base}/stream"


def _on_disconnect(server: ServerParts, run: RunRecord, cancel: bool) -> Callable[[], Awaitable[None]] | None:
    return (lambda: server.manager.cancel(run, "interrupt")) if cancel else None


async def _wait_reply(server: ServerParts, run: RunRecord, cancel_on_disconnect: bool) -> RunResult:
    base, _ = _paths(run)
    return RunResult(
        await server.broker.subscribe(run.run_id, -1, live=run.active), heartbeat=server.config.runs.stream_heartbeat,
        headers={"Location": f"{base}/join", "Content-Location": base},
        on_disconnect=_on_disconnect(server, run, cancel_on_disconnect),
        fallback=lambda: server.manager.outcome(run),
    )  # fmt: skip


async def _stream_reply(
    server: ServerParts, run: RunRecord, after: int | None, modes: set[str] | None, cancel_on_disconnect: bool
) -> RunEventStream:
    base, stream = _paths(run)
    return RunEventStream(
        await server.broker.subscribe(run.run_id, after, live=run.active), modes=modes, metrics=server.metrics,
        heartbeat=server.config.runs.stream_heartbeat, headers={"Location": stream, "Content-Location": base},
        on_disconnect=_on_disconnect(server, run, cancel_on_disconnect),
    )  # fmt: skip


# Runs on a thread ------------------------------------------------------------------------------------------------


@router.post("/threads/{thread_id}/runs", summary="Create a run in the background")
async def create(thread_id: str, body: RunCreate, server: Parts, tenant: Tenant) -> JsonReply:
    run = await server.manager.create(tenant, checked_uuid(thread_id), body)
    return JsonReply(run.to_api(), headers={"Content-Location": _paths(run)[0]})


@router.post("/threads/{thread_id}/runs/wait", summary="Create a run and answer with its final values")
async def wait(thread_id: str, body: RunCreate, server: Parts, tenant: Tenant) -> RunResult:
    run = await server.manager.create(tenant, checked_uuid(thread_id), body)
    return await _wait_reply(server, run, body.on_disconnect == "cancel")


@router.post("/threads/{thread_id}/runs/stream", summary="Create a run and stream its events (SSE)")
async def stream(thread_id: str, body: RunCreate, server: Parts, tenant: Tenant) -> RunEventStream:
    run = await server.manager.create(tenant, checked_uuid(thread_id), body)
    return await _stream_reply(server, run, -1, None, body.on_disconnect == "cancel")


@router.get("/threads/{thread_id}/runs", summary="The thread's runs, newest first")
async def list_runs(
    thread_id: str, server: Parts, tenant: Tenant, limit: Annotated[int, Query(ge=0, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0, status: str | None = None,
) -> JsonReply:  # fmt: skip
    thread = await load_thread(server, tenant, thread_id)
    runs = await server.store.list_runs(tenant, thread.thread_id)
    runs = [run for run in runs if status is None or run.status == status]
    return JsonReply([run.to_api() for run in runs[offset : offset + limit]])


@router.get("/threads/{thread_id}/runs/{run_id}", summary="One run")
async def get(thread_id: str, run_id: str, server: Parts, tenant: Tenant) -> JsonReply:
    run = await server.manager.get(tenant, checked_uuid(thread_id), checked_uuid(run_id, "run ID"))
    return JsonReply(run.to_api())


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204, summary="Delete a run that has ended")
async def delete(thread_id: str, run_id: str, server: Parts, tenant: Tenant) -> Response:
    run = await server.manager.get(tenant, checked_uuid(thread_id), checked_uuid(run_id, "run ID"))
    if run.active:
        raise Conflict(f"Run {run.run_id} is {run.status}; cancel it first (POST .../cancel)")
    await server.store.delete_run(tenant, run.run_id)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run to end; its final values")
async def join(
    thread_id: str, run_id: str, server: Parts, tenant: Tenant, cancel_on_disconnect: bool = False
) -> RunResult:
    run = await server.manager.get(tenant, checked_uuid(thread_id), checked_uuid(run_id, "run ID"))
    return await _wait_reply(server, run, cancel_on_disconnect)


@router.get("/threads/{thread_id}/runs/{run_id}/stream", summary="Join a run's event stream (SSE)")
async def join_stream(
    thread_id: str, run_id: str, server: Parts, tenant: Tenant, cancel_on_disconnect: bool = False,
    stream_mode: Annotated[list[str] | None, Query(description="Only these modes (a subset of the run's).")] = None,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id; -1 replays all.")] = None,
) -> RunEventStream:  # fmt: skip
    run = await server.manager.get(tenant, checked_uuid(thread_id), checked_uuid(run_id, "run ID"))
    after: int | None = None
    if last_event_id is not None and last_event_id.strip():
        try:
            after = int(last_event_id)
        except ValueError:
            raise Unprocessable("Last-Event-ID: send the id of the last event received (an integer)") from None
    modes = {m for value in stream_mode or [] for m in value.strip("[]").replace('"', "").split(",") if m.strip()}
    return await _stream_reply(server, run, after, modes or None, cancel_on_disconnect)


@router.post("/threads/{thread_id}/runs/{run_id}/feedback", status_code=201, summary="Thumbs up or down on a run")
async def feedback(thread_id: str, run_id: str, body: Feedback, server: Parts, tenant: Tenant) -> JsonReply:
    thread_id, run_id = checked_uuid(thread_id), checked_uuid(run_id, "run ID")
    async with server.locks.hold(tenant, thread_id):  # once per run, even for requests that arrive together
        run = await server.manager.get(tenant, thread_id, run_id)
        if run.status != "success":
            raise Conflict(f"Run {run.run_id} is {run.status}; feedback is for runs that answered (status success)")
        given = (run.metadata or {}).get("feedback")
        if given:  # a verdict cannot be flipped back and forth, and the log cannot be flooded
            raise Conflict(f"Run {run.run_id} already has thumbs {given.get('thumbs')}; feedback is given once per run")
        feedback = {"thumbs": body.thumbs, "at": now_iso()}
        await server.store.put_run(run.updated(metadata={**(run.metadata or {}), "feedback": feedback}))
    good = body.thumbs == "up"
    await asyncio.to_thread(record_feedback, server.outcomes, tenant, run.thread_id, run.run_id, good, body.comment)
    return JsonReply({"run_id": run.run_id, **feedback}, status_code=201)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", summary="Stop a run (interrupt keeps its steps)")
async def cancel(
    thread_id: str, run_id: str, server: Parts, tenant: Tenant, wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:  # fmt: skip
    run = await server.manager.get(tenant, checked_uuid(thread_id), checked_uuid(run_id, "run ID"))
    await server.manager.cancel(run, action)
    if wait:
        return await _wait_reply(server, run, False)  # type: ignore[return-value]
    return Response(status_code=202)


# Stateless runs: a temporary thread, deleted when the run ends (unless on_completion is "keep") ---------------------


@router.post("/runs", summary="Create a stateless run in the background")
async def create_stateless(body: RunCreate, server: Parts, tenant: Tenant) -> JsonReply:
    run = await server.manager.create(tenant, None, body)
    return JsonReply(run.to_api(), headers={"Content-Location": _paths(run)[0]})


@router.post("/runs/wait", summary="Run a graph statelessly and answer with its final values")
async def wait_stateless(body: RunCreate, server: Parts, tenant: Tenant) -> RunResult:
    run = await server.manager.create(tenant, None, body)
    return await _wait_reply(server, run, body.on_disconnect == "cancel")


@router.post("/runs/stream", summary="Run a graph statelessly and stream its events (SSE)")
async def stream_stateless(body: RunCreate, server: Parts, tenant: Tenant) -> RunEventStream:
    run = await server.manager.create(tenant, None, body)
    return await _stream_reply(server, run, -1, None, body.on_disconnect == "cancel")
