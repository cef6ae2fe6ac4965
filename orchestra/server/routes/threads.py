"""`/threads`: create, search, read, patch and delete a tenant's threads; read their state and history."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from langgraph.errors import EmptyInputError, InvalidUpdateError
from langgraph.graph.state import CompiledStateGraph

from orchestra.server.bodies import JsonRoute
from orchestra.server.deps import Parts, ServerParts, Tenant
from orchestra.server.errors import BadRequest, Conflict, NotFound, Unprocessable, thread_not_found
from orchestra.server.jsonio import JsonReply, normalized
from orchestra.server.records import ThreadRecord, new_id
from orchestra.server.schemas import (
    CheckpointRef,
    HistoryRequest,
    StateAtCheckpoint,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from orchestra.server.state import checkpoint_of, empty_state, pending_interrupts, thread_state

router = APIRouter(prefix="/threads", tags=["threads"], route_class=JsonRoute)


def checked_uuid(value: str, what: str = "thread ID") -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Unprocessable(f"Invalid {what}: must be a UUID") from None


async def load_thread(server: ServerParts, tenant: str, thread_id: str) -> ThreadRecord:
    """The tenant's thread, or 404 (the same answer whether it does not exist or is another tenant's)."""
    thread = await server.store.get_thread(tenant, checked_uuid(thread_id))
    if thread is None:
        raise thread_not_found(thread_id)
    return thread


def contains(document: Any, wanted: Any) -> bool:
    """JSON containment, as Postgres `@>` (the LangGraph API's metadata and values filters)."""
    if isinstance(wanted, dict):
        return isinstance(document, dict) and all(k in document and contains(document[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(document, list) and all(any(contains(d, w) for d in document) for w in wanted)
    return document == wanted


@router.post("", summary="Create a thread")
async def create(body: ThreadCreate, server: Parts, tenant: Tenant) -> JsonReply:
    thread_id = checked_uuid(body.thread_id) if body.thread_id else new_id()
    metadata = {**(body.metadata or {}), **({"graph_id": body.graph_id} if body.graph_id else {})}
    thread = ThreadRecord.new(tenant, thread_id, metadata)
    if not await server.store.create_thread(thread):
        if body.if_exists == "raise":
            raise Conflict(f"Thread with ID {thread_id} already exists")
        thread = await load_thread(server, tenant, thread_id)
    return JsonReply(thread.to_api())


@router.post("/search", summary="Search the caller's threads by metadata, values, status or ids")
async def search(body: ThreadSearch, server: Parts, tenant: Tenant) -> JsonReply:
    found = await _matching(server, tenant, body.metadata, body.values, body.status, body.ids)
    key = body.sort_by or "updated_at"
    found.sort(
        key=lambda t: (getattr(t, key) or "", t.thread_id), reverse=(body.sort_order or "desc").lower() == "desc"
    )
    page = [t.thread_id for t in found[body.offset : body.offset + body.limit]]
    answers = [t.to_api() for t in await server.store.get_threads(tenant, page)]
    if body.select:
        answers = [{k: v for k, v in answer.items() if k in body.select} for answer in answers]
    return JsonReply(answers)


@router.post("/count", summary="Count the caller's threads matching a filter")
async def count(body: ThreadCount, server: Parts, tenant: Tenant) -> JsonReply:
    return JsonReply(len(await _matching(server, tenant, body.metadata, body.values, body.status, None)))


async def _matching(
    server: ServerParts, tenant: str, metadata: Any, values: Any, status: str | None, ids: list[str] | None
) -> list[ThreadRecord]:
    found = await server.store.scan_threads(tenant)
    if ids is not None:
        wanted = {checked_uuid(i) for i in ids}
        found = [t for t in found if t.thread_id in wanted]
    found = [t for t in found if (status is None or t.status == status) and contains(t.metadata, metadata or {})]
    if values:
        loaded = await server.store.get_threads(tenant, [t.thread_id for t in found])
        found = [t for t in loaded if contains(t.values or {}, values)]
    return found


@router.get("/{thread_id}", summary="One thread")
async def get(thread_id: str, server: Parts, tenant: Tenant) -> JsonReply:
    return JsonReply((await load_thread(server, tenant, thread_id)).to_api())


@router.patch("/{thread_id}", summary="Merge metadata into a thread")
async def patch(thread_id: str, body: ThreadPatch, server: Parts, tenant: Tenant) -> JsonReply:
    async with server.locks.hold(tenant, checked_uuid(thread_id)):
        thread = await load_thread(server, tenant, thread_id)
        thread = thread.updated(metadata={**thread.metadata, **(body.metadata or {})})
        await server.store.put_thread(thread)
    return JsonReply(thread.to_api())


@router.delete("/{thread_id}", status_code=204, summary="Delete a thread, its runs (cancelled) and its checkpoints")
async def delete(thread_id: str, server: Parts, tenant: Tenant) -> Response:
    thread = await load_thread(server, tenant, thread_id)
    await server.manager.stop_thread_runs(tenant, thread.thread_id)
    await server.graphs.saver(tenant).adelete_thread(thread.thread_id)
    await server.store.delete_thread(tenant, thread.thread_id)
    return Response(status_code=204)


def _graph(server: ServerParts, tenant: str, thread: ThreadRecord) -> CompiledStateGraph | None:
    """The graph whose state the thread holds: the one its runs used."""
    graph_id = thread.metadata.get("graph_id")
    if graph_id is None or server.graphs.resolve(graph_id) is None:
        return None
    return server.graphs.for_tenant(graph_id, tenant)


async def _state(
    server: ServerParts, tenant: str, thread_id: str, checkpoint: dict[str, Any] | None, subgraphs: bool
) -> dict[str, Any]:
    thread = await load_thread(server, tenant, thread_id)
    graph = _graph(server, tenant, thread)
    if graph is None:
        return empty_state(thread.thread_id)
    config = {"configurable": {**(checkpoint or {}), "thread_id": thread.thread_id}}
    snapshot = await graph.aget_state(config, subgraphs=subgraphs)
    return normalized(thread_state(snapshot)) if snapshot.created_at else empty_state(thread.thread_id)


@router.get("/{thread_id}/state", summary="The thread's latest state: values, next nodes, tasks and interrupts")
async def state(thread_id: str, server: Parts, tenant: Tenant, subgraphs: bool = False) -> JsonReply:
    return JsonReply(await _state(server, tenant, thread_id, None, subgraphs))


@router.get(
    "/{thread_id}/screenshots/{name}",
    summary="A screenshot one of the thread's answers shows (a deployed page)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def screenshot(thread_id: str, name: str, server: Parts, tenant: Tenant) -> Response:
    values = (await _state(server, tenant, thread_id, None, False))["values"]
    shown = {_screenshot_of(message) for message in values.get("messages", [])}
    if name not in shown:  # only what an answer of this thread shows, never any file the browser pool wrote
        raise NotFound(f"no answer of this thread shows a screenshot named {name[:100]!r}")
    try:
        image = await asyncio.to_thread((server.screenshots_dir / Path(name).name).read_bytes)
    except OSError:
        raise NotFound(f"the screenshot {name[:100]!r} is no longer on the server") from None
    return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


def _screenshot_of(message: Any) -> str | None:
    """The screenshot an answer shows (see `orchestra.graphs.visuals`)."""
    if not isinstance(message, dict):
        return None
    shown = message.get("response_metadata", {}).get("orchestra", {}).get("visuals", {})
    return shown.get("deployment", {}).get("screenshot")


@router.get("/{thread_id}/state/{checkpoint_id}", summary="The thread's state at one checkpoint")
async def state_at(
    thread_id: str, checkpoint_id: str, server: Parts, tenant: Tenant, subgraphs: bool = False
) -> JsonReply:
    return JsonReply(await _state(server, tenant, thread_id, {"checkpoint_id": checkpoint_id}, subgraphs))


@router.post("/{thread_id}/state/checkpoint", summary="The thread's state at a checkpoint given in the body")
async def state_at_body(thread_id: str, body: StateAtCheckpoint, server: Parts, tenant: Tenant) -> JsonReply:
    return JsonReply(await _state(server, tenant, thread_id, body.checkpoint.as_configurable(), body.subgraphs))


@router.post("/{thread_id}/state", summary="Write values into the thread's state, as if a node had")
async def update_state(thread_id: str, body: StateUpdate, server: Parts, tenant: Tenant) -> JsonReply:
    async with server.locks.hold(tenant, checked_uuid(thread_id)):
        thread = await load_thread(server, tenant, thread_id)
        if thread.status == "busy":
            raise Conflict("Thread is busy with a run; wait for it to finish before updating its state")
        graph = _graph(server, tenant, thread)
        if graph is None:
            raise Conflict("Thread has no graph yet; run an assistant on it before updating its state")
        checkpoint = {
            **(body.checkpoint.as_configurable() if body.checkpoint else {}),
            **({"checkpoint_id": body.checkpoint_id} if body.checkpoint_id else {}),
        }
        config = {"configurable": {**checkpoint, "thread_id": thread.thread_id}}
        try:
            written = await graph.aupdate_state(config, body.values, as_node=body.as_node)
        except (InvalidUpdateError, EmptyInputError, ValueError, TypeError, KeyError) as exc:
            # The values do not fit the graph (an unknown node, a value its channels refuse): the client's to fix,
            # answered 400 with LangGraph's own words, as the LangGraph API does.
            raise BadRequest(f"{type(exc).__name__}: {exc}") from None
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread.thread_id}})
        interrupts = pending_interrupts(snapshot)
        await server.store.put_thread(thread.updated(
            values=normalized(snapshot.values), interrupts=interrupts,
            status="interrupted" if snapshot.next or interrupts else "idle",
        ))  # fmt: skip
    return JsonReply({"checkpoint": checkpoint_of(written)})


@router.post("/{thread_id}/history", summary="The thread's past states, newest first")
async def history(thread_id: str, body: HistoryRequest, server: Parts, tenant: Tenant) -> JsonReply:
    before = body.before.checkpoint_id if isinstance(body.before, CheckpointRef) else body.before
    checkpoint = body.checkpoint.as_configurable() if body.checkpoint else None
    return JsonReply(await _history(server, tenant, thread_id, body.limit, before, body.metadata, checkpoint))


@router.get("/{thread_id}/history", summary="The thread's past states, newest first")
async def history_get(
    thread_id: str,
    server: Parts,
    tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: str | None = None,
) -> JsonReply:
    return JsonReply(await _history(server, tenant, thread_id, limit, before, None, None))


async def _history(
    server: ServerParts,
    tenant: str,
    thread_id: str,
    limit: int,
    before: str | None,
    metadata: Any,
    checkpoint: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    thread = await load_thread(server, tenant, thread_id)
    graph = _graph(server, tenant, thread)
    if graph is None:
        return []
    before_config = None
    if before:
        before_config = {"configurable": {"thread_id": thread.thread_id, "checkpoint_id": before}}
    config = {"configurable": {**(checkpoint or {}), "thread_id": thread.thread_id}}
    listed = graph.aget_state_history(config, filter=metadata, before=before_config, limit=limit)
    return [normalized(thread_state(snapshot)) async for snapshot in listed]
