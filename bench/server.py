"""`orchestra serve` against `langgraph dev`, side by side in one run, with the same langgraph-sdk client and graph.

The graph is the supervisor answering a chat question offline from the sandbox CRM ("How many open deals do we have
in the CRM right now?": triage, two tool calls through a real gateway to the sandbox's CRM server, a report; no
model). Each target is measured in turn:
- overhead per run: the client's wall time of `runs.wait` on a new thread minus the graph's own time (from its first
  checkpoint to its last, as the thread's history dates them), p50/p95;
- `runs.stream`: time to the first event, and to the first event the graph itself makes, p50/p95;
- runs per second with 1, 16 and 64 clients, each sending runs (a new thread each) back to back;
- many streaming runs started at once (200 by default): errors, p95 time to the first event, wall time.
Targets: `orchestra serve` (one process, SQLite), `langgraph dev` (its in-memory runtime), and two `orchestra serve`
processes on one redis-server (REDIS_URL; the client alternates between them, runs go to whichever takes them).

    python -m bench.server                      # all three targets
    python -m bench.server --targets serve --runs 50 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from rich.console import Console
from rich.table import Table

from bench.processes import free_port, process, wait_http

ROOT = Path(__file__).resolve().parent.parent
ORCHESTRA = str(Path(sys.executable).parent / "orchestra")
GRAPH = "supervisor"
QUESTION = {"messages": [{"role": "user", "content": "How many open deals do we have in the CRM right now?"}]}
TARGETS = ("serve", "langgraph-dev", "serve-redis-x2")


@dataclass
class Percentiles:
    p50: float
    p95: float

    @classmethod
    def of(cls, samples: list[float]) -> Percentiles:
        ordered = sorted(samples) or [float("nan")]
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return cls(round(statistics.median(ordered), 2), round(p95, 2))


@dataclass
class Result:
    target: str
    wall_ms: Percentiles
    graph_ms: Percentiles
    overhead_ms: Percentiles
    first_event_ms: Percentiles
    first_graph_event_ms: Percentiles
    runs_per_second: dict[int, float] = field(default_factory=dict)
    throughput_errors: int = 0
    streams: int = 0
    stream_errors: int = 0
    streams_first_event_p95_ms: float = 0.0
    streams_wall_s: float = 0.0


def _answered(values: Any) -> bool:
    """The run ended with the supervisor's answer: an AI message with the report."""
    messages = values.get("messages") if isinstance(values, dict) else None
    return bool(messages) and messages[-1].get("type") == "ai" and bool(messages[-1].get("content"))


async def _graph_ms(client: LangGraphClient, thread_id: str) -> float:
    """The graph's own time on a thread of one run: its first checkpoint (the input) to its last."""
    history = await client.threads.get_history(thread_id, limit=1000)
    stamps = [datetime.fromisoformat(state["created_at"]) for state in history]
    return (max(stamps) - min(stamps)).total_seconds() * 1000


async def _overhead(clients: list[LangGraphClient], runs: int) -> tuple[list[float], list[float]]:
    walls, graphs = [], []
    for n in range(runs):
        client = clients[n % len(clients)]
        thread = await client.threads.create()
        started = time.perf_counter()
        values = await client.runs.wait(thread["thread_id"], GRAPH, input=QUESTION)
        walls.append((time.perf_counter() - started) * 1000)
        if not _answered(values):
            raise RuntimeError(f"the run did not answer: {str(values)[:300]}")
        graphs.append(await _graph_ms(client, thread["thread_id"]))
    return walls, graphs


async def _stream(client: LangGraphClient, thread_id: str) -> tuple[float, float]:
    """Streams one run to its end; answers the times (ms) to the first event and to the graph's first event."""
    started = time.perf_counter()
    first = first_graph = None
    last_values: Any = None
    async for part in client.runs.stream(thread_id, GRAPH, input=QUESTION, stream_mode=["custom", "values"]):
        now = (time.perf_counter() - started) * 1000
        first = first if first is not None else now
        if part.event.split("|")[0] in ("custom", "values"):
            first_graph = first_graph if first_graph is not None else now
        if part.event == "values":
            last_values = part.data
        if part.event == "error":
            raise RuntimeError(f"the run failed: {part.data}")
    if first is None or first_graph is None or not _answered(last_values):
        raise RuntimeError(f"the stream ended without the answer: {str(last_values)[:300]}")
    return first, first_graph


async def _first_events(clients: list[LangGraphClient], runs: int) -> tuple[list[float], list[float]]:
    firsts, graph_firsts = [], []
    for n in range(runs):
        client = clients[n % len(clients)]
        thread = await client.threads.create()
        first, first_graph = await _stream(client, thread["thread_id"])
        firsts.append(first)
        graph_firsts.append(first_graph)
    return firsts, graph_firsts


async def _throughput(clients: list[LangGraphClient], workers: int, seconds: float) -> tuple[float, int]:
    """Runs per second with `workers` clients sending runs back to back for `seconds`; and the failed runs."""
    done, failed = 0, 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(n: int) -> None:
        nonlocal done, failed
        client = clients[n % len(clients)]
        while time.perf_counter() < deadline:
            try:
                thread = await client.threads.create()
                values = await client.runs.wait(thread["thread_id"], GRAPH, input=QUESTION)
                done += 1 if _answered(values) else 0
                failed += 0 if _answered(values) else 1
            except Exception:  # counted: a benchmark reports failures instead of stopping at the first
                failed += 1

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return round(done / (time.perf_counter() - started), 2), failed


async def _concurrent_streams(urls: list[str], count: int) -> tuple[int, float, float]:
    """`count` streaming runs started at once, each with a client (connection) of its own: errors, p95 time to the
    first event (ms), wall time (s)."""
    clients = [get_client(url=urls[n % len(urls)], api_key=None, timeout=600) for n in range(count)]
    threads = [await client.threads.create() for client in clients]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_stream(client, thread["thread_id"]) for client, thread in zip(clients, threads, strict=True)),
        return_exceptions=True,
    )
    wall = time.perf_counter() - started
    firsts = [outcome[0] for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if errors:
        Console(stderr=True).print(f"  first stream error: {errors[0]!r}"[:400])
    return len(errors), Percentiles.of(firsts).p95, round(wall, 2)


async def _measure(target: str, urls: list[str], args: argparse.Namespace) -> Result:
    say = Console(stderr=True).print
    clients = [get_client(url=url, api_key=None, timeout=600) for url in urls]
    await _overhead(clients, 5 * len(clients))  # warm up: imports, tool sessions, first checkpoints, each process
    walls, graphs = await _overhead(clients, args.runs)
    overheads = [wall - graph for wall, graph in zip(walls, graphs, strict=True)]
    say(f"  {target}: overhead p50 {Percentiles.of(overheads).p50} ms")
    firsts, graph_firsts = await _first_events(clients, args.runs)
    result = Result(target, Percentiles.of(walls), Percentiles.of(graphs), Percentiles.of(overheads),
                    Percentiles.of(firsts), Percentiles.of(graph_firsts))  # fmt: skip
    for level in args.levels:
        rate, failed = await _throughput(clients, level, args.seconds)
        result.runs_per_second[level] = rate
        result.throughput_errors += failed
        say(f"  {target}: {rate} runs/s with {level} clients ({failed} failed)")
    if args.streams:
        result.streams = args.streams
        errors, p95, wall = await _concurrent_streams(urls, args.streams)
        result.stream_errors, result.streams_first_event_p95_ms, result.streams_wall_s = errors, p95, wall
        say(f"  {target}: {args.streams} concurrent streams, {errors} errors, first event p95 {p95} ms")
    return result


@contextlib.contextmanager
def _redis_server(work: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own, on a free loopback port, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("serve-redis-x2 needs redis-server (make setup installs it)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with process(command, {}, work / "redis.log"):
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def _servers(target: str, env: dict[str, str], work: Path) -> Iterator[list[str]]:
    """The target's server processes, started and answering; yields their URLs."""
    with contextlib.ExitStack() as stack:
        ports = [free_port() for _ in range(2 if target == "serve-redis-x2" else 1)]
        if target == "langgraph-dev":
            argv = [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload",
                    "--host", "127.0.0.1", "--port", str(ports[0])]  # fmt: skip
            stack.enter_context(process(argv, env, work / "langgraph-dev.log"))
        else:
            extra = {"REDIS_URL": stack.enter_context(_redis_server(work))} if target == "serve-redis-x2" else {}
            for n, port in enumerate(ports):
                argv = [ORCHESTRA, "serve", "--gateway", env["ORCHESTRA_GATEWAY_URL"], "--port", str(port),
                        "--log-level", "warning"]  # fmt: skip
                stack.enter_context(process(argv, env | extra, work / f"{target}-{n}.log"))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_http(f"{url}/ok", 180, success=True)
        yield urls


@contextlib.contextmanager
def _world(work: Path) -> Iterator[dict[str, str]]:
    """The sandbox world and a gateway over its servers, in a data directory of the benchmark's own; yields the
    environment every server process runs with."""
    env = {
        "ORCHESTRA_DATA_DIR": str(work / "data"), "ORCHESTRA_SANDBOX__PORT": str(free_port()),
        "ORCHESTRA_CONFIG": str(ROOT / "config" / "orchestra.yaml"),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true",
    }  # fmt: skip
    subprocess.run([ORCHESTRA, "sandbox", "up"], env=os.environ | env, check=True, capture_output=True, timeout=600)
    try:
        port = free_port()
        with process([ORCHESTRA, "gateway", "--port", str(port), "--log-level", "warning"], env, work / "gateway.log"):
            gateway = f"http://127.0.0.1:{port}"
            wait_http(f"{gateway}/readyz", 180, success=True)
            yield env | {"ORCHESTRA_GATEWAY_URL": gateway}
    finally:
        subprocess.run([ORCHESTRA, "sandbox", "down"], env=os.environ | env, capture_output=True, timeout=60)


def _table(results: list[Result]) -> Table:
    base = results[0]
    table = Table(title=f"{GRAPH}, offline CRM question; ratio = target / {base.target}")
    table.add_column("measure")
    for result in results:
        table.add_column(result.target, justify="right")

    def row(name: str, value: Callable[[Result], float], unit: str = "") -> None:
        cells = []
        for result in results:
            ratio = f" ({value(result) / value(base):.3g}x)" if value(base) and result is not base else ""
            cells.append(f"{value(result):g}{unit}{ratio}")
        table.add_row(name, *cells)

    row("overhead p50", lambda r: r.overhead_ms.p50, " ms")
    row("overhead p95", lambda r: r.overhead_ms.p95, " ms")
    row("graph's own time p50", lambda r: r.graph_ms.p50, " ms")
    row("runs.wait wall p50", lambda r: r.wall_ms.p50, " ms")
    row("first event p50", lambda r: r.first_event_ms.p50, " ms")
    row("first event p95", lambda r: r.first_event_ms.p95, " ms")
    row("first graph event p50", lambda r: r.first_graph_event_ms.p50, " ms")
    for level in base.runs_per_second:
        row(f"runs/s, {level} clients", lambda r, level=level: r.runs_per_second[level])
    row("failed runs (throughput)", lambda r: r.throughput_errors)
    if base.streams:
        row(f"{base.streams} streams: errors", lambda r: r.stream_errors)
        row(f"{base.streams} streams: first event p95", lambda r: r.streams_first_event_p95_ms, " ms")
        row(f"{base.streams} streams: wall", lambda r: r.streams_wall_s, " s")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"Comma-separated, of {', '.join(TARGETS)}.")
    parser.add_argument("--runs", type=int, default=100, help="Sequential runs for overhead and first events.")
    parser.add_argument("--levels", default="1,16,64", help="Concurrent clients for runs per second.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each runs-per-second level.")
    parser.add_argument("--streams", type=int, default=200, help="Streaming runs started at once (0: none).")
    parser.add_argument("--output", type=Path, default=None, help="JSON (default: bench/results/server-<time>.json)")
    args = parser.parse_args()
    args.levels = [int(level) for level in args.levels.split(",")]
    targets = args.targets.split(",")
    if unknown := set(targets) - set(TARGETS):
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(TARGETS)}")
    os.environ.pop("REDIS_URL", None)  # only the Redis target uses Redis, and then its own server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still stop every process it started
    results = []
    with tempfile.TemporaryDirectory(prefix="orchestra-bench-") as folder, _world(Path(folder)) as env:
        for target in targets:
            with _servers(target, env, Path(folder)) as urls:
                results.append(asyncio.run(_measure(target, urls, args)))
    Console(width=160).print(_table(results))
    out = args.output or ROOT / "bench" / "results" / f"server-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"graph": GRAPH, "question": QUESTION, "arguments": {**vars(args), "output": str(out)},
                               "results": [asdict(result) for result in results]}, indent=2))  # fmt: skip
    print(f"written {out}")


if __name__ == "__main__":
    main()
