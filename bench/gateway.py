"""Gateway overhead: the same client and the same upstream, called directly and through the gateway.

Upstream: the MCP reference server (`mcp-server-everything streamableHttp`), tool `echo`. Client: the mcp SDK's
ClientSession over streamable HTTP, N concurrent sessions each calling in a loop. Targets, measured side by side
in one run: direct, through the gateway (URL pool, shared upstream session), and through the gateway with the
result cache on (every call a hit). Prints a table and writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from bench.contextforge import Unavailable, contextforge
from bench.processes import free_port, process, wait_http
from orchestra.tools.gateway_client import gateway_session

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = ROOT / "node_modules" / ".bin" / "mcp-server-everything"


@dataclass(frozen=True)
class Target:
    """Where the client connects, the tool's name there, and the process whose CPU time is counted."""

    url: str
    tool: str = "echo"
    headers: dict[str, str] | None = None
    pid: int | None = None


@dataclass
class Measurement:
    target: str
    sessions: int
    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    gateway_cpu_ms_per_call: float | None = None


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(name: str, target: Target, sessions: int, seconds: float, message: str) -> Measurement:
    latencies: list[float] = []
    errors = 0
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(gateway_session(target.url, target.headers)) for _ in range(sessions)
        ]
        for client in clients:  # warm-up: first calls open connections and fetch schemas
            await client.call_tool(target.tool, {"message": message})
        stop_at = time.perf_counter() + seconds

        async def loop(client: object, index: int) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    result = await client.call_tool(target.tool, {"message": message})  # type: ignore[attr-defined]
                    if result.isError:
                        errors += 1
                except Exception:  # counted as a failed call
                    errors += 1
                latencies.append(time.perf_counter() - started)

        gateway_pid = target.pid
        began, cpu_before = time.perf_counter(), _cpu_seconds(gateway_pid) if gateway_pid else 0.0
        await asyncio.gather(*(loop(c, i) for i, c in enumerate(clients)))
        elapsed = time.perf_counter() - began
        cpu = (_cpu_seconds(gateway_pid) - cpu_before) * 1000 / len(latencies) if gateway_pid else None
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Measurement(
        name, sessions, len(latencies), errors, round(elapsed, 2), round(len(latencies) / elapsed, 1),
        round(quantiles[49] * 1000, 3), round(quantiles[94] * 1000, 3), round(quantiles[98] * 1000, 3),
        round(cpu, 3) if cpu is not None else None,
    )  # fmt: skip


async def _run(targets: dict[str, Target], levels: list[int], seconds: float) -> list[Measurement]:
    results = []
    for sessions in levels:  # targets interleaved per level, so drift on a noisy machine hits all alike
        for name, target in targets.items():
            message = "bench" if "cache" in name else f"bench-{name}"
            results.append(await _measure(name, target, sessions, seconds, message))
            Console(stderr=True).print(f"  {name} x{sessions}: {results[-1].calls_per_second} calls/s")
    return results


def _table(results: list[Measurement]) -> Table:
    direct = {m.sessions: m for m in results if m.target == "direct"}
    table = Table(
        "target", "sessions", "calls/s", "vs direct", "p50 ms", "p95 ms", "p99 ms", "added p50 ms",
        "gateway CPU ms/call", "errors",
    )  # fmt: skip
    for m in results:
        base = direct[m.sessions]
        table.add_row(
            m.target, str(m.sessions), f"{m.calls_per_second:.0f}",
            f"{m.calls_per_second / base.calls_per_second:.2f}x",
            f"{m.p50_ms:.2f}", f"{m.p95_ms:.2f}", f"{m.p99_ms:.2f}", f"{m.p50_ms - base.p50_ms:+.2f}",
            "-" if m.gateway_cpu_ms_per_call is None else f"{m.gateway_cpu_ms_per_call:.2f}", str(m.errors),
        )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per target and level")
    parser.add_argument("--levels", default="1,16,64", help="concurrent sessions, comma-separated")
    parser.add_argument(
        "--contextforge", action="store_true", help="add IBM ContextForge (installed into var/ on first use)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON file (default: bench/results/gateway-<time>.json)"
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    work = Path(tempfile.mkdtemp(prefix="orchestra-bench-"))
    upstream_port, gateway_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/mcp"
    pool = {"tier": "ai", "url": upstream, "timeout": "30s"}
    config = {
        "gateway": {
            "port": gateway_port,
            "pools": {"echo": pool, "echo-cached": {**pool, "cache": {"ttl": "10m"}}},
        }
    }
    (work / "gateway.yaml").write_text(yaml.safe_dump(config))
    gateway = f"http://127.0.0.1:{gateway_port}"
    with (
        process([str(EVERYTHING), "streamableHttp"], {"PORT": str(upstream_port)}, work / "upstream.log"),
        process(
            [sys.executable, "-m", "orchestra", "gateway", "--config", str(work / "gateway.yaml"),
             "--log-level", "warning"],
            {}, work / "gateway.log",
        ) as gateway_process,
    ):  # fmt: skip
        wait_http(upstream)
        wait_http(f"{gateway}/healthz")
        targets = {
            "direct": Target(upstream),
            "gateway": Target(f"{gateway}/pools/echo/mcp", pid=gateway_process.pid),
            "gateway+cache": Target(f"{gateway}/pools/echo-cached/mcp", pid=gateway_process.pid),
        }
        with contextlib.ExitStack() as stack:
            if args.contextforge:
                try:
                    url, headers, pid = stack.enter_context(contextforge(upstream, work, free_port()))
                    targets["contextforge"] = Target(url, tool="everything-echo", headers=headers, pid=pid)
                except Unavailable as exc:
                    Console(stderr=True).print(f"[yellow]ContextForge left out:[/yellow] {exc}")
            Console(stderr=True).print(f"measuring {list(targets)} at {levels} sessions, {args.seconds:g}s each")
            results = asyncio.run(_run(targets, levels, args.seconds))
    Console(width=160).print(_table(results))
    out = args.output or ROOT / "bench" / "results" / f"gateway-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "results": [asdict(m) for m in results],
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
