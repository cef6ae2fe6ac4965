"""The sandbox host serves sites and deployments, never its own data: raw HTTP requests, sent byte for byte (no
client normalises them), against the real host on 127.0.0.1 over a built world."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from orchestra.sandbox.host import sandbox_id
from orchestra.sandbox.paths import SandboxPaths
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


async def raw_get(base_url: str, target: bytes) -> tuple[int, bytes]:
    """GET `target` exactly as given; returns (status, body)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def data_signatures(root: Path) -> dict[str, bytes]:
    """A distinctive slice of each data file that must never appear in a response."""
    return {
        "crm.sqlite": b"SQLite format 3",
        "warehouse.duckdb": root.joinpath("warehouse.duckdb").read_bytes()[8:12],  # DuckDB's magic, "DUCK"
        "world.json": b'"crm_company_ids"',
        "world-manifest.json": b'"counts"',
    }


ATTACKS = [
    b"/sites/../crm.sqlite",  # the probe
    b"/sites/../world.json",
    b"/sites/{domain}/../../crm.sqlite",
    b"/sites/%2e%2e/world.json",
    b"/sites/%2E%2E/warehouse.duckdb",
    b"/sites/.%2e/world-manifest.json",
    b"/sites/{domain}/%2e%2e/%2e%2e/world.json",
    b"/sites/..%2fworld.json",
    b"/sites/{domain}/..%2F..%2Fcrm.sqlite",
    b"/sites/%2e%2e%2fcrm.sqlite",
    b"/sites/{domain}/..%5c..%5cworld.json",
    b"/sites/{domain}/..\\..\\world.json",
    b"/sites/..\\crm.sqlite",
    b"/sites//crm.sqlite",
    b"//sites/{domain}/",
    b"/sites/{domain}//etc/passwd",
    b"/sites/{domain}/%2fetc%2fpasswd",
    b"/sites/{domain}/index.html%00.png",
    b"/sites/{domain}/%00",
    b"/sites/./world.json",
    b"/d/../crm.sqlite",
    b"/d/%2e%2e/world.json",
    b"/p/../../crm.sqlite",
    b"/p/x/%2e%2e/%2e%2e/aliases.json",
    b"/../crm.sqlite",
    b"/%2e%2e/sandbox/world.json",
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.decode() for a in ATTACKS])
async def test_the_host_refuses_paths_that_climb_out_of_what_it_serves(sandbox: Sandbox, attack: bytes) -> None:
    domain = sandbox.world.companies[0].domain.encode()
    status, body = await raw_get(sandbox.host_url, attack.replace(b"{domain}", domain))
    assert status in (400, 404), (status, body[:200])
    for name, signature in data_signatures(sandbox.paths.root).items():
        assert signature not in body, name
    assert b"root:x:0:0" not in body


async def test_dot_segments_and_encoded_separators_are_a_bad_request(sandbox: Sandbox) -> None:
    status, body = await raw_get(sandbox.host_url, b"/sites/%2e%2e/world.json")
    assert status == 400
    assert b"'.' or '..' segment" in body
    status, body = await raw_get(sandbox.host_url, b"/sites/..%2fworld.json")
    assert status == 400
    assert b"encoded '/'" in body


async def test_links_out_of_a_site_serve_nothing(sandbox: Sandbox) -> None:
    domain = sandbox.world.companies[1].domain
    site = sandbox.paths.sites / domain
    leaks = [site / "leak.json", site / "leakdir", sandbox.paths.sites / "leak.example"]
    leaks[0].symlink_to(sandbox.paths.world)
    leaks[1].symlink_to(sandbox.paths.root, target_is_directory=True)
    leaks[2].symlink_to(sandbox.paths.root, target_is_directory=True)  # a whole "site" that is the data folder
    try:
        for target in (f"/sites/{domain}/leak.json", f"/sites/{domain}/leakdir/world.json", "/sites/leak.example/"):
            status, body = await raw_get(sandbox.host_url, target.encode())
            assert status == 404, target
            assert b'"crm_company_ids"' not in body
    finally:
        for leak in leaks:
            leak.unlink()


async def test_plain_requests_still_get_pages(sandbox: Sandbox) -> None:
    domain = sandbox.world.companies[0].domain
    status, body = await raw_get(sandbox.host_url, f"/sites/{domain}/pricing/".encode())
    assert status == 200
    assert b"Pricing" in body
    status, _ = await raw_get(sandbox.host_url, f"/sites/{domain}/pricing".encode())
    assert status == 308
    status, body = await raw_get(sandbox.host_url, f"/sites/{domain}/contact/?plan=team%2fpro".encode())
    assert status == 200  # an encoded '/' in the query string is data, not a path
    status, body = await raw_get(sandbox.host_url, b"/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "sandbox": sandbox_id(sandbox.paths)}  # which data folder, hashed


async def test_sandbox_up_refuses_a_port_held_by_the_host_of_another_data_folder(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    port = str(httpx.URL(sandbox.host_url).port)
    environ = {**os.environ, "ORCHESTRA_DATA_DIR": str(tmp_path), "ORCHESTRA_SANDBOX__PORT": port}
    up = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestra", "sandbox", "up", env=environ, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(up.communicate(), 300)
    assert up.returncode == 1
    said = " ".join((out + err).decode().split())
    assert f"port {port} is held by the sandbox host of another data folder" in said
    assert not SandboxPaths.under(tmp_path).host_state.exists()  # nothing recorded as its host
