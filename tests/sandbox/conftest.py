"""One built sandbox, its host and a gateway running the shipped config's sandbox pools, for all sandbox tests."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestra.core.settings import load_settings, runtime_environment
from orchestra.sandbox.build import build_sandbox
from orchestra.sandbox.config import SandboxConfig
from orchestra.sandbox.host import create_sandbox_host
from orchestra.sandbox.model import World
from orchestra.sandbox.paths import SandboxPaths
from tests.conftest import ROOT, free_port, mcp_client, running_gateway, serving


class Sandbox:
    def __init__(self, paths: SandboxPaths, host_url: str, gateway_url: str, app: Any) -> None:
        self.paths, self.host_url, self.gateway_url, self.app = paths, host_url, gateway_url, app
        self.world = World.load(paths.world)
        self.builds = paths.root.parent / "builds"  # the deploy pool's --workspace, where workflows write builds

    def client(self, pool: str) -> contextlib.AbstractAsyncContextManager[Any]:
        return mcp_client(f"{self.gateway_url}/pools/{pool}/mcp")


SANDBOX_POOLS = ("browser", "fetch", "design", "deploy", "crm", "enrichment", "social", "warehouse", "models")


@pytest.fixture(scope="session")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    data_dir = tmp_path_factory.mktemp("orchestra-data")
    paths = SandboxPaths.under(data_dir)
    build_sandbox(paths, SandboxConfig(), progress=lambda _: None)
    port = free_port()
    host_url = f"http://127.0.0.1:{port}"
    async with (
        serving(create_sandbox_host(paths, host_url), port=port),
        sandbox_gateway(data_dir, host_url) as (gateway_url, app),
    ):
        yield Sandbox(paths, host_url, gateway_url, app)


@contextlib.asynccontextmanager
async def sandbox_gateway(
    data_dir: Path, host_url: str, pools: tuple[str, ...] = SANDBOX_POOLS, **settings: Any
) -> AsyncIterator[tuple[str, Any]]:
    """A gateway running the shipped config's sandbox pools (or some of them) over the sandbox at `host_url`."""
    shipped = load_settings(ROOT / "config" / "orchestra.yaml")
    overrides = {
        "ORCHESTRA_DATA_DIR": str(data_dir),
        "ORCHESTRA_SANDBOX_URL": host_url,
        "ORCHESTRA_CONFIG": str(ROOT / "config" / "orchestra.yaml"),
    }
    environ = runtime_environment(shipped) | overrides
    chosen = {name: shipped.gateway.pools[name].model_dump() for name in pools}
    for pool in chosen.values():
        pool["replaces"] = []
    async with running_gateway(chosen, environ=environ, **settings) as (gateway_url, app):
        yield gateway_url, app


def structured(result: Any) -> Any:
    """A tool result's JSON: structured content when the server sent it, else the parsed text."""
    assert not result.isError, result.content
    if result.structuredContent is not None:
        content = result.structuredContent
        return content.get("result", content) if set(content) == {"result"} else content
    return json.loads(result.content[0].text)


SERVER_KEY = "chat-test-key"  # the one tenant's key of `orchestra_serve`


@dataclasses.dataclass
class Served:
    url: str
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def orchestra_serve(
    sandbox: Sandbox, config: Path, environ: dict[str, str] | None = None, port: int | None = None,
    gateway_url: str | None = None,
) -> AsyncIterator[Served]:  # fmt: skip
    """`orchestra serve` in a process of its own over the sandbox's gateway (or `gateway_url`), with one tenant's
    key; offline unless `config` names models."""
    port = port or free_port()
    data_dir = sandbox.paths.root.parent
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "REDIS_URL"}
    env |= {
        "ORCHESTRA_DATA_DIR": str(data_dir),
        "ORCHESTRA_SANDBOX_URL": sandbox.host_url,
        "ORCHESTRA_CONFIG": str(config),
        "ORCHESTRA_SERVER_KEYS": f"acme={SERVER_KEY}",
        **(environ or {}),
    }
    log = data_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestra", "serve", "--port", str(port),
            "--gateway", gateway_url or sandbox.gateway_url, "--log-level", "warning",
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                if process.returncode is not None:
                    raise RuntimeError(f"orchestra serve stopped: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{url}/ok")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield Served(url, process)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
