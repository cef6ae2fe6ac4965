"""Two server processes on one Redis share the runs: a run started through one is streamed, joined and cancelled
through the other; multitask strategies hold across them; a process killed mid-run has its run finished by the
other from the last checkpoint, and a write it had started is never made twice.

The servers are real processes (`serve_process.py`: the app with the test graphs under uvicorn), driven through
langgraph-sdk. Runs of the `held` and `ledger` graphs say which process executes them, and wait for a file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError

from tests.conftest import ROOT, free_port
from tests.server.conftest import KEYS, client
from tests.server.graphs import ledger_lines

LOST_AFTER = 2.0  # seconds without a heartbeat before a process is taken for lost (the default is 5)


class Cluster:
    """Server processes on one Redis; `folder` holds their logs and the test graphs' gate and ledger files."""

    def __init__(self, folder: Path, redis_url: str) -> None:
        self.folder, self._redis_url = folder, redis_url
        self.processes: dict[int, tuple[subprocess.Popen[bytes], str]] = {}  # pid -> (process, base URL)

    async def start(self, count: int) -> list[int]:
        """Start `count` processes more; their pids, once each answers."""
        started = [self._spawn() for _ in range(count)]
        async with httpx.AsyncClient() as http:
            for process, url in started:
                async with asyncio.timeout(30):
                    while not await _answers(http, url):
                        assert process.poll() is None, f"server process exited; see {self.folder}/*.log"
                        await asyncio.sleep(0.1)
                self.processes[process.pid] = (process, url)
        return [process.pid for process, _ in started]

    def _spawn(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = {**os.environ, "REDIS_URL": self._redis_url,
               "ORCHESTRA_SERVER_KEYS": ",".join(f"{t}={k}" for t, k in KEYS.items())}  # fmt: skip
        with (self.folder / f"server-{port}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.server.serve_process", str(port), str(self.folder), str(LOST_AFTER)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return process, f"http://127.0.0.1:{port}"

    def client(self, pid: int) -> LangGraphClient:
        return client(self.processes[pid][1])

    def clients(self) -> list[LangGraphClient]:
        return [self.client(pid) for pid in self.processes]

    def other_than(self, pid: int) -> LangGraphClient:
        return next(self.client(other) for other in self.processes if other != pid)

    def kill(self, pid: int, how: signal.Signals = signal.SIGKILL) -> None:
        process, _ = self.processes.pop(pid)
        process.send_signal(how)
        process.wait(20)

    def stop(self) -> None:
        for process, _ in self.processes.values():
            process.terminate()
        for process, _ in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()


async def _answers(http: httpx.AsyncClient, url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return (await http.get(f"{url}/ok", timeout=1)).status_code == 200
    return False


@pytest.fixture(scope="module")
async def cluster(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("scale-out"), redis_url.rsplit("/", 1)[0] + "/7")
    try:
        await found.start(2)
        yield found
    finally:
        found.stop()


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    """The cluster with two live processes (a test before may have killed one)."""
    await cluster.start(2 - len(cluster.processes))
    return cluster


async def executing(cluster: Cluster, label: str) -> int:
    """The pid of the process whose run labelled `label` waits at its gate."""
    reached = cluster.folder / f"{label}.reached"
    async with asyncio.timeout(20):
        while not reached.exists() or not reached.read_text():
            await asyncio.sleep(0.02)
    return int(reached.read_text())


def open_gate(cluster: Cluster, label: str) -> None:
    (cluster.folder / f"{label}.open").touch()


async def events(stream: Any) -> list[tuple[str, Any, str | None]]:
    async with asyncio.timeout(30):
        return [(part.event, part.data, part.id) async for part in stream]


def held(cluster: Cluster, label: str) -> dict[str, str]:
    return {"label": label, "folder": str(cluster.folder)}


async def test_a_run_started_through_one_process_streams_the_same_events_through_both(two: Cluster) -> None:
    a, b = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    through_a = asyncio.create_task(events(a.runs.stream(thread["thread_id"], "held", input=held(two, label))))
    await executing(two, label)
    [run] = await b.runs.list(thread["thread_id"])
    through_b = asyncio.create_task(events(b.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1")))
    open_gate(two, label)
    seen_by_a, seen_by_b = await through_a, await through_b
    assert seen_by_a == seen_by_b  # the same events, in the same order, whichever process executed the run
    assert [event_id for _, _, event_id in seen_by_a] == [str(n) for n in range(len(seen_by_a))]
    assert seen_by_a[0][0] == "metadata"
    assert seen_by_a[-1][1]["steps"] == [f"{label}:first", f"{label}:second"]
    rejoined = await events(b.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="1"))
    assert rejoined == seen_by_a[2:]
    assert (await b.runs.join(thread["thread_id"], run["run_id"]))["steps"] == seen_by_a[-1][1]["steps"]


async def test_more_listeners_than_a_redis_pool_holds_all_get_the_run_and_it_still_ends(two: Cluster) -> None:
    """Each listener blocks a Redis connection in XREAD: 240 on one process (redis-py's pool holds 100) must neither
    fail nor starve the run's own heartbeats and events."""
    pid = next(iter(two.processes))
    starter = two.client(pid)
    thread = await starter.threads.create()
    label = uuid.uuid4().hex
    run = await starter.runs.create(thread["thread_id"], "held", input=held(two, label))
    await executing(two, label)
    listeners = [two.client(pid) for _ in range(6)]  # 40 streams each: an SDK client pools 100 connections
    joins = [
        asyncio.create_task(events(listener.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1")))
        for listener in listeners
        for _ in range(40)
    ]
    await asyncio.sleep(1)  # every listener is waiting in XREAD
    open_gate(two, label)
    seen = await asyncio.gather(*joins)
    assert all(events_seen == seen[0] for events_seen in seen)
    assert seen[0][-1][1]["steps"] == [f"{label}:first", f"{label}:second"]
    assert (await starter.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_a_run_is_cancelled_through_the_process_that_does_not_execute_it(two: Cluster) -> None:
    a, _ = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "held", input=held(two, label))
    other = two.other_than(await executing(two, label))
    started = time.monotonic()
    await other.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    assert time.monotonic() - started < 2  # published to the executing process: no polling interval to wait out
    assert (await a.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"
    assert (await other.threads.get_state(thread["thread_id"]))["values"]["steps"] == [f"{label}:first"]


async def test_reject_answers_409_through_either_process_while_the_thread_runs(two: Cluster) -> None:
    a, b = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "held", input=held(two, label))
    await executing(two, label)
    for process in (a, b):
        with pytest.raises(ConflictError):
            await process.runs.create(thread["thread_id"], "held", input=held(two, "no"), multitask_strategy="reject")
    open_gate(two, label)
    await b.runs.join(thread["thread_id"], run["run_id"])
    assert [r["run_id"] for r in await b.runs.list(thread["thread_id"])] == [run["run_id"]]


async def test_runs_enqueued_through_both_processes_run_one_at_a_time_in_order(two: Cluster) -> None:
    a, b = two.clients()
    thread = await a.threads.create()
    first = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "held", input=held(two, first))
    await executing(two, first)
    later = [uuid.uuid4().hex for _ in range(4)]
    for label in later:
        open_gate(two, label)
    queued = [  # through A and B in turn
        await process.runs.create(thread["thread_id"], "held", input=held(two, label), multitask_strategy="enqueue")
        for process, label in zip([a, b, a, b], later, strict=True)
    ]
    assert {(await b.runs.get(thread["thread_id"], r["run_id"]))["status"] for r in queued} == {"pending"}
    open_gate(two, first)
    async with asyncio.timeout(30):
        final = await b.runs.join(thread["thread_id"], queued[-1]["run_id"])
    assert final["steps"] == [f"{label}:{step}" for label in [first, *later] for step in ("first", "second")]
    runs = await a.runs.list(thread["thread_id"])
    assert [r["run_id"] for r in reversed(runs)] == [run["run_id"]] + [r["run_id"] for r in queued]
    assert {r["status"] for r in runs} == {"success"}
    assert (await a.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_interrupt_through_the_other_process_stops_the_run_and_runs_the_new_one(two: Cluster) -> None:
    a, _ = two.clients()
    thread = await a.threads.create()
    first, newer = uuid.uuid4().hex, uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "held", input=held(two, first))
    other = two.other_than(await executing(two, first))
    open_gate(two, newer)
    async with asyncio.timeout(20):
        final = await other.runs.wait(
            thread["thread_id"], "held", input=held(two, newer), multitask_strategy="interrupt"
        )
    assert final["steps"] == [f"{first}:first", f"{newer}:first", f"{newer}:second"]
    assert (await a.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"


async def test_a_killed_process_s_run_completes_on_the_other_from_its_last_checkpoint(two: Cluster) -> None:
    a, _ = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "ledger", input={**held(two, label), "hold": "after"})
    victim = await executing(two, label)  # `write` has finished (its checkpoint is saved); `after` is running
    survivor = two.other_than(victim)
    two.kill(victim)
    open_gate(two, label)
    started = time.monotonic()
    async with asyncio.timeout(30):
        final = await survivor.runs.join(thread["thread_id"], run["run_id"])
    assert time.monotonic() - started < 3 * LOST_AFTER + 4
    assert final["steps"] == ["prepare", "write", "after"]  # resumed at `after`: nothing before it ran again
    assert final["finished_by"] != victim
    assert ledger_lines(two.folder, label) == [str(victim)]  # the write was made once, by the killed process
    assert (await survivor.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
    attempts = [data["attempt"] for name, data, _ in
                await events(survivor.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"))
                if name == "metadata"]  # fmt: skip
    assert attempts == [1, 2]


async def test_a_write_a_killed_process_had_started_is_not_made_again(two: Cluster) -> None:
    a, _ = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "ledger", input={**held(two, label), "hold": "write"})
    victim = await executing(two, label)  # `write` has appended to the ledger and not finished
    survivor = two.other_than(victim)
    two.kill(victim)
    open_gate(two, label)
    async with asyncio.timeout(30):
        final = await survivor.runs.join(thread["thread_id"], run["run_id"])
    assert "may or may not have taken effect" in final["__error__"]["message"]
    assert ledger_lines(two.folder, label) == [str(victim)]  # never twice
    assert (await survivor.runs.get(thread["thread_id"], run["run_id"]))["status"] == "error"
    assert (await survivor.threads.get_state(thread["thread_id"]))["values"]["steps"] == ["prepare"]
    # What the error says to do, once the ledger is checked: a run with no input continues, and writes again.
    async with asyncio.timeout(30):
        resumed = await survivor.runs.wait(thread["thread_id"], "ledger", input=None)
    assert resumed["steps"] == ["prepare", "write", "after"]
    assert len(ledger_lines(two.folder, label)) == 2


async def test_a_starting_process_leaves_a_running_run_alone_and_a_stopping_one_hands_it_over(two: Cluster) -> None:
    a, _ = two.clients()
    thread = await a.threads.create()
    label = uuid.uuid4().hex
    run = await a.runs.create(thread["thread_id"], "held", input=held(two, label))
    leaving = await executing(two, label)
    [newest] = await two.start(1)  # its start recovers what stopped processes left: not this run
    newest_client = two.client(newest)
    assert (await newest_client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "running"
    two.kill(leaving, signal.SIGTERM)  # returns once the process has exited
    open_gate(two, label)
    async with asyncio.timeout(10):  # handed over at once: no heartbeat to wait out
        final = await newest_client.runs.join(thread["thread_id"], run["run_id"])
    assert final["steps"] == [f"{label}:first", f"{label}:second"]  # resumed at `second`
    assert final["finished_by"] != leaving
    assert (await newest_client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
