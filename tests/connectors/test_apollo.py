"""The Apollo adapter against recorded Apollo responses (respx), through FastMCP's in-memory client."""

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

from orchestra.connectors import apollo
from tests.connectors import support

BASE = "https://api.apollo.io/api/v1"
KEY = "apollo-test-key-5f1c9e"
RECORDINGS = Path(__file__).parent / "recordings" / "apollo"


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text())


async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
    return await support.call_tool(apollo.build_server, tool, arguments)


def error_text(result: CallToolResult) -> str:
    return support.error_text(result, KEY)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APOLLO_API_KEY", KEY)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def test_enrich_organization_sends_the_documented_request_and_normalizes(api: respx.MockRouter) -> None:
    route = api.get("/organizations/enrich").mock(
        return_value=httpx.Response(200, json=recording("organizations_enrich.json"))
    )

    result = await call("enrich_organization", {"domain": "https://www.LumenRidge.example/about"})

    assert not result.isError
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/api/v1/organizations/enrich"
    assert dict(request.url.params) == {"domain": "lumenridge.example"}
    assert request.headers["X-Api-Key"] == KEY
    org = result.structuredContent
    assert org["name"] == "Lumen Ridge Analytics"
    assert org["domain"] == "lumenridge.example"
    assert org["industry"] == "information technology & services"
    assert org["employee_count"] == 240
    assert org["founded_year"] == 2016
    assert org["location"] == "Portland, Oregon, United States"
    assert org["funding"] == {
        "total_usd": 52000000,
        "total_printed": "52M",
        "latest_stage": "Series B",
        "latest_round_date": "2024-03-12",
    }
    assert org["technologies"] == ["Snowflake", "Segment", "Hubspot"]
    assert org["match_confidence"] == 1.0
    assert org["match_basis"] == "primary_domain"
    assert org["source"] == "apollo"


async def test_enrich_organization_lowers_confidence_when_apollo_answers_another_domain(api: respx.MockRouter) -> None:
    api.get("/organizations/enrich").mock(
        return_value=httpx.Response(200, json=recording("organizations_enrich_other_domain.json"))
    )

    org = (await call("enrich_organization", {"domain": "lumenridge.example"})).structuredContent

    assert org["found"] is True
    assert org["domain"] == "lumenridgeholdings.example"
    assert org["match_confidence"] == 0.5


async def test_enrich_organization_reports_not_found(api: respx.MockRouter) -> None:
    api.get("/organizations/enrich").mock(
        return_value=httpx.Response(200, json=recording("organizations_enrich_not_found.json"))
    )

    org = (await call("enrich_organization", {"domain": "nobody-here.example"})).structuredContent

    assert org == {"found": False, "domain": "nobody-here.example", "match_confidence": 0.0, "source": "apollo"}


@pytest.mark.parametrize("domain", ["", "   ", "not a domain", "someone@lumenridge.example", "localhost"])
async def test_enrich_organization_rejects_malformed_domains_without_calling_apollo(
    api: respx.MockRouter, domain: str
) -> None:
    route = api.get("/organizations/enrich")

    text = error_text(await call("enrich_organization", {"domain": domain}))

    assert "domain" in text
    assert not route.called


async def test_search_people_sends_filters_and_marks_obfuscated_rows(api: respx.MockRouter) -> None:
    route = api.post("/mixed_people/api_search").mock(
        return_value=httpx.Response(200, json=recording("people_api_search.json"))
    )

    result = await call(
        "search_people",
        {
            "organization_domain": "lumenridge.example",
            "titles": ["VP of Sales", " head of sales "],
            "seniorities": ["VP", "head"],
            "limit": 3,
        },
    )

    request = route.calls.last.request
    assert request.headers["X-Api-Key"] == KEY
    assert json.loads(request.content) == {
        "q_organization_domains_list": ["lumenridge.example"],
        "page": 1,
        "per_page": 3,
        "person_titles": ["VP of Sales", "head of sales"],
        "person_seniorities": ["vp", "head"],
    }
    found = result.structuredContent
    assert found["total_entries"] == 3
    first, second, third = found["people"]
    assert first["name"] == "Mara Qu***r"
    assert first["name_obfuscated"] is True
    assert first["title"] == "VP of Sales"
    assert first["email"] is None
    assert first["has_email"] is True
    assert first["organization_name"] == "Lumen Ridge Analytics"
    assert first["match_confidence"] == 0.8
    assert second["has_email"] is False
    # Only the row that echoes the domain back earns full confidence.
    assert third["match_confidence"] == 1.0
    assert found["source"] == "apollo"


async def test_search_people_rejects_unknown_seniority_and_out_of_range_limit(api: respx.MockRouter) -> None:
    route = api.post("/mixed_people/api_search")

    bad_seniority = error_text(
        await call("search_people", {"organization_domain": "lumenridge.example", "seniorities": ["boss"]})
    )
    bad_limit = error_text(await call("search_people", {"organization_domain": "lumenridge.example", "limit": 500}))

    assert "boss" in bad_seniority
    assert "c_suite" in bad_seniority
    assert "limit" in bad_limit
    assert "100" in bad_limit
    assert not route.called


async def test_enrich_person_by_email_is_full_confidence(api: respx.MockRouter) -> None:
    route = api.post("/people/match").mock(return_value=httpx.Response(200, json=recording("people_match.json")))

    person = (await call("enrich_person", {"email": "Mara.Quillfeather@lumenridge.example"})).structuredContent

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["X-Api-Key"] == KEY
    assert dict(request.url.params) == {
        "email": "Mara.Quillfeather@lumenridge.example",
        "reveal_personal_emails": "false",
        "reveal_phone_number": "false",
    }
    assert person["name"] == "Mara Quillfeather"
    assert person["title"] == "VP of Sales"
    assert person["seniority"] == "vp"
    assert person["email"] == "mara.quillfeather@lumenridge.example"
    assert person["linkedin_url"] == "http://www.linkedin.com/in/mara-quillfeather-example"
    assert person["organization"] == {
        "name": "Lumen Ridge Analytics",
        "domain": "lumenridge.example",
        "industry": "information technology & services",
    }
    assert person["match_confidence"] == 1.0
    assert person["match_basis"] == "email"


async def test_enrich_person_by_name_and_domain_and_locked_email(api: respx.MockRouter) -> None:
    locked = recording("people_match.json")
    locked["person"]["email"] = "email_not_unlocked@domain.com"
    route = api.post("/people/match").mock(return_value=httpx.Response(200, json=locked))

    person = (
        await call("enrich_person", {"first_name": "Mara", "last_name": "Quillfeather", "domain": "lumenridge.example"})
    ).structuredContent

    assert dict(route.calls.last.request.url.params)["domain"] == "lumenridge.example"
    assert person["email"] is None
    assert person["email_status"] == "locked"
    assert person["match_confidence"] == 0.9
    assert person["match_basis"] == "name+domain"


async def test_enrich_person_name_only_is_low_confidence_and_no_match_is_zero(api: respx.MockRouter) -> None:
    api.post("/people/match").mock(
        side_effect=[
            httpx.Response(200, json=recording("people_match.json")),
            httpx.Response(200, json=recording("people_match_no_match.json")),
        ]
    )

    named = (await call("enrich_person", {"first_name": "Mara", "last_name": "Quillfeather"})).structuredContent
    nobody = (await call("enrich_person", {"email": "ghost@lumenridge.example"})).structuredContent

    assert named["match_confidence"] == 0.5
    assert nobody == {"found": False, "match_confidence": 0.0, "source": "apollo"}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "first_name and last_name"),
        ({"first_name": "Mara"}, "first_name and last_name"),
        ({"first_name": " ", "last_name": "Quillfeather"}, "first_name is empty"),
        ({"email": "not-an-email"}, "not an email"),
    ],
)
async def test_enrich_person_rejects_insufficient_input(api: respx.MockRouter, arguments: dict, expected: str) -> None:
    route = api.post("/people/match")

    assert expected in error_text(await call("enrich_person", arguments))
    assert not route.called


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(401, json={"error": "Invalid access credentials."}),
            "the API key in $APOLLO_API_KEY was refused",
        ),
        (
            httpx.Response(403, json=recording("error_403_not_master.json")),
            "was refused by Apollo (HTTP 403); check it; Apollo said: api/v1/mixed_people/api_search is not accessible",
        ),
        (
            httpx.Response(429, headers={"Retry-After": "37"}, json=recording("error_429.json")),
            "rate limited by Apollo, retry after 37 s",
        ),
        (httpx.Response(500, text="upstream exploded"), "Apollo failed (HTTP 500); retry later"),
        (httpx.ConnectError("connection refused"), "cannot reach Apollo"),
        (httpx.ReadTimeout("timed out"), "cannot reach Apollo (no answer in time)"),
    ],
)
async def test_vendor_failures_become_clear_tool_errors(api: respx.MockRouter, response: Any, expected: str) -> None:
    route = api.post("/mixed_people/api_search")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)

    text = error_text(await call("search_people", {"organization_domain": "lumenridge.example"}))

    assert expected in text


async def test_missing_key_names_the_variable_and_sends_nothing(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APOLLO_API_KEY")
    route = api.get("/organizations/enrich")

    text = error_text(await call("enrich_organization", {"domain": "lumenridge.example"}))

    assert "APOLLO_API_KEY is not set" in text
    assert not route.called


async def test_tools_are_annotated_and_arguments_described() -> None:
    async with create_connected_server_and_client_session(apollo.build_server()._mcp_server) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == {"enrich_organization", "search_people", "enrich_person"}
    for tool in tools.values():
        assert tool.annotations.readOnlyHint is True
        assert tool.annotations.openWorldHint is True
        assert all(prop.get("description") for prop in tool.inputSchema["properties"].values())
    limit = tools["search_people"].inputSchema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 10)


async def test_runs_as_a_stdio_server_without_a_key() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "orchestra.connectors.apollo"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        result = await session.call_tool("enrich_organization", {"domain": "lumenridge.example"})

    assert names == {"enrich_organization", "search_people", "enrich_person"}
    assert result.isError
    assert "APOLLO_API_KEY is not set" in result.content[0].text
