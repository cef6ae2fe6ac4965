"""Runs through `langgraph-sdk`: wait, background + join, every stream mode, stateless runs, interrupts resumed with
`command`, cancel, and rejoining a dropped stream with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from orchestra.core.call_log import record_log
from tests.server.conftest import KEYS, client, serving
from tests.server.graphs import gate

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def events(stream: Any) -> list[tuple[str, Any, str | None]]:
    async with asyncio.timeout(20):
        return [(part.event, part.data, part.id) async for part in stream]


async def test_wait_answers_the_final_values_and_the_run_is_recorded(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    values = await acme.runs.wait(thread["thread_id"], "echo", input=HI, metadata={"origin": "test"})
    assert [m["content"] for m in values["messages"]] == ["hi", "echo: hi"]
    [run] = await acme.runs.list(thread["thread_id"])
    assert run["status"] == "success"
    assert run["metadata"]["origin"] == "test"
    assert (await acme.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
    updated = await acme.threads.get(thread["thread_id"])
    assert updated["status"] == "idle"
    assert updated["metadata"]["graph_id"] == "echo"


async def test_a_background_run_is_joined_for_its_result(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    run = await acme.runs.create(thread["thread_id"], "echo", input=HI)
    assert run["status"] in ("pending", "running")
    async with asyncio.timeout(20):
        values = await acme.runs.join(thread["thread_id"], run["run_id"])
    assert values["messages"][-1]["content"] == "echo: hi"
    assert (await acme.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_each_stream_mode_carries_its_events(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    found = await events(acme.runs.stream(thread["thread_id"], "progress", input={"steps": 2},
                                          stream_mode=["values", "updates", "custom", "debug"]))  # fmt: skip
    kinds = [event for event, _, _ in found]
    assert kinds[0] == "metadata"
    assert [data for event, data, _ in found if event == "custom"] == [{"step": 0, "of": 2}, {"step": 1, "of": 2}]
    assert {"work": {"done": [0, 1]}} in [data for event, data, _ in found if event == "updates"]
    assert [data for event, data, _ in found if event == "values"][-1] == {"steps": 2, "done": [0, 1]}
    assert "debug" in kinds
    assert [i for _, _, i in found] == [str(n) for n in range(len(found))]  # every event has the next id

    only_updates = await events(acme.runs.stream(thread["thread_id"], "progress", input={"steps": 1},
                                                 stream_mode="updates"))  # fmt: skip
    assert {event for event, _, _ in only_updates} == {"metadata", "updates"}


async def test_message_modes_stream_the_model_reply_token_by_token(acme: LangGraphClient) -> None:
    tuples = await events(acme.runs.stream(None, "chat", input=HI, stream_mode="messages-tuple"))
    chunks = [data for event, data, _ in tuples if event == "messages"]
    assert "".join(message["content"] for message, _ in chunks) == "hello there friend"
    assert all(metadata["langgraph_node"] == "reply" for _, metadata in chunks)

    accumulated = await events(acme.runs.stream(None, "chat", input=HI, stream_mode="messages"))
    names = [event for event, _, _ in accumulated]
    assert names[:3] == ["metadata", "messages/metadata", "messages/partial"]
    partials = [data[0]["content"] for event, data, _ in accumulated if event == "messages/partial"]
    assert partials[-1] == "hello there friend"
    assert partials == sorted(partials, key=len)


async def test_subgraph_events_are_named_by_namespace(acme: LangGraphClient) -> None:
    found = await events(acme.runs.stream(None, "nested", input=HI, stream_mode="updates", stream_subgraphs=True))
    names = [event for event, _, _ in found]
    assert any(name.startswith("updates|inner:") for name in names), names
    assert "updates" in names


async def test_stateless_runs_wait_and_stream_without_a_thread(acme: LangGraphClient) -> None:
    values = await acme.runs.wait(None, "echo", input=HI)
    assert values["messages"][-1]["content"] == "echo: hi"
    found = await events(acme.runs.stream(None, "echo", input=HI, stream_mode="values"))
    assert found[-1][1]["messages"][-1]["content"] == "echo: hi"


async def test_an_interrupt_is_shown_then_resumed_with_command(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    paused = await acme.runs.wait(thread["thread_id"], "approval", input={"request": "deploy"})
    [waiting] = paused["__interrupt__"]
    assert waiting["value"] == {"question": "approve deploy?"}
    state = await acme.threads.get_state(thread["thread_id"])
    assert state["next"] == ["approve"]
    assert state["tasks"][0]["interrupts"][0]["id"] == waiting["id"]
    record = await acme.threads.get(thread["thread_id"])
    assert record["status"] == "interrupted"
    assert [i["id"] for found in record["interrupts"].values() for i in found] == [waiting["id"]]

    streamed = await events(acme.runs.stream(thread["thread_id"], "approval", command={"resume": "approved"},
                                             stream_mode="updates"))  # fmt: skip
    assert {"approve": {"decision": "approved", "log": ["decided approved"]}} in [d for _, d, _ in streamed]
    assert (await acme.threads.get_state(thread["thread_id"]))["values"]["decision"] == "approved"
    assert (await acme.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_a_stream_shows_the_interrupt_in_values(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    found = await events(acme.runs.stream(thread["thread_id"], "approval", input={"request": "x"}))
    assert found[-1][1]["__interrupt__"][0]["value"] == {"question": "approve x?"}


async def test_cancel_stops_a_running_run_and_keeps_its_finished_steps(acme: LangGraphClient) -> None:
    label = uuid.uuid4().hex
    reached, _ = gate(label)
    thread = await acme.threads.create()
    run = await acme.runs.create(thread["thread_id"], "gated", input={"label": label})
    async with asyncio.timeout(20):
        await reached.wait()
        await acme.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    assert (await acme.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"
    state = await acme.threads.get_state(thread["thread_id"])
    assert state["values"]["steps"] == [f"{label}:first"]
    assert state["next"] == ["blocked"]


async def test_a_dropped_stream_is_rejoined_with_last_event_id_losing_and_repeating_nothing(
    acme: LangGraphClient,
) -> None:
    label = uuid.uuid4().hex
    reached, opened = gate(label)
    thread = await acme.threads.create()
    run = await acme.runs.create(thread["thread_id"], "gated", input={"label": label},
                                 stream_mode=["values", "updates"])  # fmt: skip
    first: list[tuple[str, Any, str | None]] = []
    async with asyncio.timeout(20):
        await reached.wait()  # the first step is done: its events are out
        async for part in acme.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"):
            first.append((part.event, part.data, part.id))
            if part.event == "updates" and "first" in part.data:
                break  # the client drops the connection here
    opened.set()
    rest = await events(acme.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id=first[-1][2]))
    ids = [int(i or -1) for _, _, i in first + rest]
    assert ids == list(range(len(ids)))  # nothing lost, nothing repeated
    assert rest[-1][1]["steps"] == [f"{label}:first", f"{label}:second"]
    everything = await events(acme.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"))
    assert everything == first + rest
    only_updates = await events(acme.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1",
                                                      stream_mode="updates"))  # fmt: skip
    assert {event for event, _, _ in only_updates} == {"metadata", "updates"}


async def test_a_run_on_an_unknown_thread_is_404_unless_asked_to_create_it(acme: LangGraphClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as refused:  # runs.wait raises httpx's error, not the SDK's
        await acme.runs.wait(missing, "echo", input=HI)
    assert refused.value.response.status_code == 404
    values = await acme.runs.wait(missing, "echo", input=HI, if_not_exists="create")
    assert values["messages"][-1]["content"] == "echo: hi"
    assert (await acme.threads.get(missing))["metadata"]["graph_id"] == "echo"


async def test_a_failing_run_reports_its_error(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    failed = await acme.runs.wait(thread["thread_id"], "approval", input={}, raise_error=False)
    assert failed["__error__"]["error"] == "KeyError"
    [run] = await acme.runs.list(thread["thread_id"])
    assert run["status"] == "error"
    record = await acme.threads.get(thread["thread_id"])
    assert record["status"] == "error"
    assert record["error"]["error"] == "KeyError"


async def test_a_stream_dropped_with_on_disconnect_cancel_stops_its_run(acme: LangGraphClient) -> None:
    label = uuid.uuid4().hex
    reached, _ = gate(label)
    thread = await acme.threads.create()
    async with asyncio.timeout(20):
        async for part in acme.runs.stream(thread["thread_id"], "gated", input={"label": label},
                                           on_disconnect="cancel"):  # fmt: skip
            if part.event == "metadata":
                run_id = part.data["run_id"]
                await reached.wait()
                break  # the client goes away while the run waits
        await acme.runs.join(thread["thread_id"], run_id)
    assert (await acme.runs.get(thread["thread_id"], run_id))["status"] == "interrupted"


@pytest.mark.parametrize("kept_in", ["files", "redis"])
async def test_thumbs_on_a_finished_run_are_kept_for_calibration_and_bound_to_its_tenant(
    tmp_path: Path, kept_in: str, request: pytest.FixtureRequest
) -> None:
    environ = {}
    if kept_in == "redis":  # a database of its own: the outcomes stream's name is fixed
        environ["REDIS_URL"] = request.getfixturevalue("redis_url").removesuffix("/0") + "/5"
    async with serving(tmp_path, environ=environ) as url:
        acme = client(url, "acme")
        thread = await acme.threads.create()
        await acme.runs.wait(thread["thread_id"], "echo", input=HI)
        [run] = await acme.runs.list(thread["thread_id"])
        path = f"/threads/{thread['thread_id']}/runs/{run['run_id']}/feedback"
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            as_acme, as_globex = {"X-Api-Key": KEYS["acme"]}, {"X-Api-Key": KEYS["globex"]}
            together = [http.post(path, json={"thumbs": "down", "comment": "wrong ARR"}, headers=as_acme)
                        for _ in range(8)]  # fmt: skip
            codes = sorted(reply.status_code for reply in await asyncio.gather(*together))
            assert codes == [201] + [409] * 7  # once per run, even when the clicks arrive together
            again = await http.post(path, json={"thumbs": "up"}, headers=as_acme)
            assert again.status_code == 409
            assert "already has thumbs down" in again.text
            assert (await acme.runs.get(thread["thread_id"], run["run_id"]))["metadata"]["feedback"]["thumbs"] == "down"
            assert (await http.post(path, json={"thumbs": "up"}, headers=as_globex)).status_code == 404
            bad = await http.post(path, json={"thumbs": "sideways"}, headers=as_acme)
            assert bad.status_code == 422
            assert "thumbs" in bad.text
            assert (await http.post(path, json={"thumbs": "up"})).status_code == 401
            elsewhere = f"/threads/{thread['thread_id']}/runs/{uuid.uuid4()}/feedback"
            assert (await http.post(elsewhere, json={"thumbs": "up"}, headers=as_acme)).status_code == 404
    [kept] = list(record_log("outcomes", environ, tmp_path).read())
    assert (kept["tenant"], kept["run_id"], kept["good"]) == ("acme", run["run_id"], False)
    assert kept["comment"] == "wrong ARR"
