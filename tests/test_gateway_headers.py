"""The streamable HTTP transport's headers, statuses and versions, over real HTTP against a real gateway: what the
MCP spec (2025-03-26, 2025-06-18, 2025-11-25) requires and the SDK's server answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ACCEPT, INITIALIZE, ROOT, probe_pool, raw_session, running_gateway, tool_call

PATH = "/pools/probe/mcp"
JSON = {"content-type": "application/json"}
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}


def transport_error(reply: httpx.Response, status: int) -> str:
    """The message of a transport-level refusal, checked to be a JSON-RPC error without an id (-32600)."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] is None
    assert body["error"]["code"] == -32600
    return body["error"]["message"]


async def session_at(http: httpx.AsyncClient, version: str) -> dict[str, str]:
    init = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": version}}
    reply = await http.post(PATH, json=init, headers=ACCEPT)
    assert reply.json()["result"]["protocolVersion"] == version
    headers = {**ACCEPT, "mcp-session-id": reply.headers["mcp-session-id"]}
    if version != "2025-03-26":  # the header came with 2025-06-18
        headers["mcp-protocol-version"] = version
    return headers


async def test_accept_must_list_json_and_event_stream_and_the_body_must_be_json(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            session = {"mcp-session-id": await raw_session(http, PATH)}
            for accept in (None, "application/json", "text/event-stream", "*/*", "text/html"):
                headers = {**session, **({"accept": accept} if accept else {})}
                for body in (INITIALIZE, PING):  # before anything else, initialize included
                    message = transport_error(await http.post(PATH, json=body, headers=headers), 406)
                    assert "application/json, text/event-stream" in message
            both = "text/event-stream;q=0.9, Application/JSON"  # order, parameters and case do not matter
            assert (await http.post(PATH, json=PING, headers={**session, "accept": both})).json()["result"] == {}

            raw = b'{"jsonrpc": "2.0", "id": 8, "method": "ping"}'
            for content_type in (None, "text/plain", "application/x-www-form-urlencoded", "application/json-seq"):
                headers = {**session, **ACCEPT, **({"content-type": content_type} if content_type else {})}
                message = transport_error(await http.post(PATH, content=raw, headers=headers), 415)
                assert "Content-Type must be application/json" in message
            headers = {**session, **ACCEPT, "content-type": "application/json; charset=utf-8"}
            assert (await http.post(PATH, content=raw, headers=headers)).json() == {
                "jsonrpc": "2.0",
                "id": 8,
                "result": {},
            }


async def test_unknown_and_ended_sessions_get_404_with_invalid_request(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers={**ACCEPT, **JSON}, timeout=30) as http:
            unknown = await http.post(PATH, json=PING, headers={"mcp-session-id": "feedface"})
            assert "session not found" in transport_error(unknown, 404)
            session = {"mcp-session-id": await raw_session(http, PATH)}
            assert (await http.delete(PATH, headers=session)).status_code == 200
            for method in ("POST", "DELETE", "GET"):
                reply = await http.request(method, PATH, headers=session, json=PING if method == "POST" else None)
                assert "session not found" in transport_error(reply, 404), method
            # -32001 is the timeout of a call (docs/gateway.md), never a session's end
            missing = await http.post(PATH, json=PING)
            assert "Mcp-Session-Id header is required" in transport_error(missing, 400)


async def test_batches_are_served_on_2025_03_26_sessions_only(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    async with running_gateway({"probe": probe_pool(log)}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=JSON, timeout=30) as http:
            old = await session_at(http, "2025-03-26")
            batch: list[Any] = [
                tool_call("lookup", {"key": "a"}, request_id=1),
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
                {"jsonrpc": "2.0", "id": "two", "method": "tools/list"},
                {"jsonrpc": "2.0", "id": 3, "method": "no/such"},
                {"jsonrpc": "1.0", "id": 4, "method": "ping"},
                {**INITIALIZE, "id": 5},
                tool_call("lookup", {"key": "b"}, request_id=6),
            ]
            reply = await http.post(PATH, json=batch, headers=old)
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("application/json")
            replies = {item["id"]: item for item in reply.json()}
            assert sorted(replies, key=str) == [1, 3, 4, 5, 6, "two"]  # one per request, none for the notification
            assert replies[1]["result"]["content"][0]["text"].startswith("a@")
            assert replies[6]["result"]["content"][0]["text"].startswith("b@")
            assert "lookup" in {tool["name"] for tool in replies["two"]["result"]["tools"]}
            assert replies[3]["error"]["code"] == -32601
            assert replies[4]["error"]["code"] == -32600
            assert "initialize cannot be part of a batch" in replies[5]["error"]["message"]
            notifications = [{"jsonrpc": "2.0", "method": "notifications/initialized"}] * 2
            assert (await http.post(PATH, json=notifications, headers=old)).status_code == 202
            assert "empty JSON-RPC batch" in (await http.post(PATH, json=[], headers=old)).json()["error"]["message"]

            for version in ("2025-06-18", "2025-11-25"):  # batching was removed in 2025-06-18
                new = await session_at(http, version)
                refused = await http.post(PATH, json=[PING, PING], headers=new)
                message = transport_error(refused, 400)
                assert f"part of MCP 2025-03-26 only; this session negotiated {version}" in message
    assert len([line for line in log.read_text().splitlines() if line.startswith("lookup")]) == 2


async def test_errors_on_the_all_endpoint_name_its_real_path(tmp_path: Path) -> None:
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers={**ACCEPT, **JSON}, timeout=30) as http:
            session = {"mcp-session-id": await raw_session(http, "/mcp")}
            reply = (await http.post("/mcp", json=tool_call("nope", {}), headers=session)).json()
            assert "unknown tool 'nope' at /mcp;" in reply["error"]["message"]
            assert "/all/" not in reply["error"]["message"]
            unknown = await http.post("/tiers/nope/mcp", json=PING)
            assert "no such endpoint /tiers/nope/mcp" in transport_error(unknown, 404)


def test_config_check_shows_the_pool_name_rule_as_it_is(tmp_path: Path) -> None:
    config = tmp_path / "orchestra.yaml"
    config.write_text("gateway:\n  pools:\n    Bad_Name:\n      tier: ai\n      command: [echo]\n")
    result = subprocess.run(
        [sys.executable, "-m", "orchestra", "config", "check", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 2
    assert "gateway.pools.Bad_Name: the name 'Bad_Name' is not allowed" in result.stderr
    assert "'^[a-z][a-z0-9-]{0,23}$'" in result.stderr
