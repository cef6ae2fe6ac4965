"""The ZenRows adapter against recorded Universal Scraper API responses (respx), through FastMCP's client."""

from __future__ import annotations

import json
import logging
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

from orchestra.connectors import zenrows
from tests.connectors import support

ENDPOINT = "https://api.zenrows.com/v1/"
KEY = "zr-test-key-93be0d17c2"
PAGE = "https://northwind-robotics.example/"
RECORDINGS = Path(__file__).parent / "recordings" / "zenrows"


def reply(name: str) -> httpx.Response:
    """A recorded ZenRows answer: status, headers and a text or JSON body."""
    recorded = json.loads((RECORDINGS / name).read_text())
    body = recorded["body"]
    if isinstance(body, str):
        return httpx.Response(recorded["status"], headers=recorded["headers"], text=body)
    return httpx.Response(recorded["status"], headers=recorded["headers"], json=body)


async def call(arguments: dict[str, Any]) -> CallToolResult:
    return await support.call_tool(zenrows.build_server, "scrape", arguments)


def error_text(result: CallToolResult) -> str:
    return support.error_text(result, KEY)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENROWS_API_KEY", KEY)


@pytest.fixture
def api() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_markdown_scrape_sends_key_and_options_as_query_parameters(api: respx.MockRouter) -> None:
    route = api.get(ENDPOINT).mock(return_value=reply("markdown_page.json"))

    page = (await call({"url": PAGE})).structuredContent

    request = route.calls.last.request
    assert request.method == "GET"
    assert dict(request.url.params) == {"apikey": KEY, "url": PAGE, "response_type": "markdown"}
    assert page["format"] == "markdown"
    assert page["content"].startswith("# Northwind Robotics")
    assert "Fleet Scheduler 3.0" in page["content"]
    assert page["extracted"] is None
    assert page["status"] == 200
    assert page["final_url"] == "https://northwind-robotics.example/en/"
    assert page["request_cost"] == 1.0
    assert page["truncated"] is False
    assert page["source"] == "zenrows"


async def test_js_rendered_html(api: respx.MockRouter) -> None:
    route = api.get(ENDPOINT).mock(return_value=reply("html_page_js_render.json"))

    page = (await call({"url": PAGE, "js_render": True, "markdown": False})).structuredContent

    assert dict(route.calls.last.request.url.params) == {"apikey": KEY, "url": PAGE, "js_render": "true"}
    assert page["format"] == "html"
    assert page["content"].startswith("<!doctype html>")
    assert page["request_cost"] == 5.0


async def test_css_extractor_returns_fields_and_overrides_markdown(api: respx.MockRouter) -> None:
    route = api.get(ENDPOINT).mock(return_value=reply("css_extractor.json"))
    selectors = {"title": "h1", "products": "ul.products li", "links": "a @href"}

    page = (await call({"url": PAGE, "css_extractor": selectors, "markdown": True})).structuredContent

    params = dict(route.calls.last.request.url.params)
    assert json.loads(params.pop("css_extractor")) == selectors
    assert params == {"apikey": KEY, "url": PAGE}
    assert page["format"] == "extracted"
    assert page["content"] is None
    assert page["extracted"] == {
        "title": "Northwind Robotics",
        "products": ["Fleet Scheduler 3.0", "Dock Runner"],
        "links": ["/contact", "/careers"],
    }


async def test_long_pages_are_truncated(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zenrows, "MAX_CONTENT_CHARS", 20)
    api.get(ENDPOINT).mock(return_value=reply("markdown_page.json"))

    page = (await call({"url": PAGE})).structuredContent

    assert page["content"] == "# Northwind Robotics"
    assert page["truncated"] is True


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"url": "northwind-robotics.example"}, "is not an http(s) URL"),
        ({"url": "ftp://northwind-robotics.example/file"}, "is not an http(s) URL"),
        ({"url": ""}, "is not an http(s) URL"),
        ({"url": PAGE, "css_extractor": {}}, "css_extractor is empty"),
        ({"url": PAGE, "css_extractor": {"title": " "}}, "needs a non-empty name and selector"),
    ],
)
async def test_bad_input_is_a_tool_error(api: respx.MockRouter, arguments: dict, expected: str) -> None:
    assert expected in error_text(await call(arguments))
    assert not api.calls


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply("error_401.json"), "the API key in $ZENROWS_API_KEY was refused by ZenRows (HTTP 401)"),
        (reply("error_422.json"), "ZenRows rejected the request (HTTP 422); ZenRows said: Could not get content."),
        (httpx.Response(429, headers={"Retry-After": "5"}), "rate limited by ZenRows, retry after 5 s"),
        (httpx.Response(503, text="Service Unavailable"), "ZenRows failed (HTTP 503); retry later"),
        (httpx.ConnectTimeout("timed out"), "cannot reach ZenRows"),
    ],
)
async def test_vendor_failures_become_clear_tool_errors(api: respx.MockRouter, response: Any, expected: str) -> None:
    route = api.get(ENDPOINT)
    route.mock(side_effect=response) if isinstance(response, Exception) else route.mock(return_value=response)

    assert expected in error_text(await call({"url": PAGE}))


async def test_a_key_echoed_back_by_the_vendor_is_scrubbed(api: respx.MockRouter) -> None:
    echoed = {"title": "Bad request", "detail": f"request ?apikey={KEY}&url={PAGE} was malformed"}
    api.get(ENDPOINT).mock(return_value=httpx.Response(400, json=echoed))

    text = error_text(await call({"url": PAGE}))

    assert "apikey=***" in text


async def test_the_request_url_is_never_logged_with_the_key(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(ENDPOINT).mock(return_value=reply("markdown_page.json"))

    assert not (await call({"url": PAGE})).isError

    assert "HTTP Request: GET https://api.zenrows.com/v1/?apikey=***" in caplog.text
    assert KEY not in caplog.text


async def test_missing_key_names_the_variable(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZENROWS_API_KEY")

    assert "ZENROWS_API_KEY is not set" in error_text(await call({"url": PAGE}))
    assert not api.calls


async def test_scrape_is_annotated_and_described() -> None:
    async with create_connected_server_and_client_session(zenrows.build_server()._mcp_server) as session:
        (tool,) = (await session.list_tools()).tools

    assert tool.name == "scrape"
    assert (tool.annotations.readOnlyHint, tool.annotations.openWorldHint) == (True, True)
    assert set(tool.inputSchema["properties"]) == {"url", "js_render", "css_extractor", "markdown"}
    assert all(prop.get("description") for prop in tool.inputSchema["properties"].values())


async def test_runs_as_a_stdio_server() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "orchestra.connectors.zenrows"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = [tool.name for tool in (await session.list_tools()).tools]

    assert names == ["scrape"]
