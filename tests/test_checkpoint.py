"""Checkpointers: LangGraph's conformance suite, crash/resume and interrupts across processes, on SQLite and Redis.

Redis runs as real `redis-server` processes on loopback: the session one from conftest (a database per test), a
3-node Redis Cluster started here, and throwaway servers where a test reads server-wide statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import BASE_CAPABILITIES
from langgraph.checkpoint.conformance.spec.test_delete_thread import ALL_DELETE_THREAD_TESTS
from langgraph.checkpoint.conformance.spec.test_get_tuple import ALL_GET_TUPLE_TESTS
from langgraph.checkpoint.conformance.spec.test_list import ALL_LIST_TESTS
from langgraph.checkpoint.conformance.spec.test_put import ALL_PUT_TESTS
from langgraph.checkpoint.conformance.spec.test_put_writes import ALL_PUT_WRITES_TESTS
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from redis.asyncio import RedisCluster

from orchestra.core.checkpoint import CheckpointerError, open_checkpointer
from orchestra.core.redis_checkpoint import AsyncPlainRedisSaver, connect_redis
from tests.checkpoint_crash_graph import THREAD_ID, State, build
from tests.conftest import ROOT, free_port

HELPER = ROOT / "tests" / "checkpoint_crash_graph.py"
SUITE_SIZES = {
    "put": len(ALL_PUT_TESTS),
    "put_writes": len(ALL_PUT_WRITES_TESTS),
    "get_tuple": len(ALL_GET_TUPLE_TESTS),
    "list": len(ALL_LIST_TESTS),
    "delete_thread": len(ALL_DELETE_THREAD_TESTS),
}


def with_db(url: str, db: int) -> str:
    """The session Redis URL pointed at database `db`, so tests sharing the server do not share keys."""
    return url.rsplit("/", 1)[0] + f"/{db}"


def start_redis(*options: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free loopback port, without persistence; returns it and its port once it answers."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed; run `make test` (it installs it)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return process, port
        time.sleep(0.05)
    process.kill()
    raise TimeoutError("redis-server did not start")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    process, port = start_redis()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """A 3-master Redis Cluster on loopback, its 16384 slots split between the nodes; yields their ports."""
    folder = tmp_path_factory.mktemp("redis-cluster")
    started: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        bus_ports = [free_port() for _ in range(3)]  # explicit: port + 10000 may not exist or be free
        for index, bus_port in enumerate(bus_ports):
            config = ["--cluster-enabled", "yes", "--cluster-config-file", str(folder / f"nodes-{index}.conf")]
            started.append(start_redis(*config, "--cluster-port", str(bus_port)))
        ports = [port for _, port in started]
        clients = [redis.Redis(port=port) for port in ports]
        bounds = [0, 5461, 10923, 16384]
        for index, client in enumerate(clients):
            client.execute_command("CLUSTER ADDSLOTSRANGE", bounds[index], bounds[index + 1] - 1)
            if index:
                client.execute_command("CLUSTER MEET", "127.0.0.1", ports[0], bus_ports[0])
        deadline = time.monotonic() + 30
        while not all(client.cluster("INFO")["cluster_state"] == "ok" for client in clients):
            assert time.monotonic() < deadline, "the test Redis Cluster did not converge"
            time.sleep(0.1)
        for client in clients:
            client.close()
        yield ports
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(10)


@pytest.fixture
def cluster_url(cluster_nodes: list[int]) -> str:
    """The cluster, emptied: each test starts from no keys."""
    for port in cluster_nodes:
        with redis.Redis(port=port) as client:
            client.flushall()
    return f"redis://127.0.0.1:{cluster_nodes[0]}/0"


def backend_url(backend: str, request: pytest.FixtureRequest, db: int) -> str | None:
    if backend == "sqlite":
        return None
    if backend == "cluster":
        return request.getfixturevalue("cluster_url")
    url = with_db(request.getfixturevalue("redis_url"), db)
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


async def run_conformance(data_dir: Path, url: str | None) -> dict[str, Any]:
    """LangGraph's conformance suite on the checkpointer `open_checkpointer` gives, as its report dictionary."""

    @checkpointer_test(name=f"orchestra:{'redis' if url else 'sqlite'}")
    async def factory() -> AsyncIterator[BaseCheckpointSaver]:
        async with open_checkpointer(data_dir, url) as saver:
            yield saver

    report = await validate(factory)
    report.print_report()
    return report.to_dict()


def assert_conforms(report: dict[str, Any]) -> None:
    results = report["results"]
    assert {capability.value for capability in BASE_CAPABILITIES} == set(SUITE_SIZES)
    for capability, size in SUITE_SIZES.items():
        result = results[capability]
        assert result["detected"], capability
        assert result["failures"] == [], (capability, result["failures"])
        assert (result["tests_passed"], result["tests_failed"]) == (size, 0), (capability, result)
    assert report["conformance_level"] == "FULL"


async def test_redis_saver_passes_conformance_suite(redis_url: str, tmp_path: Path) -> None:
    url = with_db(redis_url, 1)
    async with open_checkpointer(tmp_path, url) as saver:
        assert isinstance(saver, AsyncPlainRedisSaver)
    assert_conforms(await run_conformance(tmp_path, url))
    assert not (tmp_path / "checkpoints.sqlite").exists()


async def test_redis_saver_passes_conformance_suite_on_a_cluster(cluster_url: str, tmp_path: Path) -> None:
    async with open_checkpointer(tmp_path, cluster_url) as saver:
        assert isinstance(saver, AsyncPlainRedisSaver)
        assert isinstance(saver.client, RedisCluster)  # detected from the server: the URL is a plain redis://
    assert_conforms(await run_conformance(tmp_path, cluster_url))


async def test_sqlite_saver_passes_conformance_suite(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    async with open_checkpointer(data_dir, None) as saver:
        assert isinstance(saver, AsyncSqliteSaver)
    assert (data_dir / "checkpoints.sqlite").is_file()
    assert_conforms(await run_conformance(data_dir, None))


def run_helper(graph: str, action: str, work: Path, url: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(HELPER), graph, action, "--work", str(work), "--data-dir", str(work / "data")]
    if url:
        command += ["--redis-url", url]
    return subprocess.run([*command, *extra], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def executions(work: Path) -> list[str]:
    return (work / "executions.log").read_text().split()


@pytest.mark.parametrize("backend", ["sqlite", "redis", "cluster"])
def test_killed_run_resumes_from_its_last_checkpoint(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = backend_url(backend, request, db=2)

    crashed = run_helper("crash", "start", tmp_path, url)
    assert crashed.returncode == 1, crashed.stderr  # os._exit(1) inside node two
    assert crashed.stdout == ""
    assert executions(tmp_path) == ["one", "two"]

    resumed = run_helper("crash", "resume", tmp_path, url)  # a new process: graph.ainvoke(None, same thread)
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["before"]["next"] == ["two"]  # the checkpoint after node one survived the crash
    assert outcome["before"]["values"] == {"log": ["one"]}
    assert executions(tmp_path) == ["one", "two", "two", "three"]  # node one did not run again
    assert outcome["after"] == {"next": [], "values": {"log": ["one", "two", "three"]}, "interrupts": []}


@pytest.mark.parametrize("backend", ["sqlite", "redis", "cluster"])
def test_interrupt_survives_a_restart_and_resumes(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = backend_url(backend, request, db=3)

    first = run_helper("interrupt", "start", tmp_path, url)
    assert first.returncode == 0, first.stderr
    paused = json.loads(first.stdout)["after"]
    assert paused == {"next": ["review"], "values": {"log": ["prepare"]}, "interrupts": [{"question": "ship it?"}]}

    second = run_helper("interrupt", "resume", tmp_path, url, "--resume", "yes")
    assert second.returncode == 0, second.stderr
    outcome = json.loads(second.stdout)
    assert outcome["before"] == paused  # the new process found the pending interrupt in the store
    assert outcome["after"] == {"next": [], "values": {"log": ["prepare", "finish"], "answer": "yes"}, "interrupts": []}
    # `ask` reruns from its start on resume (LangGraph's semantics); `prepare` ran once.
    assert executions(tmp_path) == ["prepare", "ask", "ask", "finish"]


async def test_redis_hot_paths_never_walk_the_keyspace_and_deletion_leaves_nothing(tmp_path: Path) -> None:
    """A whole graph life on a server of its own: then no KEYS or SCAN was ever sent and no key is left."""
    with redis_server() as url:
        async with open_checkpointer(tmp_path, url) as saver:
            assert isinstance(saver, AsyncPlainRedisSaver)
            graph = build("crash", tmp_path).compile(checkpointer=saver)
            (tmp_path / "crashed").touch()  # this run must not kill the test process
            config: Any = {"configurable": {"thread_id": THREAD_ID}}
            assert await graph.ainvoke({"log": []}, config) == {"log": ["one", "two", "three"]}
            history = [snapshot async for snapshot in graph.aget_state_history(config)]
            assert [snapshot.values.get("log") for snapshot in history][:2] == [["one", "two", "three"], ["one", "two"]]
            assert [snapshot.next for snapshot in history][-1] == ("__start__",)
            listed = [found async for found in saver.alist(None)]
            assert {found.config["configurable"]["thread_id"] for found in listed} == {THREAD_ID}
            assert len(listed) == len(history)
            await saver.adelete_thread(THREAD_ID)
            assert await saver.aget_tuple(config) is None
            stats = await saver.client.info("commandstats")
            assert await saver.client.dbsize() == 0
        assert "cmdstat_hset" in stats
        assert not {"cmdstat_keys", "cmdstat_scan"} & set(stats), sorted(stats)


async def test_redis_ttl_expires_an_idle_thread(redis_url: str) -> None:
    client = await connect_redis(with_db(redis_url, 4))
    try:
        await client.flushdb()
        saver = AsyncPlainRedisSaver(client, ttl=1)
        builder: StateGraph[Any] = StateGraph(State)
        builder.add_node("only", lambda state: {"log": ["only"]})
        builder.add_edge(START, "only")
        builder.add_edge("only", END)
        config: Any = {"configurable": {"thread_id": "short-lived"}}
        await builder.compile(checkpointer=saver).ainvoke({"log": []}, config, durability="sync")
        keys = await client.keys("*")  # a test may look at the whole keyspace; the saver never does
        assert keys
        ttls = {key: await client.pttl(key) for key in keys if key != b"orchestra:checkpoint:threads"}
        assert all(0 < ttl <= 1000 for ttl in ttls.values()), ttls
        assert await saver.aget_tuple(config) is not None
        deadline = time.monotonic() + 5
        while await saver.aget_tuple(config) is not None:
            assert time.monotonic() < deadline, "the thread did not expire"
            await asyncio.sleep(0.1)
        assert [found async for found in saver.alist(None)] == []
        assert await client.exists("orchestra:checkpoint:threads") == 0  # the stale registry entry was dropped
    finally:
        await client.aclose()


async def test_unreachable_or_malformed_redis_url_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    closed_port = free_port()
    with pytest.raises(CheckpointerError) as unreachable:
        async with open_checkpointer(tmp_path, f"redis://:hunter2@127.0.0.1:{closed_port}/0"):
            pytest.fail("no checkpointer may be yielded for a Redis that is not there")
    message = str(unreachable.value)
    assert f"REDIS_URL=redis://:***@127.0.0.1:{closed_port}/0" in message
    assert "hunter2" not in message
    assert "unset REDIS_URL" in message
    assert str(tmp_path / "checkpoints.sqlite") in message

    with pytest.raises(CheckpointerError, match=r"REDIS_URL=http://localhost:6379 .*scheme"):
        async with open_checkpointer(tmp_path, "http://localhost:6379"):
            pytest.fail("a non-Redis URL must be refused")
