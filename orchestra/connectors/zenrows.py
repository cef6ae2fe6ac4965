"""ZenRows adapter: fetch one web page through ZenRows' Universal Scraper API.

Why: agents need page content from sites that block plain HTTP clients (anti-bot, JavaScript rendering); ZenRows
does the fetching and can return Markdown or CSS-extracted fields, which are far cheaper for a model to read than
raw HTML.

API (https://docs.zenrows.com/universal-scraper-api/api-reference): GET https://api.zenrows.com/v1/ with the key
in the `apikey` query parameter and the target in `url`; `js_render=true` renders with a headless browser,
`response_type=markdown` converts the page, `css_extractor` (a JSON object of name -> selector) returns JSON
fields instead. The `Zr-Final-Url` response header carries the URL after redirects. The request URL carries the
key, so it is never logged or put in a message (see `_http`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.connectors._http import Vendor, parse_json, request

ZENROWS = Vendor(
    name="ZenRows",
    base_url="https://api.zenrows.com/v1",
    key_env="ZENROWS_API_KEY",
    auth="query",
    auth_name="apikey",
    timeout_s=90.0,  # JavaScript rendering can take most of a minute
)
MAX_CONTENT_CHARS = 100_000
MAX_SELECTORS = 30

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)


def _target(url: str) -> str:
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http(s) URL with a host")
    return text


def _extractor(css_extractor: dict[str, str]) -> str:
    if not css_extractor:
        raise ValueError("css_extractor is empty; give at least one name -> CSS selector pair, or leave it out")
    if len(css_extractor) > MAX_SELECTORS:
        raise ValueError(f"css_extractor has {len(css_extractor)} selectors; at most {MAX_SELECTORS} are allowed")
    for name, selector in css_extractor.items():
        if not name.strip() or not isinstance(selector, str) or not selector.strip():
            raise ValueError(f"css_extractor entry '{name}' needs a non-empty name and selector")
    return json.dumps(css_extractor)


async def scrape(
    url: Annotated[str, Field(description="The page to fetch, an absolute http(s) URL.")],
    js_render: Annotated[
        bool, Field(description="Render the page in a headless browser first (for JavaScript-built pages; costs more).")
    ] = False,
    css_extractor: Annotated[
        dict[str, str] | None,
        Field(
            description="Fields to extract, name -> CSS selector (e.g. {'title': 'h1', 'links': 'a @href'}).",
        ),
    ] = None,
    markdown: Annotated[
        bool, Field(description="Return the page as Markdown instead of HTML; ignored when css_extractor is given.")
    ] = True,
) -> dict[str, Any]:
    """Fetch one web page through ZenRows and return its content (Markdown or HTML, at most 100,000 characters)
    or the fields picked by css_extractor, with the HTTP status and the final URL after redirects."""
    target = _target(url)
    params: dict[str, str] = {"url": target}
    if js_render:
        params["js_render"] = "true"
    if css_extractor is not None:
        params["css_extractor"] = _extractor(css_extractor)
        output = "extracted"
    elif markdown:
        params["response_type"] = "markdown"
        output = "markdown"
    else:
        output = "html"
    response = await request(ZENROWS, "GET", "/", params=params)
    result: dict[str, Any] = {
        "url": target,
        "final_url": response.headers.get("Zr-Final-Url") or target,
        "status": response.status_code,
        "format": output,
        "content": None,
        "extracted": None,
        "truncated": False,
    }
    if output == "extracted":
        result["extracted"] = parse_json(ZENROWS, response)
    else:
        text = response.text
        result["content"] = text[:MAX_CONTENT_CHARS]
        result["truncated"] = len(text) > MAX_CONTENT_CHARS
    cost = response.headers.get("X-Request-Cost")
    try:
        result["request_cost"] = float(cost) if cost is not None else None
    except ValueError:
        result["request_cost"] = None
    result["source"] = "zenrows"
    return result


def build_server() -> FastMCP:
    """The ZenRows MCP server; built on demand so importing this module touches no environment or network."""
    server = FastMCP("zenrows", instructions="Fetch web pages (Markdown or extracted fields) through ZenRows.")
    server.add_tool(scrape, annotations=READ)
    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
