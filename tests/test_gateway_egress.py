"""The shipped web pools as an attacker would use them: code, local files and internal addresses stay out of reach.

The gateway runs the browser and fetch pools exactly as config/orchestra.yaml ships them, with a small website on
127.0.0.1 standing in for the sandbox (its origin is the one allowed). Everything else on this machine, the
gateway itself and Redis included, must be refused: by name, by numeric forms of 127.0.0.1, and after redirects.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import McpError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from orchestra.core.settings import load_settings, runtime_environment
from orchestra.gateway.egress import EgressPolicy, EgressRefused, is_public, parse_origin
from tests.conftest import ROOT, free_port, mcp_client, running_gateway, serving, text_of

SECRET = "root:x:0:0"


def allowed_site() -> Starlette:
    """The stand-in sandbox site: a page, an open redirect, and a page whose scripts try to reach elsewhere."""

    async def home(_: Request) -> Response:
        paragraph = "<p>Hello from the allowed site. " + "This page stands in for a sandbox website. " * 20 + "</p>"
        return HTMLResponse(f"<!doctype html><title>Allowed</title><article><h1>Allowed</h1>{paragraph}</article>")

    async def bounce(request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def robots(_: Request) -> Response:
        return PlainTextResponse("User-agent: *\nAllow: /\n")

    async def sneaky(request: Request) -> Response:
        target = request.query_params["to"]
        return HTMLResponse(
            f"<!doctype html><title>Sneaky</title><h1>Sneaky</h1><p id=out>waiting</p><script>"
            f"fetch({target!r}).then(r => r.text()).then(t => out.textContent = 'GOT ' + t)"
            f".catch(e => out.textContent = 'BLOCKED');</script>"
        )

    return Starlette(
        routes=[Route("/", home), Route("/bounce", bounce), Route("/robots.txt", robots), Route("/sneaky", sneaky)]
    )


@contextlib.asynccontextmanager
async def shipped_web_pools(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[str, str, Any]]:
    """A gateway running the shipped `browser` and `fetch` pools, and the allowed site; yields both URLs and the app."""
    config = load_settings(ROOT / "config" / "orchestra.yaml")
    site_port = free_port()
    site = f"http://127.0.0.1:{site_port}"
    environ = runtime_environment(config) | {"ORCHESTRA_DATA_DIR": str(tmp_path), "ORCHESTRA_SANDBOX_URL": site}
    pools = {name: config.gateway.pools[name].model_dump() for name in ("browser", "fetch")}
    async with (
        serving(allowed_site(), port=site_port),
        running_gateway(pools, environ=environ, **settings) as (base, app),
    ):
        yield base, site, app


async def refused(client: Any, tool: str, arguments: dict[str, Any]) -> str:
    """The error a call ends in: a JSON-RPC error from the gateway, or the tool's own error result."""
    try:
        result = await client.call_tool(tool, arguments)
    except McpError as exc:
        return exc.error.message
    assert result.isError, f"{tool} {arguments} was not refused: {text_of(result)[:500]}"
    return text_of(result)


async def test_shipped_browser_pool_hides_tools_that_run_code_or_read_files(tmp_path: Path) -> None:
    dangerous = ["browser_run_code_unsafe", "browser_evaluate", "browser_file_upload", "browser_drop"]
    async with shipped_web_pools(tmp_path) as (base, _, _):
        for path, prefix in (("pools/browser/mcp", ""), ("tiers/web/mcp", "browser__"), ("mcp", "browser__")):
            async with mcp_client(f"{base}/{path}") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert f"{prefix}browser_navigate" in names
                assert not names & {prefix + name for name in dangerous}
                code = "async (page) => page.constructor.constructor('return process')()"
                message = await refused(client, f"{prefix}browser_run_code_unsafe", {"code": code})
                assert "not exposed by this gateway" in message
        assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "url",
    [
        "view-source:file:///etc/passwd",
        "file:///etc/passwd",
        "javascript:document.body.innerText='x'",
        "chrome://version",
        "data:text/html,<h1>hi</h1>",
        " view-source:file:///etc/passwd",
        "about:blank",
    ],
)
async def test_browser_opens_only_http_urls(tmp_path: Path, url: str) -> None:
    async with shipped_web_pools(tmp_path) as (base, _, _):
        async with mcp_client(f"{base}/pools/browser/mcp") as browser:
            message = await refused(browser, "browser_navigate", {"url": url})
            assert "only http:// and https:// URLs" in message
            message = await refused(browser, "browser_tabs", {"action": "new", "url": url})
            assert "only http:// and https:// URLs" in message


async def test_fetch_and_browser_reach_the_allowed_origin_and_nothing_else_on_this_machine(
    tmp_path: Path, redis_url: str
) -> None:
    redis_port = redis_url.rsplit(":", 1)[1].split("/")[0]
    async with shipped_web_pools(tmp_path) as (base, site, app):
        gateway_port = base.rsplit(":", 1)[1]
        site_port = site.rsplit(":", 1)[1]
        internal = [
            f"{base}/admin/pools",
            f"http://0x7f000001:{gateway_port}/admin/pools",
            f"http://2130706433:{gateway_port}/admin/pools",
            f"http://127.1:{gateway_port}/admin/pools",
            f"http://[::ffff:127.0.0.1]:{gateway_port}/admin/pools",
            f"http://localhost:{site_port}/",  # the allowed site, but not under its allowed origin
            f"http://127.0.0.1:{redis_port}/",
            "http://169.254.169.254/latest/meta-data/",
            f"https://127.0.0.1:{site_port}/",  # the allowed host and port, but another scheme
        ]
        async with mcp_client(f"{base}/pools/fetch/mcp") as fetch, mcp_client(f"{base}/pools/browser/mcp") as browser:
            page = await fetch.call_tool("fetch", {"url": f"{site}/"})
            assert "Hello from the allowed site" in text_of(page)
            await browser.call_tool("browser_navigate", {"url": f"{site}/"})
            assert "Hello from the allowed site" in text_of(await browser.call_tool("browser_snapshot", {}))
            for url in internal:
                assert "may not open that URL" in await refused(fetch, "fetch", {"url": url}), url
                assert "may not open that URL" in await refused(browser, "browser_navigate", {"url": url}), url

            # A redirect from the allowed site is decided again where the request leaves: at the egress proxy.
            bounce = f"{site}/bounce?to={base}/admin/pools"
            bounced = await fetch.call_tool("fetch", {"url": bounce})
            assert "client_sessions" not in text_of(bounced)
            assert "status code 403" in text_of(bounced)  # the proxy refused the second hop
            await browser.call_tool("browser_navigate", {"url": bounce})
            assert "client_sessions" not in text_of(await browser.call_tool("browser_snapshot", {}))

            # A page's own scripts cannot reach the gateway either.
            await browser.call_tool("browser_navigate", {"url": f"{site}/sneaky?to={base}/admin/pools"})
            await browser.call_tool("browser_wait_for", {"text": "BLOCKED"})
            assert "GOT" not in text_of(await browser.call_tool("browser_snapshot", {}))
        refusals = app.state.gateway.metrics.egress_refused
        assert refusals.labels("fetch")._value.get() >= 1
        assert refusals.labels("browser")._value.get() >= 2


def policy(**overrides: Any) -> EgressPolicy:
    settings: dict[str, Any] = {
        "pool": "web", "allow_origins": frozenset({parse_origin("http://127.0.0.1:8780")}), "allow_private": False,
        "allow_public": True, "own_ports": frozenset({8700}), "connect_timeout": 5.0,
    }  # fmt: skip
    return EgressPolicy(**(settings | overrides))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("100.100.100.200", False),
        ("169.254.169.254", False),
        ("192.168.0.1", False),
        ("::1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 wrapping 169.254.169.254
        ("224.0.0.1", False),
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::ffff:0:7f00:1", False),  # SIIT
        ("64:ff9b:1::7f00:1", False),  # local-use NAT64
        ("fec0::1", False),  # site-local
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_what_counts_as_a_public_address(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_policy_allows_exact_origins_and_never_the_gateway() -> None:
    await policy().check_url("http://127.0.0.1:8780/sites/x/")
    for url, reason in [
        ("http://127.0.0.1:8781/", "private, loopback or link-local"),
        ("http://localhost:8780/", "private, loopback or link-local"),
        ("ftp://127.0.0.1:8780/", "only http:// and https://"),
        ("http://no-such-host.invalid/", "does not resolve"),
        ("http://[::1", "not a valid URL"),
    ]:
        with pytest.raises(EgressRefused, match=reason):
            await policy().check_url(url)
    with pytest.raises(EgressRefused, match="the gateway itself"):
        await policy(allow_private=True).check_url("http://127.0.0.1:8700/admin/pools")
    with pytest.raises(EgressRefused, match="public internet"):
        await policy(allow_public=False).check_url("http://8.8.8.8/")


def test_an_origin_must_be_scheme_host_and_port() -> None:
    assert parse_origin("https://Example.COM") == ("https", "example.com", 443)
    for bad in ("127.0.0.1:8780", "http://x/path", "ftp://x", "file:///etc"):
        with pytest.raises(ValueError, match="is not an origin"):
            parse_origin(bad)
