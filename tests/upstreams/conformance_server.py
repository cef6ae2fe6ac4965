"""An MCP server with every feature the official conformance suite checks on a server, written with FastMCP.

It implements the server scenarios of `@modelcontextprotocol/conformance` (`server --suite all`) from their
descriptions: tools with text, image, audio, embedded-resource and mixed content, tool errors, logging and
progress during a call, sampling and elicitation requested from the client (plus the SEP-1034 defaults and
SEP-1330 enum schemas), a JSON Schema 2020-12 input schema, SSE polling (SEP-1699), resources (text, binary,
templates, subscribe / unsubscribe), prompts (plain, with arguments, an embedded resource, an image),
completions and `logging/setLevel`. tests/conformance runs the suite against it directly and through the gateway.

    python tests/upstreams/conformance_server.py --http PORT   # streamable HTTP on 127.0.0.1:PORT/mcp
    python tests/upstreams/conformance_server.py               # stdio
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import weakref
from typing import Annotated, Any

from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.prompts.base import Message, UserMessage
from mcp.server.session import ServerSession
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from pydantic import AnyUrl, Field
from suite_content import PNG_BASE64, WAV_BASE64, serve_plain_scenarios  # this script's directory is on sys.path

JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
LOG_LEVELS: list[types.LoggingLevel] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class MemoryEventStore(EventStore):
    """Every SSE event of this process, so a client that lost a stream resumes it with `Last-Event-ID`."""

    def __init__(self) -> None:
        self._events: list[tuple[EventId, StreamId, types.JSONRPCMessage | None]] = []
        self._ids = itertools.count(1)

    async def store_event(self, stream_id: StreamId, message: types.JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        position = next((i for i, (event_id, _, _) in enumerate(self._events) if event_id == last_event_id), None)
        if position is None:
            return None
        stream_id = self._events[position][1]
        for event_id, stream, message in self._events[position + 1 :]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


server = FastMCP(
    "orchestra-conformance",
    instructions="Conformance test server of Orchestra: every MCP server feature the official suite checks.",
    event_store=MemoryEventStore(),
    retry_interval=500,
    log_level="WARNING",
)

# Per MCP session: the log level set with logging/setLevel, and the resource URIs subscribed to.
_log_levels: weakref.WeakKeyDictionary[ServerSession, types.LoggingLevel] = weakref.WeakKeyDictionary()
_subscriptions: weakref.WeakKeyDictionary[ServerSession, set[str]] = weakref.WeakKeyDictionary()


async def _log(ctx: Context, level: types.LoggingLevel, message: str) -> None:
    """A log notification tied to the current request, unless the session's level filters it out."""
    threshold = _log_levels.get(ctx.session, "debug")
    if LOG_LEVELS.index(level) >= LOG_LEVELS.index(threshold):
        await ctx.session.send_log_message(
            level=level, data=message, logger="conformance", related_request_id=ctx.request_id
        )


@server._mcp_server.set_logging_level()
async def set_logging_level(level: types.LoggingLevel) -> None:
    _log_levels[server.get_context().session] = level


# --- tools -----------------------------------------------------------------------------------------------------


@server.tool()
def test_simple_text() -> str:
    """Returns one text block."""
    return "This is a simple text response for testing."


@server.tool()
def test_image_content() -> types.ImageContent:
    """Returns a 1x1 red PNG image."""
    return types.ImageContent(type="image", data=PNG_BASE64, mimeType="image/png")


@server.tool()
def test_audio_content() -> types.AudioContent:
    """Returns a short silent WAV clip."""
    return types.AudioContent(type="audio", data=WAV_BASE64, mimeType="audio/wav")


@server.tool()
def test_embedded_resource() -> types.EmbeddedResource:
    """Returns an embedded text resource."""
    return types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(
            uri=AnyUrl("test://embedded-resource"),
            mimeType="text/plain",
            text="This is an embedded resource content.",
        ),
    )


@server.tool()
def test_multiple_content_types() -> list[types.ContentBlock]:
    """Returns text, an image and an embedded resource in one result."""
    return [
        types.TextContent(type="text", text="Multiple content types test:"),
        types.ImageContent(type="image", data=PNG_BASE64, mimeType="image/png"),
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(
                uri=AnyUrl("test://mixed-content-resource"),
                mimeType="application/json",
                text=json.dumps({"test": "data", "value": 123}),
            ),
        ),
    ]


@server.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Sends three info log notifications while it runs."""
    await _log(ctx, "info", "Tool execution started")
    await asyncio.sleep(0.05)
    await _log(ctx, "info", "Tool processing data")
    await asyncio.sleep(0.05)
    await _log(ctx, "info", "Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50 and 100 of 100 when the request carries a progress token."""
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await asyncio.sleep(0.05)
        await ctx.report_progress(progress, 100, f"step {step + 1} of 3")
    return "Tool with progress executed successfully"


@server.tool()
def test_error_handling() -> str:
    """Always fails with a tool error (isError: true)."""
    raise RuntimeError("This tool intentionally returns an error for testing")


@server.tool()
async def test_sampling(prompt: str, ctx: Context) -> str:
    """Asks the client's LLM (sampling/createMessage) and returns its answer."""
    if not ctx.session.check_client_capability(types.ClientCapabilities(sampling=types.SamplingCapability())):
        raise RuntimeError("the client does not support sampling")
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=100,
        related_request_id=ctx.request_id,
    )
    text = result.content.text if isinstance(result.content, types.TextContent) else str(result.content)
    return f"LLM response: {text}"


async def _elicit(ctx: Context, message: str, schema: dict[str, Any]) -> types.ElicitResult:
    if not ctx.session.check_client_capability(types.ClientCapabilities(elicitation=types.ElicitationCapability())):
        raise RuntimeError("the client does not support elicitation")
    return await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)


@server.tool()
async def test_elicitation(message: str, ctx: Context) -> str:
    """Asks the user (elicitation/create) for a username and an email address."""
    result = await _elicit(
        ctx,
        message,
        {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        },
    )
    return f"User response: action={result.action}, content={json.dumps(result.content)}"


@server.tool()
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Elicits a form whose fields of every primitive type carry a default (SEP-1034)."""
    result = await _elicit(
        ctx,
        "Please review and update the form fields with defaults",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
            "required": [],
        },
    )
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@server.tool()
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Elicits a form with the five enum shapes of SEP-1330."""
    result = await _elicit(
        ctx,
        "Please pick from each list",
        {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ]
                    },
                },
            },
            "required": [],
        },
    )
    return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"


@server.tool()
def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
    """Tool with JSON Schema 2020-12 features"""
    return f"name={name}, address={json.dumps(address)}"


# The listed input schema keeps the 2020-12 keywords ($schema, $defs, $ref, additionalProperties) verbatim.
server._tool_manager.get_tool("json_schema_2020_12_tool").parameters = {
    "$schema": JSON_SCHEMA_2020_12,
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@server.tool()
async def test_reconnection(ctx: Context) -> str:
    """Closes its SSE stream mid-call (SEP-1699 polling); the result arrives after the client reconnects."""
    await asyncio.sleep(0.1)
    await ctx.close_sse_stream()
    await asyncio.sleep(0.6)
    return "Reconnection test completed successfully"


@server.tool()
async def update_watched_resource(ctx: Context, uri: str = "test://watched-resource") -> str:
    """Sends notifications/resources/updated for `uri` to every session subscribed to it."""
    sent = 0
    for session, uris in list(_subscriptions.items()):
        if uri in uris:
            await session.send_resource_updated(AnyUrl(uri))
            sent += 1
    return f"notified {sent} session(s)"


# --- resources -------------------------------------------------------------------------------------------------


serve_plain_scenarios(server)  # static text and binary, watched, templated (suite_content.py)


@server._mcp_server.subscribe_resource()
async def subscribe(uri: AnyUrl) -> None:
    _subscriptions.setdefault(server.get_context().session, set()).add(str(uri))


@server._mcp_server.unsubscribe_resource()
async def unsubscribe(uri: AnyUrl) -> None:
    _subscriptions.get(server.get_context().session, set()).discard(str(uri))


_capabilities = server._mcp_server.get_capabilities


def _with_subscribe(*args: Any, **kwargs: Any) -> types.ServerCapabilities:
    """The SDK never advertises `resources.subscribe`; this server serves it."""
    capabilities = _capabilities(*args, **kwargs)
    if capabilities.resources is not None:
        capabilities.resources.subscribe = True
    return capabilities


server._mcp_server.get_capabilities = _with_subscribe  # type: ignore[method-assign]


# --- prompts ---------------------------------------------------------------------------------------------------


# test_simple_prompt and test_prompt_with_arguments: registered by serve_plain_scenarios above


@server.prompt()
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # the suite's argument name
) -> list[Message]:
    """A prompt that embeds a resource."""
    return [
        UserMessage(
            content=types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(
                    uri=AnyUrl(resourceUri), mimeType="text/plain", text="Embedded resource content for testing."
                ),
            )
        ),
        UserMessage(content=types.TextContent(type="text", text="Please process the embedded resource above.")),
    ]


@server.prompt()
def test_prompt_with_image() -> list[Message]:
    """A prompt with an image."""
    return [
        UserMessage(content=types.ImageContent(type="image", data=PNG_BASE64, mimeType="image/png")),
        UserMessage(content=types.TextContent(type="text", text="Please analyze the image above.")),
    ]


# --- completions -----------------------------------------------------------------------------------------------

_CANDIDATES = {
    "arg1": ["paris", "park", "party", "test", "testing"],
    "arg2": ["world", "word", "work"],
    "id": ["123", "456", "789"],
    "resourceUri": ["test://static-text", "test://static-binary", "test://watched-resource"],
}


@server.completion()
async def complete(
    ref: types.PromptReference | types.ResourceTemplateReference,
    argument: types.CompletionArgument,
    context: types.CompletionContext | None,
) -> types.Completion:
    values = [value for value in _CANDIDATES.get(argument.name, []) if value.startswith(argument.value)]
    return types.Completion(values=values, total=len(values), hasMore=False)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    else:
        server.run("stdio")
