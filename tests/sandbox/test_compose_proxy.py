"""The compose stack's proxy for real: Caddy (Debian's) runs deploy/compose/Caddyfile, its addresses moved to free
loopback ports, in front of two real `orchestra serve` processes and two real gateways that share one redis-server,
as deploy/compose.yaml wires them (the servers reach the gateways through the proxy). Runs answer through it, any
server reads what the other wrote, `/metrics` stays private, and losing a server or a gateway loses no request."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from langgraph_sdk import get_client

from tests.conftest import ROOT, free_port, mcp_client
from tests.sandbox.conftest import SERVER_KEY, Sandbox, orchestra_serve, sandbox_gateway

pytestmark = pytest.mark.integration

CADDYFILE = ROOT / "deploy" / "compose" / "Caddyfile"
QUESTION = {"messages": [{"role": "user", "content": "How many open deals do we have in the CRM right now?"}]}


def local_caddyfile(work: Path, server_port: int, gateway_port: int) -> Path:
    """The shipped Caddyfile with its two sites on free ports of 127.0.0.1; everything else as shipped."""
    text = CADDYFILE.read_text()
    replacements = [
        ("\tauto_https off\n", "\tauto_https off\n\tdefault_bind 127.0.0.1\n"),
        ("\nhttp://:8080 {\n", f"\nhttp://:{server_port} {{\n"),
        ("\nhttp://:8700 {\n", f"\nhttp://:{gateway_port} {{\n"),
    ]
    for shipped, local in replacements:
        assert text.count(shipped) == 1, shipped
        text = text.replace(shipped, local)
    (work / "Caddyfile").write_text(text)
    return work / "Caddyfile"


@contextlib.asynccontextmanager
async def caddy(config: Path, upstreams: dict[str, str], work: Path) -> AsyncIterator[None]:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.fail("caddy is missing: make setup installs Debian's caddy package")
    env = {**os.environ, **upstreams, "XDG_DATA_HOME": str(work), "XDG_CONFIG_HOME": str(work)}
    process = await asyncio.create_subprocess_exec(
        binary, "run", "--config", str(config), "--adapter", "caddyfile",
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "caddy.log").open("wb"),
    )  # fmt: skip
    try:
        yield
    finally:
        process.terminate()
        await process.wait()


async def answered(url: str) -> dict:
    client = get_client(url=url, api_key=SERVER_KEY)
    thread = await client.threads.create()
    values = await client.runs.wait(thread["thread_id"], "supervisor", input=QUESTION)
    assert "open deals" in values["answer"].lower(), values["answer"]
    return thread


async def wait_for(url: str, seconds: float = 30) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(int(seconds * 10)):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"{url} did not answer within {seconds:g} s")


async def test_two_servers_and_two_gateways_behind_the_compose_proxy_survive_losing_one_of_each(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    front, gateway_front = free_port(), free_port()
    gateway_ports = [free_port(), free_port()]
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    server_env = {
        "REDIS_URL": redis_url,
        "ORCHESTRA_SERVER__KEY_PREFIX": "orchestra:compose-test",
        "ORCHESTRA_SERVER__METRICS__REQUIRE_KEY": compose["services"]["server-1"]["environment"][
            "ORCHESTRA_SERVER__METRICS__REQUIRE_KEY"
        ],
    }
    config_file = ROOT / "config" / "orchestra.yaml"
    data_dir = sandbox.paths.root.parent
    async with contextlib.AsyncExitStack() as stack:
        gateways = []
        for port in gateway_ports:
            gateway = contextlib.AsyncExitStack()
            await gateway.enter_async_context(
                sandbox_gateway(data_dir, sandbox.host_url, pools=("crm",), port=port, redis_url=redis_url)
            )
            stack.push_async_callback(gateway.aclose)
            gateways.append(gateway)
        servers = [
            await stack.enter_async_context(
                orchestra_serve(
                    sandbox, config_file, environ=server_env, gateway_url=f"http://127.0.0.1:{gateway_front}"
                )
            )
            for _ in range(2)
        ]
        upstreams = {
            "ORCHESTRA_SERVERS": " ".join(httpx.URL(served.url).netloc.decode() for served in servers),
            "ORCHESTRA_GATEWAYS": " ".join(f"127.0.0.1:{port}" for port in gateway_ports),
        }
        await stack.enter_async_context(caddy(local_caddyfile(tmp_path, front, gateway_front), upstreams, tmp_path))
        url = f"http://127.0.0.1:{front}"
        await wait_for(f"{url}/ok")

        async with httpx.AsyncClient(timeout=10) as http:
            for base in (url, f"http://127.0.0.1:{gateway_front}"):
                assert (await http.get(f"{base}/metrics")).status_code == 404, "metrics stay off the proxy"
            for served in servers:  # ... and Prometheus reads them from each replica, without a key
                direct = await http.get(f"{served.url}/metrics")
                assert direct.status_code == 200
                assert "orchestra_server_runs" in direct.text

        threads = [await answered(url) for _ in range(4)]
        for served in servers:  # either replica serves what went through the proxy to the other
            client = get_client(url=served.url, api_key=SERVER_KEY)
            for thread in threads:
                assert (await client.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]

        async with mcp_client(f"http://127.0.0.1:{gateway_front}/pools/crm/mcp") as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert names, "the CRM pool's tools through the proxy"

        servers[0].process.send_signal(signal.SIGKILL)
        await servers[0].process.wait()
        await gateways[0].aclose()
        for _ in range(4):  # the proxy retries on the live replicas: no request is lost
            await answered(url)
        client = get_client(url=url, api_key=SERVER_KEY)
        for thread in threads:
            assert (await client.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]
        async with mcp_client(f"http://127.0.0.1:{gateway_front}/pools/crm/mcp") as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == names
