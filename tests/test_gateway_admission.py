"""Who reaches the gateway: Host and Origin checks (DNS rebinding), sessions bound to their key, `/metrics` access."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from orchestra.gateway.app import Gateway, GatewayStartError
from orchestra.gateway.config import GatewayConfig
from tests.conftest import (
    ACCEPT,
    INITIALIZE,
    free_port,
    mcp_client,
    probe_pool,
    raw_session,
    running_gateway,
    text_of,
    tool_call,
)


async def test_foreign_origin_and_host_are_refused_before_anything_else(tmp_path: Path) -> None:
    settings = {"http": {"allowed_origins": ["http://127.0.0.1:8800"], "allowed_hosts": ["gateway.internal:8700"]}}
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, **settings) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
            for headers in (
                {"origin": "http://evil.example"},
                {"origin": "null"},
                {"origin": "http://127.0.0.1:8801"},
                {"host": "evil.example"},
                {"host": f"evil.example:{base.rsplit(':', 1)[1]}"},
                {"host": "gateway.internal:9999"},
                {"host": "evil.example", "origin": "http://evil.example"},  # a rebound page's own origin
                {"origin": "http://localhost:1"},  # loopback, but not this gateway's origin
            ):
                refused = await http.post("/pools/probe/mcp", json=INITIALIZE, headers=headers)
                assert refused.status_code == 403, headers
                assert "DNS-rebinding" in refused.json()["detail"]
                assert "mcp-session-id" not in refused.headers
                assert (await http.get("/admin/pools", headers=headers)).status_code == 403
            # The same checks stand before every other answer: metrics, redirects, unknown paths.
            evil = {"host": "evil.example"}
            assert (await http.get("/metrics", headers=evil)).status_code == 403
            slashed = await http.post("/pools/probe/mcp/", json=INITIALIZE, headers=evil)
            assert slashed.status_code == 404  # not a redirect to a location built from the foreign Host
            assert "location" not in slashed.headers
            unknown = await http.post("/pools/probe/mcp/", json=INITIALIZE)
            assert unknown.status_code == 404  # no redirect for a trailing slash
            assert unknown.json()["error"] == "not found"
            wrong_method = await http.post("/admin/pools")
            assert wrong_method.status_code == 405
            assert wrong_method.json()["error"] == "method not allowed"
            own = base.removeprefix("http://")
            for headers in (
                {},
                {"origin": "http://127.0.0.1:8800"},
                {"host": "localhost"},
                {"host": "gateway.internal:8700"},
                {"origin": base},  # the gateway's own origin (same-origin), as the SDK's protection allows
                {"host": f"localhost:{own.rsplit(':', 1)[1]}", "origin": f"http://localhost:{own.rsplit(':', 1)[1]}"},
                {"host": "gateway.internal:8700", "origin": "https://gateway.internal:8700"},
            ):
                accepted = await http.post("/pools/probe/mcp", json=INITIALIZE, headers=headers)
                assert accepted.status_code == 200, headers
                assert accepted.headers["mcp-session-id"]


async def test_a_wildcard_host_never_makes_a_foreign_origin_its_own(tmp_path: Path) -> None:
    settings = {"http": {"allowed_hosts": ["*"]}}
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, **settings) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=ACCEPT) as http:
            rebound = {"host": "evil.example", "origin": "http://evil.example"}
            assert (await http.post("/pools/probe/mcp", json=INITIALIZE, headers=rebound)).status_code == 403
            assert (await http.post("/pools/probe/mcp", json=INITIALIZE, headers={"origin": base})).status_code == 200


async def test_a_session_belongs_to_the_key_that_created_it(tmp_path: Path) -> None:
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-a,key-b"}
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, environ=environ) as (base, _):
        a = {**ACCEPT, "authorization": "Bearer key-a"}
        b = {**ACCEPT, "authorization": "Bearer key-b"}
        async with httpx.AsyncClient(base_url=base) as http:
            session = await raw_session(http, "/pools/probe/mcp", a)
            as_b = {**b, "mcp-session-id": session}
            stolen = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"key": "x"}), headers=as_b)
            assert stolen.status_code == 404
            assert (await http.delete("/pools/probe/mcp", headers=as_b)).status_code == 404
            still = await http.post(
                "/pools/probe/mcp", json=tool_call("lookup", {"key": "mine"}), headers={**a, "mcp-session-id": session}
            )
            assert still.status_code == 200
            assert still.json()["result"]["content"][0]["text"].startswith("mine@")
            no_key = await http.post("/pools/probe/mcp", json=INITIALIZE, headers=ACCEPT)
            assert no_key.status_code == 401


async def test_metrics_need_a_key_or_live_on_their_own_port(tmp_path: Path) -> None:
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-a"}
    pools = {"probe": probe_pool(tmp_path / "exec.log")}
    async with running_gateway(pools, environ=environ) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/metrics")).status_code == 401
            keyed = await http.get("/metrics", headers={"authorization": "Bearer key-a"})
            assert keyed.status_code == 200
            assert "mcp_server_health_status" in keyed.text
            assert (await http.get("/healthz")).status_code == 200  # probes need no key
    metrics_port = free_port()
    async with running_gateway(pools, environ=environ, metrics={"port": metrics_port}) as (base, _):
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/metrics", headers={"authorization": "Bearer key-a"})).status_code == 404
            separate = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert separate.status_code == 200
            assert 'pool="probe"' in separate.text
            assert (await http.get(f"http://127.0.0.1:{metrics_port}/admin/pools")).status_code == 404


async def test_the_sdk_client_works_with_a_key_and_an_allowed_origin(tmp_path: Path) -> None:
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-a"}
    settings = {"http": {"allowed_origins": ["http://127.0.0.1:8800"]}}
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}, environ=environ, **settings) as (base, _):
        headers = {"authorization": "Bearer key-a", "origin": "http://127.0.0.1:8800"}
        async with mcp_client(f"{base}/pools/probe/mcp", headers=headers) as client:
            assert text_of(await client.call_tool("lookup", {"key": "ok"})).startswith("ok@")


async def test_a_wildcard_bind_needs_allowed_hosts() -> None:
    gateway = Gateway(GatewayConfig(host="0.0.0.0"), environ={"ORCHESTRA_GATEWAY_KEYS": "k"})
    with pytest.raises(GatewayStartError, match="allowed_hosts"):
        await gateway.start()
