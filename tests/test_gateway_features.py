"""Resources, prompts, completions, subscriptions, and what `initialize` says, through the gateway: a pool endpoint
passes them through unchanged; tier and `/mcp` endpoints aggregate them with namespaced names and URIs.

Real SDK clients against a real gateway, over `@modelcontextprotocol/server-everything` and a FastMCP server of
ours (`tests/upstreams/features_server.py`), over stdio and streamable HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, types
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from tests.conftest import (
    ACCEPT,
    EVERYTHING_SERVER,
    ROOT,
    http_server,
    mcp_client,
    raw_session,
    running_gateway,
    text_of,
)

FEATURES_SERVER = [sys.executable, str(ROOT / "tests" / "upstreams" / "features_server.py")]
EVERYTHING_INSTRUCTIONS = ROOT / "node_modules/@modelcontextprotocol/server-everything/dist/docs/instructions.md"
PIXEL_PREFIX = b"\x89PNG\r\n\x1a\n"


def features_pool(tier: str = "ai", **overrides: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {"tier": tier, "command": FEATURES_SERVER, "startup_timeout": "20s", "timeout": "20s"}
    pool.update(overrides)
    return pool


def everything_pool(tier: str = "ai", **overrides: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {"tier": tier, "command": EVERYTHING_SERVER, "startup_timeout": "30s", "timeout": "20s"}
    pool.update(overrides)
    return pool


class Inbox:
    """The notifications a client session received, for `ClientSession(message_handler=...)`."""

    def __init__(self) -> None:
        self.notes: list[types.ServerNotification] = []

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ServerNotification):
            self.notes.append(message)

    def of(self, kind: type) -> list[Any]:
        return [note.root for note in self.notes if isinstance(note.root, kind)]

    async def wait_for(self, kind: type, timeout: float = 15.0, **match: Any) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for note in self.of(kind):
                if all(str(getattr(note.params, k, None)) == v for k, v in match.items()):
                    return note
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind.__name__} {match} within {timeout}s; got {self.notes}")


@contextlib.asynccontextmanager
async def client(url: str) -> AsyncIterator[tuple[ClientSession, Inbox]]:
    inbox = Inbox()
    async with mcp_client(url, message_handler=inbox) as session:
        await asyncio.sleep(0.2)  # the SDK opens its GET stream after initialize
        yield session, inbox


async def initialize_result(base: str, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        reply = await http.post(path, json=INITIALIZE_LATEST, headers=ACCEPT)
        assert reply.status_code == 200, reply.text
        return reply.json()["result"]


INITIALIZE_LATEST = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def features_http_server() -> contextlib.AbstractContextManager[str]:
    return http_server(FEATURES_SERVER)


# -- pool endpoints: everything passes through ------------------------------------------------------------------
async def test_a_pool_endpoint_passes_resources_prompts_and_completions_through() -> None:
    async with running_gateway({"everything": everything_pool()}) as (base, _):
        init = await initialize_result(base, "/pools/everything/mcp")
        assert init["serverInfo"] == {"name": "mcp-servers/everything", "title": "Everything Reference Server",
                                      "version": "2.0.0"}  # fmt: skip
        assert init["instructions"] == EVERYTHING_INSTRUCTIONS.read_text()
        assert init["capabilities"]["resources"] == {"subscribe": True, "listChanged": True}
        assert init["capabilities"]["prompts"] == {"listChanged": True}
        assert init["capabilities"]["completions"] == {}
        assert "tasks" not in init["capabilities"]  # not served by the gateway, so not advertised

        async with client(f"{base}/pools/everything/mcp") as (session, _):
            listed = await session.list_resources()
            uris = [str(r.uri) for r in listed.resources]
            assert "demo://resource/static/document/architecture.md" in uris
            text = await session.read_resource(AnyUrl("demo://resource/static/document/architecture.md"))
            assert isinstance(text.contents[0], types.TextResourceContents)
            assert text.contents[0].text

            templates = await session.list_resource_templates()
            assert {t.uriTemplate for t in templates.resourceTemplates} == {
                "demo://resource/dynamic/text/{resourceId}", "demo://resource/dynamic/blob/{resourceId}",
            }  # fmt: skip
            blob = await session.read_resource(AnyUrl("demo://resource/dynamic/blob/3"))
            assert isinstance(blob.contents[0], types.BlobResourceContents)
            assert str(blob.contents[0].uri) == "demo://resource/dynamic/blob/3"
            assert base64.b64decode(blob.contents[0].blob)

            prompts = {p.name: p for p in (await session.list_prompts()).prompts}
            assert {"simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"} <= set(prompts)
            args = await session.get_prompt("args-prompt", {"city": "Lyon", "state": "Rhône"})
            assert "Lyon" in args.messages[0].content.text
            embedded = await session.get_prompt("resource-prompt", {"resourceType": "Text", "resourceId": "2"})
            resource = next(m.content for m in embedded.messages if m.content.type == "resource")
            assert str(resource.resource.uri) == "demo://resource/dynamic/text/2"

            completed = await session.complete(
                types.PromptReference(type="ref/prompt", name="completable-prompt"),
                {"name": "department", "value": "E"},
            )
            assert completed.completion.values == ["Engineering"]
            by_template = await session.complete(
                types.ResourceTemplateReference(type="ref/resource", uri="demo://resource/dynamic/text/{resourceId}"),
                {"name": "resourceId", "value": "1"},
            )
            assert by_template.completion.values

            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert tools["echo"].title == "Echo Tool"


async def test_instructions_server_info_and_tool_metadata_pass_through_on_a_pool_endpoint() -> None:
    async with running_gateway({"features": features_pool()}) as (base, _):
        init = await initialize_result(base, "/pools/features/mcp")
        assert init["instructions"] == "Features server: notes live at note://notes/{id}; never read note://secret/key."
        assert init["serverInfo"]["name"] == "features"
        assert init["serverInfo"]["websiteUrl"] == "https://example.com/features"
        assert init["serverInfo"]["icons"] == [
            {"src": "https://example.com/features.png", "mimeType": "image/png", "sizes": ["32x32"]}
        ]
        async with client(f"{base}/pools/features/mcp") as (session, _):
            shout = next(t for t in (await session.list_tools()).tools if t.name == "shout")
            assert shout.title == "Shout it"
            assert shout.icons is not None
            assert str(shout.icons[0].src) == "https://example.com/features.png"
            assert shout.meta == {"example.com/owner": "tests", "example.com/rank": 3}
            pixel = await session.read_resource(AnyUrl("bin://pixel"))
            blob = pixel.contents[0]
            assert isinstance(blob, types.BlobResourceContents)
            assert blob.mimeType == "image/png"
            assert base64.b64decode(blob.blob).startswith(PIXEL_PREFIX)
            review = await session.get_prompt("review", {"code": "print(1)"})
            kinds = [m.content.type for m in review.messages]
            assert kinds == ["text", "resource", "image"]
            assert str(review.messages[1].content.resource.uri) == "note://notes/7"
            completed = await session.complete(
                types.PromptReference(type="ref/prompt", name="review"), {"name": "language", "value": "p"}
            )
            assert completed.completion.values == ["python", "perl", "php"]


# -- tier and /mcp endpoints: aggregated and namespaced ----------------------------------------------------------
async def test_tier_and_all_endpoints_namespace_uris_and_names_and_read_back_what_results_point_at() -> None:
    pools = {"everything": everything_pool(), "features": features_pool(), "other": features_pool(tier="web")}
    async with running_gateway(pools) as (base, _):
        tier = await initialize_result(base, "/tiers/ai/mcp")
        assert tier["serverInfo"]["name"] == "orchestra-gateway/tiers/ai"
        assert "everything, features" in tier["serverInfo"]["title"]
        assert "## Pool everything (mcp-servers/everything 2.0.0)" in tier["instructions"]
        assert "## Pool features (features " in tier["instructions"]
        assert "note://notes/{id}" in tier["instructions"]  # each upstream's own instructions, under its pool
        assert "other" not in tier["instructions"]
        assert set(tier["capabilities"]) >= {"resources", "prompts", "completions", "tools", "logging"}

        for path in ("/tiers/ai/mcp", "/mcp"):
            async with client(f"{base}{path}") as (session, _):
                uris: list[str] = []
                cursor: str | None = None
                while True:  # one upstream page per request; the pools' lists follow each other
                    page = await session.list_resources(cursor=cursor)
                    uris += [str(r.uri) for r in page.resources]
                    cursor = page.nextCursor
                    if cursor is None:
                        break
                assert "everything+demo://resource/static/document/architecture.md" in uris
                assert "features+bin://pixel" in uris
                assert ("other+bin://pixel" in uris) == (path == "/mcp")
                templates = {t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates}
                assert "features+note://notes/{note_id}" in templates
                assert "everything+demo://resource/dynamic/blob/{resourceId}" in templates

                note = await session.read_resource(AnyUrl("features+note://notes/5"))
                assert str(note.contents[0].uri) == "features+note://notes/5"
                assert note.contents[0].text == "note 5"
                pixel = await session.read_resource(AnyUrl("features+bin://pixel"))
                assert base64.b64decode(pixel.contents[0].blob).startswith(PIXEL_PREFIX)

                # What a tool points at is named as this endpoint names it, and reads back.
                pointed = await session.call_tool("features__pointers", {})
                link, embedded = pointed.content
                assert str(link.uri) == "features+note://notes/1"
                assert str(embedded.resource.uri) == "features+note://notes/2"
                assert (await session.read_resource(link.uri)).contents[0].text == "note 1"
                links = await session.call_tool("everything__get-resource-links", {"count": 2})
                first = next(block for block in links.content if block.type == "resource_link")
                assert str(first.uri).startswith("everything+demo://")
                assert (await session.read_resource(first.uri)).contents

                prompts = {p.name for p in (await session.list_prompts()).prompts}
                assert {"features__review", "everything__args-prompt"} <= prompts
                review = await session.get_prompt("features__review", {"code": "x = 1", "language": "python"})
                assert [m.content.type for m in review.messages] == ["text", "resource", "image"]
                assert str(review.messages[1].content.resource.uri) == "features+note://notes/7"
                embedded_everything = await session.get_prompt(
                    "everything__resource-prompt", {"resourceType": "Blob", "resourceId": "4"}
                )
                block = next(m.content for m in embedded_everything.messages if m.content.type == "resource")
                assert str(block.resource.uri) == "everything+demo://resource/dynamic/blob/4"
                assert (await session.read_resource(block.resource.uri)).contents

                by_prompt = await session.complete(
                    types.PromptReference(type="ref/prompt", name="features__review"),
                    {"name": "language", "value": "r"},
                )
                assert by_prompt.completion.values == ["rust"]
                by_template = await session.complete(
                    types.ResourceTemplateReference(type="ref/resource", uri="features+note://notes/{note_id}"),
                    {"name": "note_id", "value": "1"},
                )
                assert by_template.completion.values == ["1", "12"]

                for bad in ("note://notes/1", "nopool+note://notes/1"):  # two pools here serve resources
                    with pytest.raises(McpError, match="names no pool"):
                        await session.read_resource(AnyUrl(bad))
                if path == "/mcp":  # two pools have a tool named so: the name must carry its pool
                    with pytest.raises(McpError, match="served by several pools at /mcp: features__pointers, other__"):
                        await session.call_tool("pointers", {})
                else:
                    assert (await session.call_tool("pointers", {})).content[0].type == "resource_link"
                if path == "/mcp":  # two pools have a prompt named so: the name must carry its pool
                    with pytest.raises(McpError, match="served by several pools here: features__review, other__"):
                        await session.get_prompt("review", {"code": "x"})
                else:  # one pool has it: answered without the prefix
                    bare = await session.get_prompt("review", {"code": "x"})
                    assert [m.content.type for m in bare.messages] == ["text", "resource", "image"]
                with pytest.raises(McpError, match="unknown prompt"):
                    await session.get_prompt("no-such-prompt", {})


# -- subscriptions ------------------------------------------------------------------------------------------------
async def test_resource_updates_reach_only_the_sessions_subscribed_to_that_resource() -> None:
    architecture = "demo://resource/static/document/architecture.md"
    features = "demo://resource/static/document/features.md"
    async with running_gateway({"everything": everything_pool()}) as (base, _):
        async with (
            client(f"{base}/tiers/ai/mcp") as (tier, tier_inbox),
            client(f"{base}/pools/everything/mcp") as (pool, pool_inbox),
            client(f"{base}/mcp") as (bystander, bystander_inbox),
        ):
            await tier.subscribe_resource(AnyUrl(f"everything+{architecture}"))
            await pool.subscribe_resource(AnyUrl(features))
            await bystander.list_resources()
            # The upstream (one stdio replica) sends updates for its subscriptions every 5 s once toggled on.
            toggled = await bystander.call_tool("everything__toggle-subscriber-updates", {})
            assert not toggled.isError, text_of(toggled)
            await tier_inbox.wait_for(types.ResourceUpdatedNotification, uri=f"everything+{architecture}")
            await pool_inbox.wait_for(types.ResourceUpdatedNotification, uri=features)
            await asyncio.sleep(0.5)
            assert {str(n.params.uri) for n in tier_inbox.of(types.ResourceUpdatedNotification)} == {
                f"everything+{architecture}"
            }
            assert {str(n.params.uri) for n in pool_inbox.of(types.ResourceUpdatedNotification)} == {features}
            assert bystander_inbox.of(types.ResourceUpdatedNotification) == []

            await tier.unsubscribe_resource(AnyUrl(f"everything+{architecture}"))
            seen = len(tier_inbox.of(types.ResourceUpdatedNotification))
            await pool_inbox.wait_for(types.ResourceUpdatedNotification, timeout=12)  # the next round came
            count = len(pool_inbox.of(types.ResourceUpdatedNotification))
            await asyncio.sleep(6)
            assert len(pool_inbox.of(types.ResourceUpdatedNotification)) > count
            assert len(tier_inbox.of(types.ResourceUpdatedNotification)) == seen
            await bystander.call_tool("everything__toggle-subscriber-updates", {})


async def test_an_http_upstreams_updates_and_list_changes_arrive_on_its_get_stream_and_reach_the_right_clients() -> (
    None
):
    with features_http_server() as url:
        pools = {"notes": {"tier": "ai", "url": url, "timeout": "20s"}}
        async with running_gateway(pools) as (base, _):
            async with (
                client(f"{base}/tiers/ai/mcp") as (subscriber, subscriber_inbox),
                client(f"{base}/pools/notes/mcp") as (other, other_inbox),
            ):
                await subscriber.subscribe_resource(AnyUrl("notes+note://notes/3"))
                assert text_of(await other.call_tool("subscriptions", {})) == "note://notes/3"
                await other.call_tool("touch", {"uri": "note://notes/3"})
                await other.call_tool("touch", {"uri": "note://notes/4"})
                await subscriber_inbox.wait_for(types.ResourceUpdatedNotification, uri="notes+note://notes/3")
                await asyncio.sleep(0.5)
                assert len(subscriber_inbox.of(types.ResourceUpdatedNotification)) == 1
                assert other_inbox.of(types.ResourceUpdatedNotification) == []

                # A tool added upstream: every client of an endpoint serving the pool is told, and finds it.
                await subscriber.call_tool("notes__add_tool", {"name": "fresh"})
                await other_inbox.wait_for(types.ToolListChangedNotification)
                await subscriber_inbox.wait_for(types.ToolListChangedNotification)
                assert "fresh" in {t.name for t in (await other.list_tools()).tools}
                assert text_of(await subscriber.call_tool("notes__fresh", {})) == "I am fresh"

            # A session that ends drops its subscriptions; the upstream's ends with the last one.
            await asyncio.sleep(0.5)
            async with client(f"{base}/pools/notes/mcp") as (after, _):
                assert text_of(await after.call_tool("subscriptions", {})) == ""


# -- filters --------------------------------------------------------------------------------------------------
async def test_filters_hide_resources_and_prompts_everywhere_and_an_allow_listed_pool_shows_none_until_allowed() -> (
    None
):
    pools = {
        "features": features_pool(resources={"deny": ["note://secret/*"]}, prompts={"deny": ["hidden"]}),
        "reviewed": features_pool(tier="web", tools={"allow": ["shout"]}),
        "opened": features_pool(
            tier="bi",
            tools={"allow": ["shout"]},
            resources={"allow": ["note://notes/*"]},
            prompts={"allow": ["review"]},
        ),
    }
    async with running_gateway(pools) as (base, _):
        reviewed = await initialize_result(base, "/pools/reviewed/mcp")
        assert set(reviewed["capabilities"]) == {"logging", "tools"}
        async with client(f"{base}/pools/reviewed/mcp") as (session, _):
            assert (await session.list_resources()).resources == []
            assert (await session.list_prompts()).prompts == []
            with pytest.raises(McpError, match="not exposed by this gateway"):
                await session.read_resource(AnyUrl("note://notes/1"))
            with pytest.raises(McpError, match="not exposed by this gateway"):
                await session.get_prompt("review", {"code": "x"})
        async with client(f"{base}/tiers/web/mcp") as (session, _):
            assert (await session.list_resources()).resources == []
            assert (await session.list_prompts()).prompts == []

        async with client(f"{base}/pools/opened/mcp") as (session, _):
            templates = [t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates]
            assert templates == ["note://notes/{note_id}"]
            assert [str(r.uri) for r in (await session.list_resources()).resources] == []  # pixel, secret: not allowed
            assert (await session.read_resource(AnyUrl("note://notes/1"))).contents[0].text == "note 1"
            for refused in ("bin://pixel", "note://secret/key"):
                with pytest.raises(McpError, match="not exposed by this gateway"):
                    await session.read_resource(AnyUrl(refused))
            assert [p.name for p in (await session.list_prompts()).prompts] == ["review"]
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:  # the SDK would resolve `..` itself
            raw = {**ACCEPT, "mcp-session-id": await raw_session(http, "/pools/opened/mcp")}
            for climb in ("note://notes/../secret/key", "note://notes/%2e%2e/secret/key", "note://notes/x/.."):
                read = {"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": climb}}
                refused = (await http.post("/pools/opened/mcp", json=read, headers=raw)).json()
                assert "not exposed by this gateway" in refused["error"]["message"], climb

        for path, prefix in (("/pools/features/mcp", ""), ("/tiers/ai/mcp", "features+"), ("/mcp", "features+")):
            async with client(f"{base}{path}") as (session, _):
                uris = {str(r.uri) for r in (await session.list_resources()).resources}
                assert f"{prefix}bin://pixel" in uris
                assert f"{prefix}note://secret/key" not in uris
                with pytest.raises(McpError, match="not exposed by this gateway"):
                    await session.read_resource(AnyUrl(f"{prefix}note://secret/key"))
                with pytest.raises(McpError, match="not exposed by this gateway"):
                    await session.subscribe_resource(AnyUrl(f"{prefix}note://secret/key"))
                names = {p.name for p in (await session.list_prompts()).prompts}
                assert not any(name.endswith("hidden") for name in names)
                hidden = "hidden" if not prefix else "features__hidden"
                with pytest.raises(McpError):
                    await session.get_prompt(hidden, {})
                with pytest.raises(McpError):
                    await session.complete(types.PromptReference(type="ref/prompt", name=hidden),
                                           {"name": "x", "value": ""})  # fmt: skip


async def test_the_get_stream_belongs_to_its_session_and_key(tmp_path: Path) -> None:
    environ = {"ORCHESTRA_GATEWAY_KEYS": "key-a,key-b"}
    async with running_gateway({"features": features_pool()}, environ=environ) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            own = {"authorization": "Bearer key-a"}
            session = await raw_session(http, "/pools/features/mcp", own)
            stream = {"accept": "text/event-stream", "mcp-session-id": session}
            other_key = await http.get("/pools/features/mcp", headers={**stream, "authorization": "Bearer key-b"})
            assert other_key.status_code == 404
            wrong_endpoint = await http.get("/tiers/ai/mcp", headers={**stream, **own})
            assert wrong_endpoint.status_code == 404
            no_accept = await http.get("/pools/features/mcp", headers={"mcp-session-id": session, **own})
            assert no_accept.status_code == 406
            async with http.stream("GET", "/pools/features/mcp", headers={**stream, **own}) as opened:
                assert opened.status_code == 200
                assert opened.headers["content-type"].startswith("text/event-stream")
                ended = await http.delete("/pools/features/mcp", headers={"mcp-session-id": session, **own})
                assert ended.status_code == 200
                body = b"".join([chunk async for chunk in opened.aiter_bytes()])  # the stream ends with its session
                assert body.startswith(b": stream open")


async def test_a_dedicated_pool_serves_resources_in_the_clients_own_upstream_session() -> None:
    pools = {"notes": features_pool(session="dedicated", replicas={"min": 1, "max": 3})}
    async with running_gateway(pools) as (base, _):
        async with (
            client(f"{base}/tiers/ai/mcp") as (first, first_inbox),
            client(f"{base}/pools/notes/mcp") as (second, second_inbox),
        ):
            assert "note://notes/{note_id}" in {
                t.uriTemplate for t in (await second.list_resource_templates()).resourceTemplates
            }  # listing opens no upstream session of its own
            await first.subscribe_resource(AnyUrl("notes+note://notes/1"))
            assert text_of(await first.call_tool("notes__subscriptions", {})) == "note://notes/1"
            assert text_of(await second.call_tool("subscriptions", {})) == ""  # its own upstream process
            await second.call_tool("touch", {"uri": "note://notes/1"})
            await second_inbox.wait_for(types.ResourceUpdatedNotification, uri="note://notes/1")
            await first.call_tool("notes__touch", {"uri": "note://notes/1"})
            await first_inbox.wait_for(types.ResourceUpdatedNotification, uri="notes+note://notes/1")
            await asyncio.sleep(0.5)
            assert len(first_inbox.of(types.ResourceUpdatedNotification)) == 1
            assert len(second_inbox.of(types.ResourceUpdatedNotification)) == 1
            note = await first.read_resource(AnyUrl("notes+note://notes/9"))
            assert note.contents[0].text == "note 9"
