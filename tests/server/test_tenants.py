"""Each API key is a tenant: another tenant's thread or run answers exactly as an unknown id does, everywhere."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.server.conftest import KEYS


async def _status_and_body(http: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> tuple[int, object]:
    reply = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    return reply.status_code, reply.json() if reply.content else None


async def test_another_tenants_thread_and_run_answer_404_like_unknown_ids(
    acme: LangGraphClient, globex: LangGraphClient, server_url: str
) -> None:
    label = uuid.uuid4().hex
    thread = await acme.threads.create(metadata={"suite": label})
    paused = await acme.runs.wait(thread["thread_id"], "approval", input={"request": "secret plan"})
    assert paused["__interrupt__"]
    [run] = await acme.runs.list(thread["thread_id"])
    unknown_thread, unknown_run = str(uuid.uuid4()), str(uuid.uuid4())

    async with httpx.AsyncClient(base_url=server_url, headers={"x-api-key": KEYS["globex"]}, timeout=20) as http:
        for theirs, unknown in (
            (f"/threads/{thread['thread_id']}", f"/threads/{unknown_thread}"),
            (f"/threads/{thread['thread_id']}/state", f"/threads/{unknown_thread}/state"),
            (f"/threads/{thread['thread_id']}/runs", f"/threads/{unknown_thread}/runs"),
            (f"/threads/{thread['thread_id']}/runs/{run['run_id']}", f"/threads/{unknown_thread}/runs/{unknown_run}"),
            (f"/threads/{thread['thread_id']}/runs/{run['run_id']}/join",
             f"/threads/{unknown_thread}/runs/{unknown_run}/join"),
            (f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream",
             f"/threads/{unknown_thread}/runs/{unknown_run}/stream"),
        ):  # fmt: skip
            found = await _status_and_body(http, "GET", theirs)
            expected = await _status_and_body(http, "GET", unknown)
            assert found[0] == expected[0] == 404, theirs
            assert str(found[1]).replace(thread["thread_id"], "X") == str(expected[1]).replace(unknown_thread, "X")
        for method, path, body in (
            ("POST", f"/threads/{thread['thread_id']}/runs/{run['run_id']}/cancel", None),
            ("POST", f"/threads/{thread['thread_id']}/runs/wait",
             {"assistant_id": "approval", "command": {"resume": "approved by globex"}}),
            ("POST", f"/threads/{thread['thread_id']}/runs/stream", {"assistant_id": "approval", "input": {}}),
            ("POST", f"/threads/{thread['thread_id']}/history", {}),
            ("PATCH", f"/threads/{thread['thread_id']}", {"metadata": {"owner": "globex"}}),
            ("DELETE", f"/threads/{thread['thread_id']}", None),
        ):  # fmt: skip
            status, _ = await _status_and_body(http, method, path, json=body)
            assert status == 404, (method, path)

    assert await globex.threads.search(metadata={"suite": label}) == []
    with pytest.raises(NotFoundError):
        await globex.threads.get_state(thread["thread_id"])

    # The owner's thread is untouched: still waiting for its own answer, metadata unchanged.
    state = await acme.threads.get_state(thread["thread_id"])
    assert state["next"] == ["approve"]
    assert (await acme.threads.get(thread["thread_id"]))["metadata"] == {
        "suite": label, "graph_id": "approval", "assistant_id": run["assistant_id"]
    }  # fmt: skip
    assert [t["thread_id"] for t in await acme.threads.search(metadata={"suite": label})] == [thread["thread_id"]]


async def test_two_tenants_may_use_the_same_thread_id_without_meeting(
    acme: LangGraphClient, globex: LangGraphClient
) -> None:
    shared = str(uuid.uuid4())
    await acme.threads.create(thread_id=shared)
    await globex.threads.create(thread_id=shared)
    async with asyncio.timeout(20):
        await acme.runs.wait(shared, "echo", input={"messages": [{"role": "user", "content": "from acme"}]})
        await globex.runs.wait(shared, "echo", input={"messages": [{"role": "user", "content": "from globex"}]})
    acme_state = await acme.threads.get_state(shared)
    globex_state = await globex.threads.get_state(shared)
    assert [m["content"] for m in acme_state["values"]["messages"]] == ["from acme", "echo: from acme"]
    assert [m["content"] for m in globex_state["values"]["messages"]] == ["from globex", "echo: from globex"]
