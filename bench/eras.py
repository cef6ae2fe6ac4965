"""The gateway's two paths side by side: a legacy session (`initialize`, `Mcp-Session-Id`) and a stateless MCP
2026-07-28 request, for the same `tools/call` of the same upstream, from the same raw HTTP client.

Upstream: the MCP reference server (`mcp-server-everything streamableHttp`, a legacy server), tool `echo`, also
called directly for the baseline. Client: httpx with N concurrent loops, each one message per POST (no SDK on
either side, so the difference is the gateway's). Targets are interleaved per level; figures are ratios to the
direct call measured in the same run. Prints a table and writes JSON under bench/results/.

    .venv/bin/python -m bench.eras [--seconds 4] [--levels 1,16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from bench.processes import free_port, process, wait_http

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = ROOT / "node_modules" / ".bin" / "mcp-server-everything"
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
MODERN = "2026-07-28"
Call = Callable[[httpx.AsyncClient, int], Awaitable[dict[str, Any]]]


def _reply(response: httpx.Response) -> dict[str, Any]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


async def legacy_caller(http: httpx.AsyncClient, url: str) -> Call:
    """A session opened once; each call then carries its id, as every legacy client does."""
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
    opened = await http.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init},
                             headers=ACCEPT)  # fmt: skip
    headers = {**ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)

    async def call(client: httpx.AsyncClient, request_id: int) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "bench"}}}  # fmt: skip
        return _reply(await client.post(url, json=body, headers=headers))

    return call


async def modern_caller(http: httpx.AsyncClient, url: str) -> Call:
    """Nothing opened (`http` is not used before the calls): every request carries its version and capabilities,
    and mirrors its method and name."""
    headers = {**ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo"}
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}

    async def call(client: httpx.AsyncClient, request_id: int) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "bench"}, "_meta": meta}}  # fmt: skip
        return _reply(await client.post(url, json=body, headers=headers))

    return call


async def _measure(name: str, make: Callable[[httpx.AsyncClient], Awaitable[Call]], loops: int,
                   seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=loops, max_keepalive_connections=loops)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        calls = [await make(http) for _ in range(loops)]
        for call in calls:  # warm-up: connections and the gateway's catalogue
            await call(http, 1)
        stop_at = time.perf_counter() + seconds

        async def loop(call: Call) -> None:
            nonlocal errors
            request_id = 2
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                reply = await call(http, request_id)
                latencies.append(time.perf_counter() - started)
                errors += "error" in reply or bool(reply.get("result", {}).get("isError"))
                request_id += 1

        began = time.perf_counter()
        await asyncio.gather(*(loop(call) for call in calls))
        elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"target": name, "loops": loops, "calls": len(latencies), "errors": errors,
            "calls_per_second": round(len(latencies) / elapsed, 1), "p50_ms": round(quantiles[49] * 1000, 3),
            "p95_ms": round(quantiles[94] * 1000, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per target and level")
    parser.add_argument("--levels", default="1,16", help="concurrent loops, comma-separated")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default: bench/results/eras-<time>.json)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="orchestra-bench-eras-"))
    upstream_port, gateway_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/mcp"
    config = {"gateway": {"port": gateway_port, "pools": {"echo": {"tier": "ai", "url": upstream}}}}
    (work / "gateway.yaml").write_text(yaml.safe_dump(config))
    pool = f"http://127.0.0.1:{gateway_port}/pools/echo/mcp"
    targets: dict[str, Callable[[httpx.AsyncClient], Awaitable[Call]]] = {
        "direct (legacy session)": lambda http: legacy_caller(http, upstream),
        "gateway, legacy session": lambda http: legacy_caller(http, pool),
        "gateway, 2026-07-28": lambda http: modern_caller(http, pool),
    }
    gateway_argv = [sys.executable, "-m", "orchestra", "gateway", "--config", str(work / "gateway.yaml"),
                    "--log-level", "warning"]  # fmt: skip
    with (
        process([str(EVERYTHING), "streamableHttp"], {"PORT": str(upstream_port)}, work / "upstream.log"),
        process(gateway_argv, {}, work / "gateway.log"),
    ):
        wait_http(upstream)
        wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
        results = [
            asyncio.run(_measure(name, make, loops, args.seconds))
            for loops in (int(level) for level in args.levels.split(","))
            for name, make in targets.items()
        ]
    table = Table("target", "loops", "calls/s", "vs direct", "p50 ms", "p95 ms", "added p50 ms", "errors")
    for result in results:
        base = next(r for r in results if r["loops"] == result["loops"] and r["target"].startswith("direct"))
        table.add_row(
            result["target"], str(result["loops"]), f"{result['calls_per_second']:.0f}",
            f"{result['calls_per_second'] / base['calls_per_second']:.2f}x", f"{result['p50_ms']:.2f}",
            f"{result['p95_ms']:.2f}", f"{result['p50_ms'] - base['p50_ms']:+.2f}", str(result["errors"]),
        )  # fmt: skip
    Console(width=140).print(table)
    out = args.output or ROOT / "bench" / "results" / f"eras-{time.strftime('%Y%m%dT%H%M%S')}.json"
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
