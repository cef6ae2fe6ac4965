"""Playwright MCP on Chromium against the sandbox websites, through the real gateway (dedicated sessions)."""

from __future__ import annotations

import json
import re

from tests.conftest import text_of
from tests.sandbox.conftest import Sandbox


def ref_of(snapshot: str, role: str, name: str) -> str:
    """The element ref Playwright MCP gives `role "name"` in an accessibility snapshot."""
    match = re.search(rf'{role} "{re.escape(name)}"[^\n]*\[ref=(e\d+)\]', snapshot)
    assert match, f'no {role} "{name}" in snapshot:\n{snapshot[:2000]}'
    return match.group(1)


async def test_browser_navigates_clicks_through_and_reads_the_next_page(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[7]
    async with sandbox.client("browser") as browser:
        opened = await browser.call_tool("browser_navigate", {"url": f"{sandbox.host_url}/sites/{company.domain}/"})
        assert not opened.isError, text_of(opened)
        # A later call of the same client session sees the same page: the browser lives as long as the session.
        home = text_of(await browser.call_tool("browser_snapshot", {}))
        assert company.tagline in home
        link = ref_of(home, "link", "Pricing")
        clicked = await browser.call_tool("browser_click", {"element": "Pricing link", "target": link})
        assert not clicked.isError, text_of(clicked)
        pricing = text_of(await browser.call_tool("browser_snapshot", {}))
        for plan in company.plans:
            assert f"${plan.price_per_month_usd}/mo" in pricing
        assert "/pricing/" in pricing


async def test_browser_fills_and_submits_the_contact_form(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[11]
    async with sandbox.client("browser") as browser:
        await browser.call_tool("browser_navigate", {"url": f"{sandbox.host_url}/sites/{company.domain}/contact/"})
        form = text_of(await browser.call_tool("browser_snapshot", {}))
        await browser.call_tool(
            "browser_type", {"element": "Name", "target": ref_of(form, "textbox", "Name"), "text": "Dana Quist"}
        )
        await browser.call_tool(
            "browser_type",
            {"element": "Work email", "target": ref_of(form, "textbox", "Work email"), "text": "dana@buyer.example"},
        )
        await browser.call_tool("browser_click", {"element": "Send", "target": ref_of(form, "button", "Send")})
        done = text_of(await browser.call_tool("browser_snapshot", {}))
        assert "Thanks, Dana Quist!" in done
    entries = [json.loads(line) for line in sandbox.paths.contact_submissions.read_text().splitlines()]
    assert {"name": "Dana Quist", "email": "dana@buyer.example", "domain": company.domain}.items() <= entries[
        -1
    ].items()


async def test_two_client_sessions_get_two_browsers(sandbox: Sandbox) -> None:
    first, second = sandbox.world.companies[0], sandbox.world.companies[1]
    async with sandbox.client("browser") as a, sandbox.client("browser") as b:
        await a.call_tool("browser_navigate", {"url": f"{sandbox.host_url}/sites/{first.domain}/about/"})
        await b.call_tool("browser_navigate", {"url": f"{sandbox.host_url}/sites/{second.domain}/team/"})
        assert f"About {first.name}" in text_of(await a.call_tool("browser_snapshot", {}))
        assert "Leadership team" in text_of(await b.call_tool("browser_snapshot", {}))
