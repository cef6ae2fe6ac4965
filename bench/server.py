"""Per-run overhead of `orchestra serve` (or `langgraph dev`) on a trivial graph, seen by the langgraph-sdk client.

The server runs in a process of its own, serving one graph that echoes the last message (no tools, no model). For
each of N sequential runs it times `runs.wait` on a new thread, on one thread (whose state grows by two messages a
run), stateless `runs.wait`, and `runs.stream` to its first event and to its first graph event; prints p50/p95/mean
in milliseconds.

    python -m bench.server --runs 200                 # orchestra serve
    python -m bench.server --runs 200 --redis 2       # two `orchestra serve` processes sharing a redis-server
    python -m bench.server --runs 200 --langgraph-dev # the same graph under `langgraph dev` (in-memory runtime)

With `--redis N` the benchmark starts its own redis-server (no persistence) and N server processes on it; the client
sends its runs to each process in turn, and each run executes on whichever process takes it from the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from langgraph_sdk import get_client

from bench.processes import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
HI = {"messages": [{"role": "user", "content": "hi"}]}

_ORCHESTRA = """
import sys, uvicorn
from pathlib import Path
from orchestra.core.settings import OrchestraSettings
from orchestra.server.app import create_app
from tests.server.graphs import echo
settings = OrchestraSettings(data_dir=Path(sys.argv[2]))
environ = {"REDIS_URL": sys.argv[3]} if len(sys.argv) > 3 else {}
app = create_app(settings, environ, gateway_url="http://127.0.0.1:9", graphs={"echo": echo()})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _start(port: int, folder: Path, langgraph_dev: bool, redis_url: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANGGRAPH_CLI_NO_ANALYTICS": "1",
           "LANGGRAPH_NO_VERSION_CHECK": "true"}  # fmt: skip
    if not langgraph_dev:
        command = [sys.executable, "-c", _ORCHESTRA, str(port), str(folder), *([redis_url] if redis_url else [])]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (folder / "graph.py").write_text("from tests.server.graphs import echo\ngraph = echo()\n")
    (folder / "langgraph.json").write_text(json.dumps({"dependencies": ["."], "graphs": {"echo": "./graph.py:graph"}}))
    command = [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload", "--port",
               str(port), "--host", "127.0.0.1"]  # fmt: skip
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<34} p50 {statistics.median(ordered):7.2f}  p95 {p95:7.2f}  mean {statistics.fmean(ordered):7.2f} ms"


@contextlib.contextmanager
def _redis_server() -> Iterator[str]:
    """A redis-server of the benchmark's own, on a free loopback port, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--redis needs redis-server (apt-get install redis-server)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        child.terminate()
        child.wait(10)


async def _measure(urls: list[str], runs: int) -> None:
    clients = [get_client(url=url, api_key=None, timeout=60) for url in urls]
    thread = await clients[0].threads.create()
    for n in range(10 * len(clients)):  # warm up: imports, connections, first checkpoints, in every process
        await clients[n % len(clients)].runs.wait(thread["thread_id"], "echo", input=HI)
    waits, fresh, stateless, first_event, first_graph_event = [], [], [], [], []
    for n in range(runs):
        client = clients[n % len(clients)]
        started = time.perf_counter()
        await client.runs.wait(thread["thread_id"], "echo", input=HI)
        waits.append((time.perf_counter() - started) * 1000)
        new = await client.threads.create()
        started = time.perf_counter()
        await client.runs.wait(new["thread_id"], "echo", input=HI)
        fresh.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await client.runs.wait(None, "echo", input=HI)
        stateless.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        seen_first = False
        async for part in client.runs.stream(None, "echo", input=HI, stream_mode="values"):
            if not seen_first:
                first_event.append((time.perf_counter() - started) * 1000)
                seen_first = True
            if part.event == "values":
                first_graph_event.append((time.perf_counter() - started) * 1000)
                break
    print(_summary("runs.wait (new thread each)", fresh))
    print(_summary(f"runs.wait (one thread, {runs} runs)", waits))
    print(_summary("runs.wait (stateless)", stateless))
    print(_summary("runs.stream: first event", first_event))
    print(_summary("runs.stream: first graph event", first_graph_event))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--langgraph-dev", action="store_true", help="Measure `langgraph dev` instead.")
    parser.add_argument("--redis", type=int, default=0, metavar="N", help="N server processes on one redis-server.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(_redis_server()) if args.redis else None
        ports = [free_port() for _ in range(max(args.redis, 1))]
        servers = [_start(port, Path(folder), args.langgraph_dev, redis_url) for port in ports]
        try:
            for port in ports:
                wait_http(f"http://127.0.0.1:{port}/ok", 90)
            what = "langgraph dev" if args.langgraph_dev else "orchestra serve"
            where = f", {args.redis} process(es) on Redis" if args.redis else ""
            print(f"{what}{where}: {args.runs} runs of a one-node graph")
            asyncio.run(_measure([f"http://127.0.0.1:{port}" for port in ports], args.runs))
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(30)


if __name__ == "__main__":
    main()
