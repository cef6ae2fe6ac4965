"""Per-session upstream state on a shared pool: a pool's `stateful` tools give their caller an upstream session of
its own, so one client's server-side toggle never reaches another client (issue 10, item 7)."""

from __future__ import annotations

import contextlib

import pytest
from pydantic import ValidationError

from orchestra.gateway.config import PoolConfig
from tests.conftest import EVERYTHING_SERVER, mcp_client, running_gateway, text_of
from tests.test_gateway_protocol import everything_http_servers

TOGGLE = "toggle-simulated-logging"


@pytest.mark.parametrize("stateful", [[TOGGLE], []])
async def test_a_stateful_tool_binds_its_caller_to_an_upstream_session_of_its_own(stateful: list[str]) -> None:
    with everything_http_servers(1) as urls:
        pools = {"everything": {"tier": "ai", "urls": urls, "session": "shared", "stateful": stateful}}
        async with running_gateway(pools) as (base, app), contextlib.AsyncExitStack() as stack:
            url = f"{base}/pools/everything/mcp"
            first, second, third = [await stack.enter_async_context(mcp_client(url)) for _ in range(3)]
            assert text_of(await first.call_tool(TOGGLE, {})).startswith("Started")
            toggled_by_second = text_of(await second.call_tool(TOGGLE, {}))
            router = app.state.gateway.router
            if not stateful:  # the reported bug: the second client turned off the first client's logging
                assert toggled_by_second.startswith("Stopped")
                assert not router.bound_sessions
                return
            assert toggled_by_second.startswith("Started")  # its own upstream session: the first is untouched
            assert text_of(await first.call_tool(TOGGLE, {})).startswith("Stopped")  # the first's own, again
            assert text_of(await third.call_tool("echo", {"message": "hi"})) == "Echo: hi"
            assert router.bound_sessions == 2  # the third, which never called a stateful tool, stays shared
            bound = [b for bindings in router._bindings.values() for b in bindings.values()]
            shared = app.state.gateway.pools["everything"].replicas[0].channel
            assert len({id(b.channel) for b in bound}) == 2
            assert all(b.channel is not shared for b in bound)
            # The first client's later calls stay in its own session: toggling there starts its logging again.
            assert text_of(await first.call_tool("echo", {"message": "x"})) == "Echo: x"
            assert text_of(await first.call_tool(TOGGLE, {})).startswith("Started")


def test_stateful_is_refused_on_a_shared_stdio_pool() -> None:
    with pytest.raises(ValidationError, match="stateful` needs a URL upstream"):
        PoolConfig(tier="ai", command=EVERYTHING_SERVER, stateful=[TOGGLE])
    PoolConfig(tier="ai", command=EVERYTHING_SERVER, session="dedicated", stateful=[TOGGLE])
