"""Bodies a client (or an attacker) may send that the OpenAPI document does not describe: each gets a 4xx naming what
is wrong, never a 500 from deep inside the server, and the server goes on serving."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from tests.server.conftest import KEYS

JSON = {"content-type": "application/json"}


@pytest.fixture
async def http(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, headers={"x-api-key": KEYS["acme"]}, timeout=20) as opened:
        yield opened


async def test_json_the_server_could_not_store_or_send_back_is_refused_with_422(http: httpx.AsyncClient) -> None:
    for raw in (
        b'{"metadata": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}",  # parses, but orjson writes at most 254 levels
        b'{"metadata": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
        b'{"metadata": {"a": "\\ud800"}}',  # a lone surrogate: no UTF-8 for it
        b'{"metadata": {"a": NaN}}',
        b"not json",
    ):
        reply = await http.post("/threads", content=raw, headers=JSON)
        assert reply.status_code == 422, (raw[:40], reply.text)
        assert reply.json()["detail"].startswith("body: not valid JSON"), reply.text
    nested = b'{"metadata": {"a": ' + b"[" * 90 + b"]" * 90 + b', "big": "' + b"x" * 400_000 + b'"}}'
    reply = await http.post("/threads", content=nested, headers=JSON)  # deep enough, and parsed off the event loop
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["metadata"]["big"]) == 400_000


async def test_config_and_checkpoint_fields_of_the_wrong_type_are_named_in_a_422(
    http: httpx.AsyncClient, acme: LangGraphClient
) -> None:
    thread = (await acme.threads.create())["thread_id"]
    await acme.runs.wait(thread, "echo", input={"messages": [{"role": "user", "content": "hi"}]})
    chat = {"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "again"}]}}
    for path, body, field in (
        (f"/threads/{thread}/runs/wait", {**chat, "config": {"metadata": [1]}}, "config.metadata"),
        (f"/threads/{thread}/runs/wait", {**chat, "config": {"recursion_limit": "abc"}}, "config.recursion_limit"),
        (f"/threads/{thread}/runs/wait", {**chat, "config": {"configurable": [1]}}, "config.configurable"),
        ("/runs/wait", {**chat, "config": {"tags": "x"}}, "config.tags"),
        (f"/threads/{thread}/runs", {**chat, "checkpoint": {"checkpoint_id": 5}}, "checkpoint.checkpoint_id"),
        (f"/threads/{thread}/history", {"before": {"checkpoint_id": [1]}}, "before"),
        (f"/threads/{thread}/history", {"checkpoint": {"checkpoint_ns": 5}}, "checkpoint.checkpoint_ns"),
        (f"/threads/{thread}/state/checkpoint", {"checkpoint": {"checkpoint_id": [1]}}, "checkpoint.checkpoint_id"),
        (f"/threads/{thread}/state", {"values": {}, "checkpoint": {"checkpoint_id": {}}}, "checkpoint.checkpoint_id"),
    ):  # fmt: skip
        reply = await http.post(path, json=body)
        assert reply.status_code == 422, (path, body, reply.text)
        assert field in reply.json()["detail"], reply.text
    # The same fields, well typed, still work.
    state = await acme.threads.get_state(thread)
    before = {"checkpoint_id": state["checkpoint"]["checkpoint_id"]}
    assert len((await http.post(f"/threads/{thread}/history", json={"before": before})).json()) >= 1
    reply = await http.post(f"/threads/{thread}/state/checkpoint", json={"checkpoint": before})
    assert reply.json()["values"]["messages"][-1]["content"] == "echo: hi"
    reply = await http.post(f"/threads/{thread}/runs/wait", json={**chat, "config": {"recursion_limit": 5,
                                                                                    "tags": ["t"]}})  # fmt: skip
    assert reply.json()["messages"][-1]["content"] == "echo: again"


async def test_a_state_update_the_graph_refuses_is_a_400_with_langgraphs_words(
    http: httpx.AsyncClient, acme: LangGraphClient
) -> None:
    thread = (await acme.threads.create())["thread_id"]
    await acme.runs.wait(thread, "echo", input={"messages": [{"role": "user", "content": "hi"}]})
    for body, words in (
        ({"values": {"messages": []}, "as_node": "no-such-node"}, "Node no-such-node does not exist"),
        ({"values": [1, 2]}, "Expected dict"),
        ({"values": {"messages": [{"bad": 1}]}}, "Message dict must contain"),
    ):
        reply = await http.post(f"/threads/{thread}/state", json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert words in reply.json()["detail"]
    assert (await acme.threads.get_state(thread))["values"]["messages"][-1]["content"] == "echo: hi"  # untouched


async def test_configurable_keys_langgraph_reserves_do_not_reach_the_graph(acme: LangGraphClient) -> None:
    """`__pregel_checkpointer` in a client's configurable would replace the tenant's checkpointer in LangGraph."""
    thread = (await acme.threads.create())["thread_id"]
    result = await acme.runs.wait(
        thread, "echo", input={"messages": [{"role": "user", "content": "hi"}]},
        config={"configurable": {"__pregel_checkpointer": "x", "__pregel_store": "y", "checkpoint_map": {"": "z"}}},
    )  # fmt: skip
    assert result["messages"][-1]["content"] == "echo: hi", result
    assert (await acme.threads.get_state(thread))["values"]["messages"][-1]["content"] == "echo: hi"
