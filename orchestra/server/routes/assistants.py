"""`/assistants`: one per served graph, read-only (the graphs come from langgraph.json, not from clients)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query
from langgraph.graph.state import CompiledStateGraph
from pydantic import create_model

from orchestra.server.bodies import JsonRoute
from orchestra.server.deps import Parts, Tenant
from orchestra.server.errors import NotFound, Unprocessable
from orchestra.server.graphs import Assistant
from orchestra.server.jsonio import JsonReply
from orchestra.server.schemas import AssistantSearch

router = APIRouter(prefix="/assistants", tags=["assistants"], route_class=JsonRoute)


def _assistant(server: Parts, assistant_id: str) -> Assistant:
    found = server.graphs.resolve(assistant_id)
    if found is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return found


def _found(server: Parts, body: AssistantSearch) -> list[Assistant]:
    found = [
        a for a in server.graphs.assistants if body.graph_id in (None, a.graph_id) and body.name in (None, a.graph_id)
    ]
    if body.metadata:
        found = [a for a in found if body.metadata.items() <= a.to_api()["metadata"].items()]
    return found


@router.post("/search", summary="List the assistants (one per graph)")
async def search(body: AssistantSearch, server: Parts, _: Tenant) -> JsonReply:
    return JsonReply([a.to_api() for a in _found(server, body)[body.offset : body.offset + body.limit]])


@router.post("/count", summary="Count the assistants")
async def count(body: AssistantSearch, server: Parts, _: Tenant) -> JsonReply:
    return JsonReply(len(_found(server, body)))


@router.get("/{assistant_id}", summary="One assistant, by its id or its graph id")
async def get(assistant_id: str, server: Parts, _: Tenant) -> JsonReply:
    return JsonReply(_assistant(server, assistant_id).to_api())


@router.get("/{assistant_id}/graph", summary="The assistant's graph, drawn as nodes and edges")
async def graph(
    assistant_id: str,
    server: Parts,
    _: Tenant,
    xray: Annotated[str | None, Query(description="true or a depth")] = None,
) -> JsonReply:
    depth: bool | int = False
    if xray not in (None, "false", "False"):
        try:
            depth = True if xray in ("true", "True") else int(xray or "")
        except ValueError:
            raise Unprocessable("xray: write true, false or a positive depth") from None
    drawn = server.graphs.base(_assistant(server, assistant_id).graph_id).get_graph(xray=depth).to_json()
    for node in drawn.get("nodes", []):
        if isinstance(node.get("data"), dict):
            node["data"].pop("id", None)
    return JsonReply(drawn)


@router.get("/{assistant_id}/schemas", summary="JSON schemas of the graph's input, output, state and context")
async def schemas(assistant_id: str, server: Parts, _: Tenant) -> JsonReply:
    assistant = _assistant(server, assistant_id)
    return JsonReply({"graph_id": assistant.graph_id, **_schemas(server.graphs.base(assistant.graph_id))})


@cache
def _schemas(graph: CompiledStateGraph) -> dict[str, Any]:
    return {
        "input_schema": _or_none(graph.get_input_jsonschema),
        "output_schema": _or_none(graph.get_output_jsonschema),
        "state_schema": _or_none(lambda: _state_schema(graph)),
        "config_schema": None,
        "context_schema": _or_none(graph.get_context_jsonschema),
    }


def _state_schema(graph: CompiledStateGraph) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        kind = graph.channels[name].UpdateType
        try:
            create_model(name, value=(kind, None)).model_json_schema()
            fields[name] = (kind, None)
        except Exception:  # a type pydantic cannot describe: say "any" rather than fail the whole schema
            fields[name] = (Any, None)
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def _or_none(make: Any) -> Any:
    try:
        return make()
    except Exception:  # some graphs cannot describe every schema; LangGraph answers null for those too
        return None
