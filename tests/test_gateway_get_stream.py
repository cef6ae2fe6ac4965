"""A legacy session's GET stream through the gateway (issue 10, item 3): an upstream's log messages outside any
call reach the sessions that asked for their level, and a stream that broke is resumed with `Last-Event-ID`,
missing nothing that came while it was down. Raw HTTP against a real gateway with the features server over stdio
and over HTTP (where those messages arrive on the upstream's own GET stream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import ACCEPT, raw_session, running_gateway, tool_call
from tests.test_gateway_features import features_http_server, features_pool

pytestmark = pytest.mark.integration


@asynccontextmanager
async def gateway_with_features(transport: str) -> AsyncIterator[str]:
    if transport == "stdio":
        async with running_gateway({"fs": features_pool()}) as (base, _):
            yield base
        return
    with features_http_server() as url:
        async with running_gateway({"fs": {"tier": "ai", "url": url, "timeout": "20s"}}) as (base, _):
            yield base


class GetStream:
    """A session's GET stream read in the background: (event id, message) as they come."""

    def __init__(self, http: httpx.AsyncClient, path: str, session: str, last_event_id: str | None = None) -> None:
        headers = {"accept": "text/event-stream", "mcp-session-id": session}
        if last_event_id:
            headers["last-event-id"] = last_event_id
        self.events: list[tuple[str | None, dict[str, Any]]] = []
        self._task = asyncio.create_task(self._read(http, path, headers))

    async def _read(self, http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
        async with http.stream("GET", path, headers=headers) as response:
            assert response.status_code == 200
            event_id = None
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    self.events.append((event_id, json.loads(line[5:])))
                    event_id = None

    async def wait_for(self, count: int) -> list[tuple[str | None, dict[str, Any]]]:
        for _ in range(200):
            if len(self.events) >= count:
                return self.events
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.events)} events came, {count} expected: {self.events}")

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def post(http: httpx.AsyncClient, path: str, session: str, body: dict[str, Any]) -> Any:
    reply = await http.post(path, json=body, headers={**ACCEPT, "mcp-session-id": session})
    assert reply.status_code in (200, 202), reply.text
    return reply


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_log_messages_outside_calls_reach_the_sessions_that_asked_for_their_level(transport: str) -> None:
    async with gateway_with_features(transport) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        path = "/tiers/ai/mcp"
        wants_info, wants_errors = await raw_session(http, path), await raw_session(http, path)
        for session, level in ((wants_info, "info"), (wants_errors, "error")):
            await post(http, path, session, {"jsonrpc": "2.0", "id": 9, "method": "logging/setLevel",
                                             "params": {"level": level}})  # fmt: skip
        info_stream, error_stream = GetStream(http, path, wants_info), GetStream(http, path, wants_errors)
        try:
            await asyncio.sleep(0.3)  # both streams are open
            await post(http, path, wants_info, tool_call("fs__log_later", {"text": "warming up", "level": "warning"}))
            [(event_id, message)] = await info_stream.wait_for(1)
            await asyncio.sleep(0.5)  # had the error-level session been sent a warning, it would be here by now
        finally:
            await info_stream.close()
            await error_stream.close()
    assert message == {"jsonrpc": "2.0", "method": "notifications/message",
                       "params": {"level": "warning", "logger": "fs/later", "data": "warming up"}}  # fmt: skip
    assert event_id is not None
    assert error_stream.events == []


async def test_a_broken_get_stream_resumes_after_its_last_event_id_missing_nothing() -> None:
    async with gateway_with_features("http") as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        path = "/pools/fs/mcp"
        session = await raw_session(http, path)
        await post(http, path, session, {"jsonrpc": "2.0", "id": 9, "method": "logging/setLevel",
                                         "params": {"level": "debug"}})  # fmt: skip
        first = GetStream(http, path, session)
        await asyncio.sleep(0.3)
        await post(http, path, session, tool_call("log_later", {"text": "one", "level": "info"}))
        [(seen, _)] = await first.wait_for(1)
        await first.close()  # the stream breaks; the session lives on

        await post(http, path, session, tool_call("log_later", {"text": "two", "level": "info"}, request_id=3))
        await post(http, path, session, tool_call("add_tool", {"name": "late"}, request_id=4))
        await asyncio.sleep(0.6)  # both happened while no stream was open

        resumed = GetStream(http, path, session, last_event_id=seen)
        try:
            events = await resumed.wait_for(2)
        finally:
            await resumed.close()
    replayed = [message.get("params", {}).get("data") or message["method"] for _, message in events]
    assert sorted(replayed) == ["notifications/tools/list_changed", "two"]  # "one" is not sent again
    assert all(event_id and int(event_id) > int(seen) for event_id, _ in events)


async def test_a_dropped_call_stream_is_picked_up_with_last_event_id_and_the_call_goes_on() -> None:
    async with gateway_with_features("stdio") as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        path = "/pools/fs/mcp"
        session = await raw_session(http, path, protocol="2025-11-25")
        call = tool_call("slow", {"tag": "dropped", "seconds": 1.0})
        call["params"]["_meta"] = {"progressToken": "p1"}  # a streamed reply
        headers = {**ACCEPT, "mcp-session-id": session}
        async with http.stream("POST", path, json=call, headers=headers) as response:
            lines = []
            async for line in response.aiter_lines():
                lines.append(line)
                if not line:  # the priming event is complete: drop the connection here
                    break
        primed = dict(line.split(": ", 1) for line in lines if ": " in line)
        assert primed["retry"] == "1000"
        assert primed["id"].endswith(":0")

        resumed = await http.get(path, headers={"accept": "text/event-stream", "mcp-session-id": session,
                                                "last-event-id": primed["id"]})  # fmt: skip
        data = [json.loads(line[5:]) for line in resumed.text.splitlines() if line.startswith("data:") and line[5:]]
        assert data[-1]["id"] == 2
        assert data[-1]["result"]["content"][0]["text"] == "slept dropped"  # it ran to its end, not cancelled

        gone = await http.get(path, headers={"accept": "text/event-stream", "mcp-session-id": session,
                                             "last-event-id": primed["id"].replace(":0", "x:0")})  # fmt: skip
        assert gone.status_code == 404
        assert "stream is gone" in gone.json()["error"]["message"]


async def test_a_session_older_than_2025_11_25_gets_no_priming_event_but_ids_it_can_resume_from() -> None:
    async with gateway_with_features("stdio") as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        path = "/pools/fs/mcp"
        session = await raw_session(http, path)  # 2025-06-18: an empty data line would not parse as JSON there
        call = tool_call("slow", {"tag": "old", "seconds": 0.1})
        call["params"]["_meta"] = {"progressToken": "p1"}
        reply = await http.post(path, json=call, headers={**ACCEPT, "mcp-session-id": session})
        events = [event for event in reply.text.split("\n\n") if event.strip()]
        assert "retry:" not in reply.text
        assert all(event.startswith("id: c") and "\ndata: {" in event for event in events)
        assert json.loads(events[-1].split("data: ", 1)[1])["result"]["content"][0]["text"] == "slept old"

        last_id = events[-1].split("\n")[0][4:]
        headers = {"accept": "text/event-stream", "mcp-session-id": session}
        again = await http.get(path, headers={**headers, "last-event-id": last_id})  # the reply may have been lost
        assert again.status_code == 200
        assert "data:" not in again.text  # but nothing came after it
        stream_id, number = last_id.rsplit(":", 1)
        past_the_end = await http.get(path, headers={**headers, "last-event-id": f"{stream_id}:{int(number) + 1}"})
        assert past_the_end.status_code == 404
        assert "names no message" in past_the_end.json()["error"]["message"]
