"""10,000 seeded, bounded requests of every malformed shape: no 5xx, every reply JSON, and the gateway still serves."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ACCEPT, executions, probe_pool, raw_session, running_gateway, tool_call

REQUESTS = 10_000
SEED = 20261130
PATHS = ["/pools/probe/mcp", "/tiers/ai/mcp", "/mcp", "/pools/nope/mcp", "/tiers/web/mcp"]
METHODS = ["tools/call"] * 6 + ["initialize", "ping", "tools/list", "logging/setLevel", "resources/list", "x" * 300]
TOOLS = [
    "lookup",
    "probe__lookup",
    "lookup",
    "probe__lookup",
    "fail",
    "probe__fail",
    "set_value",
    "nope",
    "",
    "\ud800",
    "a" * 500,
]


def junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 2**70, 1.5, float("1e308")])
    if kind == 2:
        return "".join(rng.choice('aZ0 "\\/\n\u00e9\u4e2d\U0001f600\ud800') for _ in range(rng.randrange(40)))
    if kind == 3:
        return rng.choice(["", "x" * 60_000, "\x00", "../../etc/passwd", "view-source:file:///etc/passwd"])
    if kind == 4:
        return rng.randrange(-5, 5)
    if kind in (5, 6):
        return {junk(rng, 9) if rng.random() < 0.1 else f"k{i}": junk(rng, depth + 1) for i in range(rng.randrange(4))}
    if kind == 7:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"_meta": {"progressToken": junk(rng, 9)}, "name": rng.choice(TOOLS), "arguments": junk(rng, depth + 1)}


def message(rng: random.Random, sessions: dict[str, str]) -> tuple[str, str, dict[str, Any], bytes]:
    """(HTTP method, path, headers, body) of one fuzzed request; most are nearly right, so they reach deep."""
    path = rng.choice(PATHS)
    headers: dict[str, Any] = dict(ACCEPT) if rng.random() < 0.9 else {"accept": rng.choice(["text/html", "*/*", ""])}
    headers["content-type"] = "application/json"  # other types get 415 (test_gateway_headers.py)
    if rng.random() < 0.9:
        own = sessions.get(path)
        headers["mcp-session-id"] = (
            own if own and rng.random() < 0.8 else rng.choice([*sessions.values(), "nope", "x" * 500, b"\xe9\xff"])
        )
    if rng.random() < 0.05:
        headers["mcp-protocol-version"] = rng.choice(["2025-06-18", "1999-01-01", ""])
    body: dict[str, Any] = {"jsonrpc": "2.0" if rng.random() < 0.95 else rng.choice(["1.0", 2, None])}
    shape = rng.random()
    if shape < 0.8:
        body["id"] = rng.randrange(1000) if rng.random() < 0.8 else rng.choice(["a", None, 1.5, True, [], {}, 2**64])
    if shape < 0.9:
        body["method"] = rng.choice(METHODS)
        if body["method"] == "tools/call" and rng.random() < 0.7:
            body["params"] = {"name": rng.choice(TOOLS), "arguments": {**junk_object(rng), "key": fuzzed_key(rng)}}
        elif rng.random() < 0.8:
            body["params"] = junk(rng) if rng.random() < 0.5 else junk(rng, 5)
    else:
        body[rng.choice(["result", "error"])] = junk(rng)
    if rng.random() < 0.05:
        body.pop("id", None)
        body["method"] = "notifications/cancelled"
        body["params"] = {"requestId": junk(rng, 5)}
    encoded = json.dumps(body).encode()
    roll = rng.random()
    if roll < 0.03:
        encoded = encoded[: rng.randrange(len(encoded) + 1)]  # truncated
    elif roll < 0.05:
        encoded = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))  # binary noise
    elif roll < 0.06:
        encoded = b"[" * 5000 + b"]" * 5000  # deep nesting
    elif roll < 0.07:
        encoded = json.dumps([body, body]).encode()  # a batch
    method = "POST" if rng.random() < 0.97 else rng.choice(["DELETE", "GET", "PUT"])
    if method == "DELETE":  # ending the sessions under test would turn the rest of the run into 404s
        headers["mcp-session-id"] = rng.choice(["nope", "x" * 500, b"\xe9\xff"])
    return method, path, headers, encoded


def fuzzed_key(rng: random.Random) -> Any:
    return f"k{rng.randrange(10**6)}\u00e9\U0001f600" if rng.random() < 0.7 else junk(rng, 3)


def junk_object(rng: random.Random) -> dict[str, Any]:
    value = junk(rng, 3)
    return value if isinstance(value, dict) else {}


async def test_fuzzed_json_rpc_never_gets_a_5xx_or_a_non_json_reply(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    async with running_gateway({"probe": probe_pool(tmp_path / "exec.log")}) as (base, _):
        limits = httpx.Limits(max_connections=8)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            sessions = {path: await raw_session(http, path) for path in PATHS[:3]}
            requests = [message(rng, sessions) for _ in range(REQUESTS)]
            statuses: dict[int, int] = {}

            async def send(method: str, path: str, headers: dict[str, Any], body: bytes) -> None:
                if method == "GET":  # a session's GET stream stays open: check how it opens, then leave
                    async with http.stream("GET", path, headers=headers) as opened:
                        statuses[opened.status_code] = statuses.get(opened.status_code, 0) + 1
                        assert opened.status_code < 500, (path, headers)
                        if opened.status_code == 200:
                            assert opened.headers["content-type"].startswith("text/event-stream")
                        else:
                            json.loads(await opened.aread())
                    return
                reply = await http.request(method, path, headers=headers, content=body if method == "POST" else None)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
                assert reply.status_code < 500, (method, path, body[:300], reply.text[:300])
                if reply.status_code in (202, 405) or (method == "DELETE" and reply.status_code == 200):
                    return
                if reply.headers.get("content-type", "").startswith("text/event-stream"):
                    events = [line[5:] for line in reply.text.splitlines() if line.startswith("data:")]
                    assert events
                    for event in events:
                        if event.strip():  # an empty one is a call stream's priming event (SEP-1699)
                            json.loads(event)
                else:
                    assert reply.headers["content-type"].startswith("application/json"), (body[:300], reply.text[:300])
                    json.loads(reply.content)

            for start in range(0, REQUESTS, 8):
                await asyncio.gather(*(send(*request) for request in requests[start : start + 8]))
            assert statuses.get(200, 0) > 1000  # answered by the router, the pool or the upstream
            assert statuses.get(400, 0) > 1000  # refused as malformed
            # the upstream was really reached (about 90 calls: those with a wrong Accept end at 406)
            assert len(executions(tmp_path / "exec.log", "lookup")) > 60
            fresh = {**ACCEPT, "mcp-session-id": await raw_session(http, "/pools/probe/mcp")}
            healthy = await http.post("/pools/probe/mcp", json=tool_call("lookup", {"key": "after"}), headers=fresh)
            assert healthy.json()["result"]["content"][0]["text"].startswith("after@")
