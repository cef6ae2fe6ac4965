"""MCP 2026-07-28 through the gateway (issue 10, items 10-12): one endpoint for clients of both eras, upstreams of
both eras behind it.

Real parts only: a real gateway; upstreams are the legacy FastMCP features server (mcp 1.x, stdio) and our
2026-07-28 conformance server (mcp 2.x, HTTP and stdio); clients are raw HTTP (for what the revision says about
headers and errors), the mcp 1.x SDK client (legacy) and the mcp 2.x SDK client (modern, run from .venv-mcp2).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import McpError

from tests.conformance.harness import MODERN_CONFORMANCE_SERVER, conformance_server
from tests.conftest import ROOT, mcp_client, running_gateway, text_of
from tests.test_gateway_features import features_http_server, features_pool
from tests.test_gateway_server_requests import Asked

pytestmark = pytest.mark.integration

MODERN = "2026-07-28"
MODERN_CLIENT = [str(ROOT / ".venv-mcp2" / "bin" / "python"), str(ROOT / "tests" / "upstreams" / "modern_client.py")]


def meta(**capabilities: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    }


async def modern_post(
    http: httpx.AsyncClient, url: str, method: str, params: dict[str, Any] | None = None, *,
    headers: dict[str, str] | None = None, request_id: int = 1, capabilities: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """One modern request with the headers the revision requires (overridable); (status, JSON-RPC reply)."""
    params = {**(params or {}), "_meta": meta(**(capabilities or {}))}
    sent = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN, "Mcp-Method": method}  # fmt: skip
    if "name" in params or "uri" in params:
        sent["Mcp-Name"] = params.get("name") or params["uri"]
    sent.update(headers or {})
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    response = await http.post(url, json=body, headers={k: v for k, v in sent.items() if v is not None})
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        lines = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return response.status_code, json.loads(lines[-1])
    return response.status_code, response.json()


async def run_modern_client(url: str, *calls: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *MODERN_CLIENT, url, *calls, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


# -- a modern client, a legacy upstream -------------------------------------------------------------------------
async def test_the_revision_s_checks_come_in_its_order_with_its_codes_and_statuses() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _), httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/pools/fs/mcp"
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}
        plain = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                 "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}  # fmt: skip
        no_meta = await http.post(url, json=body, headers=plain)
        assert no_meta.status_code == 400
        assert no_meta.json()["error"]["code"] == -32602
        assert no_meta.json()["id"] == 7

        status, reply = await modern_post(http, url, "tools/list", headers={"Mcp-Method": "prompts/list"})
        assert (status, reply["error"]["code"]) == (400, -32020), reply
        status, reply = await modern_post(http, url, "tools/list", headers={"Mcp-Method": None})
        assert (status, reply["error"]["code"]) == (400, -32020)
        status, reply = await modern_post(http, url, "tools/call", {"name": "shout", "arguments": {"text": "a"}},
                                          headers={"Mcp-Name": "whisper"})  # fmt: skip
        assert (status, reply["error"]["code"]) == (400, -32020)
        assert "Mcp-Name" in reply["error"]["message"]
        status, reply = await modern_post(http, url, "tools/call", {"name": "shout", "arguments": {"text": "a"}},
                                          headers={"Mcp-Name": "=?base64?c2hvdXQ=?="})  # "shout", encoded  # fmt: skip
        assert status == 200
        assert text_of(types.CallToolResult.model_validate(reply["result"])) == "A"

        bad_version = {**body, "params": {"_meta": {**meta(), "io.modelcontextprotocol/protocolVersion": "1999"}}}
        response = await http.post(url, json=bad_version, headers={**plain, "MCP-Protocol-Version": "1999"})
        error = response.json()["error"]
        assert response.status_code == 400
        assert error["code"] == -32022
        assert error["data"]["requested"] == "1999"
        assert MODERN in error["data"]["supported"]

        for removed in ("ping", "logging/setLevel", "resources/subscribe", "initialize", "no/such"):
            status, reply = await modern_post(http, url, removed)
            assert (status, reply["error"]["code"]) == (404, -32601), removed

        get = await http.get(url, headers={"Accept": "text/event-stream", "MCP-Protocol-Version": MODERN})
        assert get.status_code == 405
        assert "subscriptions/listen" in get.json()["error"]["message"]


async def test_results_say_their_type_who_answered_and_how_long_they_keep() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _), httpx.AsyncClient(timeout=30) as http:
        status, discover = await modern_post(http, f"{base}/mcp", "server/discover")
        result = discover["result"]
        assert status == 200
        assert result["resultType"] == "complete"
        assert result["supportedVersions"][0] == MODERN
        assert "2025-11-25" in result["supportedVersions"]
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "orchestra-gateway/all"
        assert "fs" in result["instructions"]
        for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            _, reply = await modern_post(http, f"{base}/mcp", method)
            assert (reply["result"]["ttlMs"], reply["result"]["cacheScope"]) == (0, "public"), method
        _, tools = await modern_post(http, f"{base}/mcp", "tools/list")
        assert "fs__shout" in [tool["name"] for tool in tools["result"]["tools"]]


async def test_results_behind_api_keys_are_private_to_their_caller() -> None:
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-one"}
    async with running_gateway({"fs": features_pool()}, environ) as (base, _), httpx.AsyncClient(timeout=30) as http:
        status, reply = await modern_post(
            http, f"{base}/mcp", "tools/list", headers={"Authorization": "Bearer key-one"}
        )
        assert status == 200
        assert reply["result"]["cacheScope"] == "private"
        status, _ = await modern_post(http, f"{base}/mcp", "tools/list")
        assert status == 401


async def test_a_legacy_upstream_s_questions_become_input_required_and_the_retry_answers_them() -> None:
    pools = {"fs": features_pool()}
    async with running_gateway(pools) as (base, _), running_gateway(pools) as (other, _):
        async with httpx.AsyncClient(timeout=30) as http:
            url, call = f"{base}/pools/fs/mcp", {"name": "ask_user", "arguments": {"question": "who?"}}
            form = {"elicitation": {"form": {}}}
            status, first = await modern_post(http, url, "tools/call", call, capabilities=form)
            held = first["result"]
            assert (status, held["resultType"]) == (200, "input_required"), first
            [(key, asked)] = held["inputRequests"].items()
            assert asked["method"] == "elicitation/create"
            assert asked["params"]["message"] == "who?"
            state = held["requestState"]

            # The state resumes only this call, on this process, unaltered.
            other_call = {**call, "arguments": {"question": "why?"}, "requestState": state}
            _, wrong = await modern_post(http, url, "tools/call", other_call, capabilities=form)
            assert wrong["error"]["code"] == -32602
            assert "not valid for this request" in wrong["error"]["message"]
            _, tampered = await modern_post(http, url, "tools/call", {**call, "requestState": state + "x"})
            assert tampered["error"]["code"] == -32602
            _, elsewhere = await modern_post(
                http, f"{other}/pools/fs/mcp", "tools/call", {**call, "requestState": state}
            )
            assert "another gateway process" in elsewhere["error"]["message"]

            # Unanswered, it is asked again; answered, the upstream call (still waiting) completes.
            _, again = await modern_post(http, url, "tools/call", {**call, "requestState": state, "inputResponses": {}})
            assert again["result"]["resultType"] == "input_required"
            assert key in again["result"]["inputRequests"]
            answer = {key: {"action": "accept", "content": {"name": "Grace"}}}
            retry = {**call, "requestState": again["result"]["requestState"], "inputResponses": answer}
            _, done = await modern_post(http, url, "tools/call", retry, capabilities=form, request_id=2)
            assert done["result"]["resultType"] == "complete"
            assert done["result"]["content"][0]["text"] == "user: accept {'name': 'Grace'}"

            # A client that declared no elicitation is never asked: the upstream hears why, the tool fails.
            _, refused = await modern_post(http, url, "tools/call", call)
            assert refused["result"]["isError"]
            assert "did not declare elicitation" in text_of(types.CallToolResult.model_validate(refused["result"]))


async def test_the_mcp_2_client_reaches_a_legacy_stdio_server_s_sampling_elicitation_and_roots() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _):
        report = await run_modern_client(
            f"{base}/tiers/ai/mcp", 'fs__ask_user:{"question":"who?"}', 'fs__ask_llm:{"prompt":"hi"}', "fs__my_roots"
        )
    assert report["protocol_version"] == MODERN
    assert report["calls"]["fs__ask_user"]["text"] == "user: accept {'name': 'Grace'}"
    assert report["calls"]["fs__ask_llm"]["text"] == "llm: modern says hi"
    assert report["calls"]["fs__my_roots"]["text"] == "roots: file:///home/grace"
    assert report["asked"] == ["elicitation:who?", "sampling", "roots"]


async def test_subscriptions_listen_carries_only_what_was_asked_tagged_with_its_id() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _), httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/pools/fs/mcp"
        streams: dict[str, list[dict[str, Any]]] = {"tools": [], "prompts": []}

        async def listen(kind: str, request_id: int) -> None:
            params = {"_meta": meta(), "notifications": {f"{kind}ListChanged": True}}
            body = {"jsonrpc": "2.0", "id": request_id, "method": "subscriptions/listen", "params": params}
            headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN,
                       "Mcp-Method": "subscriptions/listen"}  # fmt: skip
            async with http.stream("POST", url, json=body, headers=headers) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        streams[kind].append(json.loads(line[5:]))

        listeners = [asyncio.create_task(listen("tools", 41)), asyncio.create_task(listen("prompts", 42))]
        try:
            for _ in range(100):
                if all(streams.values()):
                    break
                await asyncio.sleep(0.05)
            _, added = await modern_post(http, url, "tools/call", {"name": "add_tool", "arguments": {"name": "new"}})
            assert not added["result"].get("isError"), added
            for _ in range(100):
                if len(streams["tools"]) > 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
        ack, changed = streams["tools"][0], streams["tools"][1]
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["notifications"] == {"toolsListChanged": True}
        assert changed["method"] == "notifications/tools/list_changed"
        assert ack["params"]["_meta"] == changed["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": 41}
        assert [m["method"] for m in streams["prompts"]] == ["notifications/subscriptions/acknowledged"]
        _, tools = await modern_post(http, url, "tools/list")
        assert "new" in [tool["name"] for tool in tools["result"]["tools"]]  # the catalogue refreshed too


async def test_a_dedicated_pool_serves_a_modern_request_with_an_upstream_session_of_its_own_then_lets_it_go() -> None:
    pools = {"fs": features_pool(session="dedicated")}
    async with running_gateway(pools) as (base, app), httpx.AsyncClient(timeout=30) as http:
        for request_id in (1, 2):
            call = {"name": "shout", "arguments": {"text": "hey"}}
            _, reply = await modern_post(http, f"{base}/pools/fs/mcp", "tools/call", call, request_id=request_id)
            assert reply["result"]["content"][0]["text"] == "HEY"
        assert app.state.gateway.router.bound_sessions == 0


async def test_a_modern_upstream_s_caching_hints_are_kept_and_a_private_answer_stays_private() -> None:
    with conformance_server(modern=True) as url:
        async with running_gateway({"m": {"url": url, "tier": "ai"}}) as (base, app):
            async with httpx.AsyncClient(timeout=30) as http:
                _, tools = await modern_post(http, f"{base}/pools/m/mcp", "tools/list")
                _, merged = await modern_post(http, f"{base}/mcp", "tools/list")
                uri = "test://static-text"
                _, read = await modern_post(http, f"{base}/pools/m/mcp", "resources/read", {"uri": uri})
            pool = app.state.gateway.pools["m"]
    assert (tools["result"]["ttlMs"], tools["result"]["cacheScope"]) == (60_000, "public")
    assert (merged["result"]["ttlMs"], merged["result"]["cacheScope"]) == (60_000, "public")
    assert (read["result"]["ttlMs"], read["result"]["cacheScope"]) == (5_000, "private")
    assert pool.listing_ttl_ms == 60_000  # the catalogue is relisted when that runs out
    assert pool.listing_expires is not None


# -- legacy clients, a modern upstream --------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_legacy_client_is_asked_what_a_modern_upstream_needs_round_after_round(transport: str) -> None:
    with conformance_server(modern=True) as url:
        pool = {"url": url} if transport == "http" else {"command": MODERN_CONFORMANCE_SERVER, "startup_timeout": "20s"}
        async with running_gateway({"m": {**pool, "tier": "ai"}}) as (base, app):
            assert app.state.gateway.pools["m"].init_result.protocolVersion == MODERN  # the era was probed
            me = Asked("ada")
            async with mcp_client(f"{base}/pools/m/mcp", **me.options()) as session:
                one = await session.call_tool("test_input_required_result_elicitation", {})
                rounds = await session.call_tool("test_input_required_result_multi_round", {})
                several = await session.call_tool("test_input_required_result_multiple_inputs", {})
                state = await session.call_tool("test_input_required_result_request_state", {})
                declared = await session.call_tool("test_missing_capability", {})
            async with mcp_client(f"{base}/pools/m/mcp") as bare:
                with pytest.raises(McpError) as undeclared:
                    await bare.call_tool("test_missing_capability", {})
    assert text_of(one) == "Hello, ada!"
    assert not rounds.isError
    assert not several.isError
    assert "ada says hi" in text_of(several)
    assert text_of(state).startswith("state-ok")
    assert me.asked[:3] == ["form:What is your name?", "form:Step 1: What is your name?",
                            "form:Step 2: What is your favorite color?"]  # fmt: skip
    assert {"sampling:Generate a greeting", "roots"} <= set(me.asked)
    # The upstream is told each caller's own capabilities: what one client declared is not lent to another.
    assert text_of(declared) == "The client declared sampling."
    assert undeclared.value.error.code == -32021  # the upstream's own refusal, passed through
    assert undeclared.value.error.data == {"requiredCapabilities": {"sampling": {}}}


def test_the_modern_client_runs_from_its_own_environment() -> None:
    # The agents' environment keeps mcp 1.x (langchain-mcp-adapters needs it); the modern client and server run
    # from .venv-mcp2, and the gateway needs neither.
    assert sys.modules["mcp"].__file__
    assert ".venv-mcp2" not in sys.modules["mcp"].__file__
    assert (ROOT / ".venv-mcp2" / "bin" / "python").exists()


# -- what a review found: each of these failed once ------------------------------------------------------------
async def test_duplicate_mirrored_headers_and_modern_batches_are_refused_clearly() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _), httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/pools/fs/mcp"
        call = {"name": "shout", "arguments": {"text": "a"}, "_meta": meta()}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}
        sent = [("accept", "application/json, text/event-stream"), ("content-type", "application/json"),
                ("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "shout"),
                ("mcp-name", "pointers")]  # fmt: skip
        twice = await http.post(url, content=json.dumps(body), headers=sent)
        assert twice.status_code == 400
        assert twice.json()["error"]["code"] == -32020
        assert "mcp-name sent more than once" in twice.json()["error"]["message"]

        batch = await http.post(url, content=json.dumps([body]), headers=sent[:5])
        assert batch.status_code == 400
        assert "no JSON-RPC batches" in batch.json()["error"]["message"]
        with_session = await http.post(url, content=json.dumps(body), headers=[*sent[:5], ("mcp-session-id", "x")])
        assert with_session.json()["result"]["content"][0]["text"] == "A"  # a session header is ignored

        _, missing = await modern_post(http, url, "resources/read", {"uri": "note://nope"})
        assert missing["error"]["code"] == -32602
        assert missing["error"]["data"] == {"uri": "note://nope"}


async def test_closing_the_connection_cancels_a_call_answered_as_json() -> None:
    async with running_gateway({"fs": features_pool()}) as (base, _), httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/pools/fs/mcp"
        slow = {"name": "slow", "arguments": {"tag": "gone", "seconds": 20}}
        with pytest.raises(httpx.ReadTimeout):
            await modern_post(httpx.AsyncClient(timeout=1.0), url, "tools/call", slow)
        for _ in range(50):
            _, cancelled = await modern_post(http, url, "tools/call", {"name": "cancelled_calls", "arguments": {}})
            if cancelled["result"]["content"][0]["text"] == "gone":
                break
            await asyncio.sleep(0.1)
        assert cancelled["result"]["content"][0]["text"] == "gone"


async def test_held_calls_are_capped_per_key_and_let_go_when_their_upstream_call_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("orchestra.gateway.mrtr.MAX_HELD_PER_KEY", 1)
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-one,key-two"}
    # Over HTTP: on a stdio replica, a question asked while another client's call waits cannot be attributed.
    with features_http_server() as upstream:
        pools = {"fh": {"url": upstream, "tier": "ai", "timeout": "2s"}}
        async with running_gateway(pools, environ) as (base, app), httpx.AsyncClient(timeout=30) as http:
            await held_calls_capped(http, f"{base}/pools/fh/mcp", app)


async def held_calls_capped(http: httpx.AsyncClient, url: str, app: Any) -> None:
    """Key one may hold one call; key two is not starved by it; a hold ends with its upstream call."""
    form = {"elicitation": {}}
    one, two = {"Authorization": "Bearer key-one"}, {"Authorization": "Bearer key-two"}

    def ask(question: str) -> dict[str, Any]:
        return {"name": "ask_user", "arguments": {"question": question}}

    _, held = await modern_post(http, url, "tools/call", ask("first?"), headers=one, capabilities=form)
    assert held["result"]["resultType"] == "input_required"
    _, refused = await modern_post(http, url, "tools/call", ask("second?"), headers=one, capabilities=form)
    assert refused["result"]["isError"]
    assert "calls of this API key" in refused["result"]["content"][0]["text"]
    _, other = await modern_post(http, url, "tools/call", ask("other?"), headers=two, capabilities=form)
    assert other["result"]["resultType"] == "input_required"  # another key is not starved

    for _ in range(60):  # the upstream call times out (the pool's 2 s): its hold goes with it
        if len(app.state.gateway.endpoint.stateless.held) == 0:
            break
        await asyncio.sleep(0.1)
    assert len(app.state.gateway.endpoint.stateless.held) == 0
    _, again = await modern_post(http, url, "tools/call", ask("third?"), headers=one, capabilities=form)
    assert again["result"]["resultType"] == "input_required"


async def test_a_listen_stream_with_resource_subscriptions_stays_open_and_carries_the_updates() -> None:
    # A dedicated pool with a short idle timeout makes the gateway sweep sessions every 0.2 s.
    pools = {"fs": features_pool(), "fd": features_pool("bi", session="dedicated", dedicated={"idle_timeout": "0.4s"})}
    async with running_gateway(pools) as (base, _), httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/pools/fs/mcp"
        frames: list[dict[str, Any]] = []

        async def listen() -> None:
            params = {"_meta": meta(), "notifications": {"resourceSubscriptions": ["note://notes/1"]}}
            body = {"jsonrpc": "2.0", "id": "L", "method": "subscriptions/listen", "params": params}
            headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN,
                       "Mcp-Method": "subscriptions/listen"}  # fmt: skip
            async with http.stream("POST", url, json=body, headers=headers) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        frames.append(json.loads(line[5:]))

        listener = asyncio.create_task(listen())
        try:
            await asyncio.sleep(1.5)  # several sweeps
            await modern_post(http, url, "tools/call", {"name": "touch", "arguments": {"uri": "note://notes/1"}})
            for _ in range(100):
                if len(frames) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
    assert frames[0]["params"]["notifications"] == {"resourceSubscriptions": ["note://notes/1"]}
    assert frames[1]["method"] == "notifications/resources/updated"
    assert frames[1]["params"]["uri"] == "note://notes/1"
    assert all("result" not in frame for frame in frames)  # the gateway never closed it


async def test_a_legacy_client_hears_why_a_modern_upstream_s_prompt_cannot_be_got_and_is_not_offered_subscribe() -> (
    None
):
    with conformance_server(modern=True) as url:
        async with running_gateway({"m": {"url": url, "tier": "ai"}}) as (base, _):
            async with mcp_client(f"{base}/pools/m/mcp", **Asked("ada").options()) as session:
                assert session.get_server_capabilities().resources.subscribe is False
                with pytest.raises(McpError) as refused:
                    await session.get_prompt("test_input_required_result_prompt", {})
    assert "needs input from the client (elicitation/create) to answer prompts/get" in refused.value.error.message
