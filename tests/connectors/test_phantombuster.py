"""The PhantomBuster adapter against recorded API v2 responses (respx), through FastMCP's in-memory client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult

from orchestra.connectors import phantombuster
from tests.connectors import support

BASE = "https://api.phantombuster.com/api/v2"
KEY = "pb-test-key-0c41d7aa"
AGENT = "7731190044821576"
CONTAINER = "5587346712239001"
RECORDINGS = Path(__file__).parent / "recordings" / "phantombuster"


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text())


def reply(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=recording(name))


async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
    return await support.call_tool(phantombuster.build_server, tool, arguments)


def error_text(result: CallToolResult) -> str:
    return support.error_text(result, KEY)


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOMBUSTER_API_KEY", KEY)
    monkeypatch.setenv("PHANTOMBUSTER_COMPANY_AGENT_ID", "4417203319482201")
    monkeypatch.setenv("PHANTOMBUSTER_POSTS_AGENT_ID", AGENT)
    monkeypatch.delenv("PHANTOMBUSTER_INPUT_ARGUMENT", raising=False)
    monkeypatch.setattr(phantombuster, "POLL_INTERVAL_S", 0.0)


@pytest.fixture
def api() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_list_agents(api: respx.MockRouter) -> None:
    route = api.get(f"{BASE}/agents/fetch-all").mock(return_value=reply("agents_fetch_all.json"))

    listed = (await call("list_agents", {})).structuredContent

    assert route.calls.last.request.headers["X-Phantombuster-Key"] == KEY
    assert listed["agents"][1] == {
        "id": AGENT,
        "name": "Company posts - weekly",
        "script": "LinkedIn Activity Extractor.js",
        "launch_type": "repeatedly",
        "last_end_status": "success",
        "updated_at": "2025-05-03T08:00:00+00:00",
    }
    assert listed["source"] == "phantombuster"


async def test_launch_agent_posts_id_and_argument(api: respx.MockRouter) -> None:
    route = api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))

    launched = (
        await call("launch_agent", {"agent_id": AGENT, "argument": {"spreadsheetUrl": "https://docs.example/s"}})
    ).structuredContent

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["X-Phantombuster-Key"] == KEY
    assert json.loads(request.content) == {"id": AGENT, "argument": {"spreadsheetUrl": "https://docs.example/s"}}
    assert launched == {"agent_id": AGENT, "container_id": CONTAINER, "status": "launched", "source": "phantombuster"}


async def test_fetch_agent_output_while_running_has_no_rows(api: respx.MockRouter) -> None:
    api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_running.json"))
    results = api.get(f"{BASE}/containers/fetch-result-object")

    output = (await call("fetch_agent_output", {"agent_id": AGENT})).structuredContent

    assert output["status"] == "running"
    assert output["is_running"] is True
    assert output["progress"] == 0.4
    assert output["rows"] == []
    assert output["row_count"] == 0
    assert not results.called


async def test_fetch_agent_output_parses_the_result_object(api: respx.MockRouter) -> None:
    output_route = api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_finished.json"))
    result_route = api.get(f"{BASE}/containers/fetch-result-object").mock(
        return_value=reply("result_object_posts.json")
    )

    output = (await call("fetch_agent_output", {"agent_id": AGENT})).structuredContent

    assert dict(output_route.calls.last.request.url.params) == {"id": AGENT}
    assert dict(result_route.calls.last.request.url.params) == {"id": CONTAINER}
    assert output["status"] == "finished"
    assert output["container_id"] == CONTAINER
    assert output["finished_at"] == "2025-05-04T08:00:00+00:00"
    assert output["result_source"] == "result_object"
    assert output["row_count"] == 3
    assert output["rows"][0]["postContent"].startswith("We just shipped")
    assert "Process finished successfully" in output["console_tail"]


async def test_fetch_agent_output_falls_back_to_result_json_without_sending_the_key(api: respx.MockRouter) -> None:
    api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_finished.json"))
    api.get(f"{BASE}/containers/fetch-result-object").mock(return_value=reply("result_object_empty.json"))
    api.get(f"{BASE}/agents/fetch").mock(return_value=reply("agents_fetch.json"))
    s3 = api.get(f"{phantombuster.S3_BASE}/a1B2c3D4e5F6g7H8/z1Y2x3W4v5U6t7S8/result.json").mock(
        return_value=reply("s3_result.json")
    )

    output = (await call("fetch_agent_output", {"agent_id": AGENT})).structuredContent

    assert output["result_source"] == "s3"
    assert output["row_count"] == 3
    assert "X-Phantombuster-Key" not in s3.calls.last.request.headers


async def test_company_social_profiles_launch_poll_and_normalize(api: respx.MockRouter) -> None:
    launch = api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))
    polls = api.get(f"{BASE}/agents/fetch-output").mock(
        side_effect=[
            reply("fetch_output_previous_run.json"),  # the previous run's output, not ours yet
            reply("fetch_output_running.json"),
            reply("fetch_output_finished.json"),
        ]
    )
    api.get(f"{BASE}/containers/fetch-result-object").mock(return_value=reply("result_object_profiles.json"))

    found = (await call("get_company_social_profiles", {"company": " Northwind Robotics "})).structuredContent

    assert json.loads(launch.calls.last.request.content) == {
        "id": "4417203319482201",
        "bonusArgument": {"spreadsheetUrl": "Northwind Robotics"},
    }
    assert polls.call_count == 3
    assert found["company"] == "Northwind Robotics"
    assert found["container_id"] == CONTAINER
    assert found["profiles"] == [
        {
            "platform": "linkedin",
            "handle": "northwind-robotics-example",
            "url": "https://www.linkedin.com/company/northwind-robotics-example/",
            "followers": 12408,
            "name": "Northwind Robotics",
        },
        {
            "platform": "instagram",
            "handle": "northwind.robotics",
            "url": "https://www.instagram.com/northwind.robotics/",
            "followers": None,
            "name": None,
        },
        {
            "platform": "twitter",
            "handle": "northwindbots",
            "url": "https://x.com/northwindbots",
            "followers": None,
            "name": None,
        },
    ]


async def test_recent_posts_normalize_counts_and_respect_limit(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHANTOMBUSTER_INPUT_ARGUMENT", "companyUrl")
    launch = api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))
    api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_finished.json"))
    api.get(f"{BASE}/containers/fetch-result-object").mock(return_value=reply("result_object_posts.json"))

    found = (await call("get_recent_posts", {"company": "Northwind Robotics", "limit": 2})).structuredContent

    assert json.loads(launch.calls.last.request.content)["bonusArgument"] == {"companyUrl": "Northwind Robotics"}
    assert found["posts"] == [
        {
            "platform": "linkedin",
            "url": "https://www.linkedin.com/feed/update/urn:li:activity:7190000000000000001/",
            "text": "We just shipped our fleet scheduler 3.0 - 40% fewer idle minutes across pilot sites.",
            "posted_at": "2025-05-01T15:30:00.000Z",
            "likes": 312,
            "comments": 27,
            "shares": 14,
        },
        {
            "platform": "linkedin",
            "url": "https://www.linkedin.com/feed/update/urn:li:activity:7189000000000000002/",
            "text": "Hiring: senior controls engineers in Tacoma.",
            "posted_at": "2025-04-22T09:10:00.000Z",
            "likes": 1200,
            "comments": 88,
            "shares": 0,
        },
    ]


async def test_polling_stops_after_the_poll_budget(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phantombuster, "MAX_POLLS", 3)
    api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))
    polls = api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_running.json"))

    text = error_text(await call("get_recent_posts", {"company": "Northwind Robotics"}))

    assert polls.call_count == 3
    assert f"still running (container {CONTAINER})" in text
    assert f"fetch_agent_output with agent_id '{AGENT}'" in text


async def test_polling_stops_at_the_time_budget(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phantombuster, "MAX_WAIT_S", 0.0)
    api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))
    polls = api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_running.json"))

    assert "still running" in error_text(await call("get_company_social_profiles", {"company": "Northwind Robotics"}))
    assert polls.call_count == 1


async def test_launch_error_is_reported(api: respx.MockRouter) -> None:
    api.post(f"{BASE}/agents/launch").mock(return_value=reply("agents_launch.json"))
    api.get(f"{BASE}/agents/fetch-output").mock(return_value=reply("fetch_output_launch_error.json"))

    assert "failed to start (launch error)" in error_text(await call("get_recent_posts", {"company": "Northwind"}))


@pytest.mark.parametrize(
    ("tool", "variable"),
    [
        ("get_company_social_profiles", "PHANTOMBUSTER_COMPANY_AGENT_ID"),
        ("get_recent_posts", "PHANTOMBUSTER_POSTS_AGENT_ID"),
    ],
)
async def test_unset_agent_variable_is_named(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, tool: str, variable: str
) -> None:
    monkeypatch.delenv(variable)
    launch = api.post(f"{BASE}/agents/launch")

    assert f"{variable} is not set" in error_text(await call(tool, {"company": "Northwind Robotics"}))
    assert not launch.called


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_recent_posts", {"company": "   "}, "company is empty"),
        ("get_recent_posts", {"company": "Northwind", "limit": 0}, "greater than or equal to 1"),
        ("launch_agent", {"agent_id": "../../etc"}, "is not a PhantomBuster agent id"),
        ("fetch_agent_output", {"agent_id": ""}, "is not a PhantomBuster agent id"),
    ],
)
async def test_bad_input_is_a_tool_error(api: respx.MockRouter, tool: str, arguments: dict, expected: str) -> None:
    assert expected in error_text(await call(tool, arguments))
    assert not api.calls


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply("error_401.json", 401), "the API key in $PHANTOMBUSTER_API_KEY was refused"),
        (httpx.Response(429, headers={"Retry-After": "12"}), "rate limited by PhantomBuster, retry after 12 s"),
        (httpx.Response(502, text="Bad gateway"), "PhantomBuster failed (HTTP 502); retry later"),
        (httpx.ConnectError("no route"), "cannot reach PhantomBuster"),
    ],
)
async def test_vendor_failures_become_clear_tool_errors(api: respx.MockRouter, response: Any, expected: str) -> None:
    route = api.get(f"{BASE}/agents/fetch-all")
    route.mock(side_effect=response) if isinstance(response, Exception) else route.mock(return_value=response)

    assert expected in error_text(await call("list_agents", {}))


async def test_missing_key_names_the_variable(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHANTOMBUSTER_API_KEY")

    assert "PHANTOMBUSTER_API_KEY is not set" in error_text(await call("launch_agent", {"agent_id": AGENT}))
    assert not api.calls


async def test_annotations_tell_reads_from_launches() -> None:
    async with create_connected_server_and_client_session(phantombuster.build_server()._mcp_server) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    for name in ("list_agents", "fetch_agent_output"):
        assert tools[name].annotations.readOnlyHint is True
    for name in ("launch_agent", "get_company_social_profiles", "get_recent_posts"):
        hints = tools[name].annotations
        assert (hints.readOnlyHint, hints.destructiveHint, hints.idempotentHint) == (False, False, False)
    for tool in tools.values():
        assert tool.annotations.openWorldHint is True
        assert all(prop.get("description") for prop in tool.inputSchema["properties"].values())


async def test_runs_as_a_stdio_server() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "orchestra.connectors.phantombuster"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}

    assert names == {
        "list_agents",
        "launch_agent",
        "fetch_agent_output",
        "get_company_social_profiles",
        "get_recent_posts",
    }
