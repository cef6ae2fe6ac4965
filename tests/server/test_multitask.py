"""Per-thread run locking: what `multitask_strategy` does when a run arrives on a busy thread, and that two resumes
of one interrupt never both run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.server.graphs import gate


async def busy_thread(acme: LangGraphClient) -> tuple[str, dict, str, asyncio.Event]:
    """A thread whose gated run has done its first step and waits; returns thread id, run, label and its gate."""
    label = uuid.uuid4().hex
    reached, opened = gate(label)
    thread = await acme.threads.create()
    run = await acme.runs.create(thread["thread_id"], "gated", input={"label": label})
    async with asyncio.timeout(20):
        await reached.wait()
    return thread["thread_id"], run, label, opened


async def test_reject_answers_409_while_a_run_is_active(acme: LangGraphClient) -> None:
    thread_id, run, _, opened = await busy_thread(acme)
    with pytest.raises(ConflictError):
        await acme.runs.create(thread_id, "gated", input={"label": "never"}, multitask_strategy="reject")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await acme.runs.wait(thread_id, "gated", input={"label": "never"}, multitask_strategy="reject")
    assert refused.value.response.status_code == 409
    assert (await acme.threads.get(thread_id))["status"] == "busy"
    opened.set()
    async with asyncio.timeout(20):
        await acme.runs.join(thread_id, run["run_id"])
    assert [r["run_id"] for r in await acme.runs.list(thread_id)] == [run["run_id"]]  # nothing else was created


async def test_enqueue_runs_each_after_the_last_in_order(acme: LangGraphClient) -> None:
    thread_id, first, label, opened = await busy_thread(acme)
    later = [uuid.uuid4().hex for _ in range(3)]
    for name in later:
        gate(name, open_=True)
    queued = [await acme.runs.create(thread_id, "gated", input={"label": name}, multitask_strategy="enqueue")
              for name in later]  # fmt: skip
    assert [(await acme.runs.get(thread_id, r["run_id"]))["status"] for r in queued] == ["pending"] * 3
    opened.set()
    async with asyncio.timeout(20):
        final = await acme.runs.join(thread_id, queued[-1]["run_id"])
    expected = [f"{name}:{step}" for name in [label, *later] for step in ("first", "second")]
    assert final["steps"] == expected
    runs = await acme.runs.list(thread_id)
    assert [r["run_id"] for r in reversed(runs)] == [first["run_id"]] + [r["run_id"] for r in queued]
    assert {r["status"] for r in runs} == {"success"}
    assert (await acme.threads.get(thread_id))["status"] == "idle"


async def test_interrupt_stops_the_active_run_keeping_its_steps(acme: LangGraphClient) -> None:
    thread_id, first, label, _ = await busy_thread(acme)
    newer = uuid.uuid4().hex
    gate(newer, open_=True)
    async with asyncio.timeout(20):
        final = await acme.runs.wait(thread_id, "gated", input={"label": newer}, multitask_strategy="interrupt")
    assert (await acme.runs.get(thread_id, first["run_id"]))["status"] == "interrupted"
    assert final["steps"] == [f"{label}:first", f"{newer}:first", f"{newer}:second"]


async def test_rollback_removes_the_active_run_and_its_checkpoints(acme: LangGraphClient) -> None:
    thread_id, first, _, _ = await busy_thread(acme)
    newer = uuid.uuid4().hex
    gate(newer, open_=True)
    async with asyncio.timeout(20):
        final = await acme.runs.wait(thread_id, "gated", input={"label": newer}, multitask_strategy="rollback")
    assert final["steps"] == [f"{newer}:first", f"{newer}:second"]
    with pytest.raises(NotFoundError):
        await acme.runs.get(thread_id, first["run_id"])
    history = await acme.threads.get_history(thread_id, limit=100)
    assert all(h["metadata"].get("run_id") != first["run_id"] for h in history)
    assert first["run_id"] not in [r["run_id"] for r in await acme.runs.list(thread_id)]


async def test_two_resumes_of_one_interrupt_do_not_both_run(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    await acme.runs.wait(thread["thread_id"], "approval", input={"request": "deploy"})
    async with asyncio.timeout(20):
        answers = await asyncio.gather(*(
            acme.runs.wait(thread["thread_id"], "approval", command={"resume": choice}, multitask_strategy="enqueue",
                           raise_error=False)
            for choice in ("approve", "reject")
        ))  # fmt: skip
    decided = [a for a in answers if "__error__" not in a]
    refused = [a for a in answers if "__error__" in a]
    assert len(decided) == 1
    assert len(refused) == 1
    assert "another run answered it first" in refused[0]["__error__"]["message"]
    state = await acme.threads.get_state(thread["thread_id"])
    assert [entry for entry in state["values"]["log"] if entry.startswith("decided")] == [
        f"decided {decided[0]['decision']}"
    ]

    again = await acme.threads.create()
    await acme.runs.wait(again["thread_id"], "approval", input={"request": "deploy"})
    first = await acme.runs.create(again["thread_id"], "approval", command={"resume": "approve"},
                                   multitask_strategy="reject")  # fmt: skip
    with contextlib.suppress(ConflictError):  # refused outright if the first was still running
        await acme.runs.create(
            again["thread_id"], "approval", command={"resume": "reject"}, multitask_strategy="reject"
        )
    async with asyncio.timeout(20):
        await acme.runs.join(again["thread_id"], first["run_id"])
    log = (await acme.threads.get_state(again["thread_id"]))["values"]["log"]
    assert len([entry for entry in log if entry.startswith("decided")]) == 1
