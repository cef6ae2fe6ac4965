"""Requests an upstream server makes of the client during a call (sampling, form and URL elicitation, roots), and
cancellation, through the gateway: real SDK clients, a real gateway, the FastMCP server of
`tests/upstreams/features_server.py` over stdio and streamable HTTP, on pool, tier and `/mcp` endpoints.

A request goes to the client whose call made it, only when that client declared the capability; otherwise the
upstream hears an error at once (the tool fails saying why, no hang). On a shared replica, a request that cannot be
told apart from another client's call is refused, never sent to another client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import ClientSession, types
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from tests.conftest import mcp_client, running_gateway, text_of
from tests.test_gateway_features import Inbox, features_http_server, features_pool


class Asked:
    """Callbacks for a client that declares sampling, elicitation (form and URL) and roots, and what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asked: list[str] = []

    async def sampling(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.asked.append(f"sampling:{params.messages[0].content.text}")  # type: ignore[union-attr]
        text = types.TextContent(type="text", text=f"{self.name} says hi")
        return types.CreateMessageResult(role="assistant", content=text, model="scripted")

    async def elicitation(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        if isinstance(params, types.ElicitRequestURLParams):
            self.asked.append(f"url:{params.url}")
            return types.ElicitResult(action="accept")
        self.asked.append(f"form:{params.message}")
        return types.ElicitResult(action="accept", content={"name": self.name})

    async def roots(self, context: Any) -> types.ListRootsResult:
        self.asked.append("roots")
        return types.ListRootsResult(roots=[types.Root(uri=AnyUrl(f"file:///home/{self.name}"))])

    def options(self) -> dict[str, Any]:
        return {
            "sampling_callback": self.sampling,
            "elicitation_callback": self.elicitation,
            "list_roots_callback": self.roots,
        }


@contextlib.asynccontextmanager
async def gateway_over_both() -> AsyncIterator[str]:
    """Pool `fs` (stdio, tier ai) and pool `fh` (HTTP, tier bi), one replica each."""
    with features_http_server() as url:
        pools = {"fs": features_pool("ai"), "fh": {"tier": "bi", "url": url, "timeout": "20s"}}
        async with running_gateway(pools) as (base, _):
            yield base


ENDPOINTS = [  # (path, how the pool's tools are named there)
    ("/pools/fs/mcp", ""),
    ("/pools/fh/mcp", ""),
    ("/tiers/ai/mcp", "fs__"),
    ("/tiers/bi/mcp", "fh__"),
    ("/mcp", "fs__"),
    ("/mcp", "fh__"),
]


async def test_sampling_elicitation_and_roots_reach_the_calling_client_and_its_answers_go_back() -> None:
    async with gateway_over_both() as base:
        for path, prefix in ENDPOINTS:
            me = Asked("ada")
            async with mcp_client(base + path, **me.options()) as client:
                where = f"{path} {prefix}"
                result = await client.call_tool(f"{prefix}ask_llm", {"prompt": "the answer?"})
                assert text_of(result) == "llm: ada says hi", where
                result = await client.call_tool(f"{prefix}ask_user", {"question": "your name?"})
                assert text_of(result) == "user: accept {'name': 'ada'}", where
                result = await client.call_tool(f"{prefix}ask_url", {"url": "https://example.com/login"})
                assert text_of(result) == "url: accept", where
                result = await client.call_tool(f"{prefix}my_roots", {})
                assert text_of(result) == "roots: file:///home/ada", where
            assert me.asked == ["sampling:the answer?", "form:your name?", "url:https://example.com/login", "roots"]


@pytest.mark.parametrize("path", ["/pools/fs/mcp", "/pools/fh/mcp", "/mcp"])
async def test_a_url_elicitation_s_completion_reaches_the_client_it_was_asked_of_only(path: str) -> None:
    async with gateway_over_both() as base:
        prefix = "" if path.startswith("/pools") else "fh__"
        me, other = Asked("ada"), Asked("bob")
        mine, theirs = Inbox(), Inbox()
        async with (
            mcp_client(base + path, message_handler=mine, **me.options()) as client,
            mcp_client(base + path, message_handler=theirs, **other.options()),
        ):
            await asyncio.sleep(0.2)  # both GET streams are open
            result = await client.call_tool(f"{prefix}ask_url", {"url": "https://example.com/login"})
            assert text_of(result) == "url: accept"
            done = await mine.wait_for(types.ElicitCompleteNotification, elicitationId="e-1")
            await asyncio.sleep(0.5)
        assert done.params.elicitationId == "e-1"
        assert theirs.of(types.ElicitCompleteNotification) == []


async def test_a_client_without_the_capability_gets_an_error_at_once_that_says_why() -> None:
    async with gateway_over_both() as base:
        for path in ("/pools/fs/mcp", "/pools/fh/mcp"):
            async with mcp_client(base + path) as plain:  # declares none of them
                for tool, arguments, missing in [
                    ("ask_llm", {"prompt": "?"}, "sampling"),
                    ("ask_user", {"question": "?"}, "elicitation (form mode)"),
                    ("my_roots", {}, "roots"),
                ]:
                    started = time.monotonic()
                    result = await plain.call_tool(tool, arguments)
                    assert time.monotonic() - started < 5, (path, tool)
                    assert result.isError, (path, tool)
                    assert f"the client did not declare {missing}" in text_of(result), (path, text_of(result))

            async def sampling_only(context: Any, params: Any) -> types.CreateMessageResult:
                text = types.TextContent(type="text", text="ok")
                return types.CreateMessageResult(role="assistant", content=text, model="m")

            # A client that samples but only knows form elicitation (the SDK declares no URL mode by default).
            async with mcp_client(base + path, sampling_callback=sampling_only) as sampler:
                assert text_of(await sampler.call_tool("ask_llm", {"prompt": "?"})) == "llm: ok"
                result = await sampler.call_tool("ask_url", {"url": "https://example.com/"})
                assert result.isError
                assert "did not declare elicitation" in text_of(result)


@pytest.mark.parametrize("upstream", ["stdio", "http"])
async def test_two_clients_on_a_shared_replica_never_receive_each_others_requests(upstream: str) -> None:
    async with gateway_over_both() as base:
        path = "/pools/fs/mcp" if upstream == "stdio" else "/pools/fh/mcp"
        ada, bob = Asked("ada"), Asked("bob")
        async with mcp_client(base + path, **ada.options()) as a, mcp_client(base + path, **bob.options()) as b:
            # Both at once on the one replica: each request reaches its own caller, or (stdio, where messages
            # carry no request id) is refused when two clients' calls are in flight there.
            results = await asyncio.gather(
                a.call_tool("ask_llm", {"prompt": "from ada"}), b.call_tool("ask_llm", {"prompt": "from bob"})
            )
            for result, who in zip(results, ("ada", "bob"), strict=True):
                assert result.isError or text_of(result) == f"llm: {who} says hi"
            assert set(ada.asked) <= {"sampling:from ada"}
            assert set(bob.asked) <= {"sampling:from bob"}

            # Ada's slow call is in flight on the replica; Bob's tools ask the client.
            slow = asyncio.create_task(a.call_tool("slow", {"tag": "ada", "seconds": 3}))
            await asyncio.sleep(0.5)
            sampled = await b.call_tool("ask_llm", {"prompt": "bob again"})
            roots = await b.call_tool("my_roots", {})
            if upstream == "http":  # the request came on Bob's call's own response stream
                assert text_of(sampled) == "llm: bob says hi"
            else:
                assert sampled.isError
                assert "cannot tell which client's call" in text_of(sampled)
            # roots/list names no related request (the SDK sends it on the GET stream over HTTP): refused, not guessed
            assert roots.isError
            assert "cannot tell which client's call" in text_of(roots)
            assert "roots" not in ada.asked
            assert "roots" not in bob.asked
            assert "sampling:bob again" not in ada.asked
            assert text_of(await slow) == "slept ada"


async def _cancel_next_call(client: ClientSession, tool: str, arguments: dict[str, Any]) -> None:
    request_id = client._request_id  # the id of the next request this client sends
    call = asyncio.create_task(client.call_tool(tool, arguments))
    await asyncio.sleep(1.0)
    cancelled = types.CancelledNotification(params=types.CancelledNotificationParams(requestId=request_id))
    await client.send_notification(types.ClientNotification(cancelled))
    with pytest.raises(McpError, match="request cancelled"):
        await call


@pytest.mark.parametrize("path", ["/pools/fs/mcp", "/pools/fh/mcp", "/tiers/bi/mcp", "/mcp"])
async def test_a_cancelled_call_is_cancelled_on_the_upstream_replica_that_runs_it(path: str) -> None:
    prefix = {"/tiers/bi/mcp": "fh__", "/mcp": "fs__"}.get(path, "")
    async with gateway_over_both() as base:
        async with mcp_client(base + path) as client:
            started = time.monotonic()
            await _cancel_next_call(client, f"{prefix}slow", {"tag": "one", "seconds": 30})
            assert time.monotonic() - started < 10  # the call ended at once, not after 30 s
            deadline = time.monotonic() + 5
            while True:  # the upstream's own handler saw the cancellation, under its own request id
                seen = text_of(await client.call_tool(f"{prefix}cancelled_calls", {}))
                if seen == "one" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert seen == "one"


async def test_a_dedicated_pool_asks_the_client_that_owns_the_upstream_session() -> None:
    pools = {"own": features_pool(session="dedicated", replicas={"min": 1, "max": 3})}
    async with running_gateway(pools) as (base, _):
        ada, bob = Asked("ada"), Asked("bob")
        url = f"{base}/pools/own/mcp"
        async with mcp_client(url, **ada.options()) as a, mcp_client(url, **bob.options()) as b:
            results = await asyncio.gather(a.call_tool("my_roots", {}), b.call_tool("my_roots", {}))
            assert [text_of(r) for r in results] == ["roots: file:///home/ada", "roots: file:///home/bob"]
            assert text_of(await b.call_tool("ask_llm", {"prompt": "p"})) == "llm: bob says hi"
        assert ada.asked == ["roots"]
        assert bob.asked == ["roots", "sampling:p"]
