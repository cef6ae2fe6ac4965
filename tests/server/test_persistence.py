"""Threads and runs outlive the process (SQLite in the data directory, or Redis with REDIS_URL), and a restart settles
what a dead process left: a run left `running` ends `error`, a run left `pending` runs."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from orchestra.server.records import RunRecord, ThreadRecord, new_id, now_iso
from orchestra.server.store import open_record_store
from tests.server.conftest import client, serving
from tests.server.graphs import gate

HI = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each test runs on both record stores (and both checkpointers)."""
    if request.param == "sqlite":
        return {}
    return {"REDIS_URL": request.getfixturevalue("redis_url")}


async def test_a_restarted_server_lists_its_threads_and_runs(tmp_path: Path, store_env: dict[str, str]) -> None:
    label = uuid.uuid4().hex
    async with serving(tmp_path, environ=store_env) as url:
        acme = client(url)
        thread = await acme.threads.create(metadata={"suite": label})
        await acme.runs.wait(thread["thread_id"], "echo", input=HI)
        paused = await acme.threads.create(metadata={"suite": label})
        await acme.runs.wait(paused["thread_id"], "approval", input={"request": "deploy"})
        runs_before = await acme.runs.list(thread["thread_id"])
    async with serving(tmp_path, environ=store_env) as url:
        acme = client(url)
        found = await acme.threads.search(metadata={"suite": label})
        assert {t["thread_id"] for t in found} == {thread["thread_id"], paused["thread_id"]}
        assert await acme.runs.list(thread["thread_id"]) == runs_before
        assert (await acme.runs.join(thread["thread_id"], runs_before[0]["run_id"]))["messages"][-1]["content"] == (
            "echo: hi"
        )
        state = await acme.threads.get_state(paused["thread_id"])
        assert state["next"] == ["approve"]
        async with asyncio.timeout(20):
            resumed = await acme.runs.wait(paused["thread_id"], "approval", command={"resume": "yes"})
        assert resumed["decision"] == "yes"


async def test_restart_marks_a_running_run_error_and_queues_a_pending_one(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    stamp = now_iso()
    thread = ThreadRecord("acme", new_id(), stamp, stamp, {"graph_id": "echo"}, status="busy")
    died = RunRecord("acme", new_id(), thread.thread_id, "echo-id", "echo", stamp, stamp, "running",
                     kwargs={"input": HI, "stream_mode": ["values"]})  # fmt: skip
    waiting = RunRecord("acme", new_id(), thread.thread_id, "echo-id", "echo", now_iso(), now_iso(), "pending",
                        kwargs={"input": HI, "stream_mode": ["values"]})  # fmt: skip
    async with open_record_store(tmp_path, store_env.get("REDIS_URL"), "orchestra:server") as store:
        await store.put_thread(thread)
        await store.put_run(died)
        await store.put_run(waiting)
    async with serving(tmp_path, environ=store_env) as url:
        acme = client(url)
        async with asyncio.timeout(20):
            values = await acme.runs.join(thread.thread_id, waiting.run_id)
        assert values["messages"][-1]["content"] == "echo: hi"
        statuses = {r["run_id"]: r["status"] for r in await acme.runs.list(thread.thread_id)}
        assert statuses == {died.run_id: "error", waiting.run_id: "success"}
        assert (await acme.threads.get(thread.thread_id))["status"] == "idle"


async def test_stopping_the_server_mid_run_leaves_it_error_with_the_fix(tmp_path: Path) -> None:
    label = uuid.uuid4().hex
    reached, _ = gate(label)
    async with serving(tmp_path) as url:
        acme = client(url)
        thread = await acme.threads.create()
        run = await acme.runs.create(thread["thread_id"], "gated", input={"label": label})
        async with asyncio.timeout(20):
            await reached.wait()
    async with serving(tmp_path) as url:
        acme = client(url)
        assert (await acme.runs.get(thread["thread_id"], run["run_id"]))["status"] == "error"
        record = await acme.threads.get(thread["thread_id"])
        assert record["status"] == "error"
        assert "continue from its last checkpoint" in record["error"]["message"]
        assert (await acme.threads.get_state(thread["thread_id"]))["values"]["steps"] == [f"{label}:first"]


async def test_rollback_on_redis_removes_the_runs_checkpoints(redis_url: str, tmp_path: Path) -> None:
    label = uuid.uuid4().hex
    reached, _ = gate(label)
    async with serving(tmp_path, environ={"REDIS_URL": redis_url}) as url:
        acme = client(url)
        thread = await acme.threads.create()
        await acme.runs.wait(thread["thread_id"], "echo", input=HI)
        [echo_run] = await acme.runs.list(thread["thread_id"])
        first = await acme.runs.create(thread["thread_id"], "gated", input={"label": label})
        async with asyncio.timeout(20):
            await reached.wait()
            newer = uuid.uuid4().hex
            gate(newer, open_=True)
            final = await acme.runs.wait(thread["thread_id"], "gated", input={"label": newer},
                                         multitask_strategy="rollback")  # fmt: skip
        assert final["steps"] == [f"{newer}:first", f"{newer}:second"]
        history = await acme.threads.get_history(thread["thread_id"], limit=100)
        writers = {h["metadata"].get("run_id") for h in history}
        assert first["run_id"] not in writers
        assert echo_run["run_id"] in writers  # the run before the rolled-back one keeps its checkpoints


async def test_a_thread_read_without_its_values_keeps_them_when_written_back(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    async with open_record_store(tmp_path, store_env.get("REDIS_URL"), "orchestra:server") as store:
        thread = ThreadRecord.new("acme", new_id(), {"k": 1})
        thread.values = {"messages": ["a long conversation"]}
        await store.put_thread(thread)
        light = await store.get_thread("acme", thread.thread_id, values=False)
        assert light is not None
        assert light.values is None
        await store.put_thread(light.updated(status="busy", metadata={"k": 2}))
        stored = await store.get_thread("acme", thread.thread_id)
        assert stored is not None
        assert (stored.status, stored.metadata, stored.values) == ("busy", {"k": 2}, thread.values)
        assert await store.get_thread("globex", thread.thread_id) is None
