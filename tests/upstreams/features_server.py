"""A small MCP server for the gateway's resources, prompts and completions tests (stdio, or `--http PORT`).

It offers: a tool with a title, icons and `_meta`; a tool whose result points at resources (a resource link and
an embedded resource); a tool that says a resource was updated, one that adds a tool and says the list changed,
and one that logs after it returned (all outside the call: over HTTP on the GET stream); text, binary and
templated resources, a secret one for filters; a prompt with arguments, an embedded resource and an image;
completions; subscriptions; tools that ask the client (sampling, form and URL elicitation, roots), and a slow
tool that says when it was cancelled.
"""

from __future__ import annotations

import base64
import sys

import anyio
from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.prompts.base import Message, UserMessage
from pydantic import AnyUrl

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
INSTRUCTIONS = "Features server: notes live at note://notes/{id}; never read note://secret/key."
ICON = types.Icon(src="https://example.com/features.png", mimeType="image/png", sizes=["32x32"])

server = FastMCP("features", instructions=INSTRUCTIONS, website_url="https://example.com/features", icons=[ICON])
subscribed: set[str] = set()
cancelled: list[str] = []  # the `slow` calls whose handlers were cancelled (by notifications/cancelled)


@server.tool(title="Shout it", icons=[ICON], meta={"example.com/owner": "tests", "example.com/rank": 3})
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


@server.tool()
def pointers() -> list[types.ContentBlock]:
    """Point at two notes: one by link, one embedded."""
    return [
        types.ResourceLink(type="resource_link", uri=AnyUrl("note://notes/1"), name="note 1"),
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(uri=AnyUrl("note://notes/2"), text="note 2", mimeType="text/plain"),
        ),
    ]


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Say that a resource was updated (to every subscriber: the gateway picks who hears it)."""
    await ctx.session.send_resource_updated(AnyUrl(uri))
    return f"touched {uri}"


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Add a tool named `name`, then say the tool list changed."""
    server.add_tool(lambda: f"I am {name}", name=name, description="added at run time")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@server.tool()
async def log_later(text: str, level: str, ctx: Context) -> str:
    """Log `text` at `level` a moment after this call has returned: a log message outside any call."""
    session = ctx.session

    async def later() -> None:
        await anyio.sleep(0.2)
        await session.send_log_message(level=level, data=text, logger="later")  # type: ignore[arg-type]

    session._task_group.start_soon(later)  # the session's own task group outlives this call
    return "will log"


@server.tool()
def subscriptions() -> str:
    """The URIs this server has subscriptions for, comma-separated."""
    return ",".join(sorted(subscribed))


@server.resource("note://notes/{note_id}", mime_type="text/plain")
def note(note_id: str) -> str:
    """A note by id."""
    return f"note {note_id}"


@server.resource("note://secret/key", mime_type="text/plain")
def secret() -> str:
    """What the filters must hide."""
    return "the secret"


@server.resource("bin://pixel", mime_type="image/png")
def pixel() -> bytes:
    """A 1x1 PNG (a binary resource)."""
    return PIXEL


@server.prompt(title="Review code")
def review(code: str, language: str = "python") -> list[Message]:
    """Ask for a review of `code`, with a note and a picture."""
    return [
        UserMessage(f"Review this {language} code:\n{code}"),
        UserMessage(
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri=AnyUrl("note://notes/7"), text="note 7", mimeType="text/plain"),
            )
        ),
        UserMessage(types.ImageContent(type="image", data=base64.b64encode(PIXEL).decode(), mimeType="image/png")),
    ]


@server.prompt()
def hidden() -> str:
    """A prompt the filters hide."""
    return "hidden"


@server.completion()
async def complete(
    ref: types.PromptReference | types.ResourceTemplateReference,
    argument: types.CompletionArgument,
    context: types.CompletionContext | None,
) -> types.Completion | None:
    if argument.name == "language":
        return types.Completion(values=[v for v in ("python", "perl", "php", "rust") if v.startswith(argument.value)])
    if argument.name == "note_id":
        return types.Completion(values=[v for v in ("1", "2", "12") if v.startswith(argument.value)])
    return None


@server.tool()
async def ask_llm(prompt: str, ctx: Context) -> str:
    """Ask the client's LLM (sampling/createMessage), in this call."""
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=50,
        related_request_id=ctx.request_id,
    )
    return f"llm: {result.content.text if isinstance(result.content, types.TextContent) else result.content}"


@server.tool()
async def ask_user(question: str, ctx: Context) -> str:
    """Ask the user for a name (form elicitation)."""
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    result = await ctx.session.elicit_form(question, schema, related_request_id=ctx.request_id)
    return f"user: {result.action} {result.content}"


@server.tool()
async def ask_url(url: str, ctx: Context) -> str:
    """Send the user to a URL (URL elicitation)."""
    result = await ctx.session.elicit_url("sign in there", url, "e-1", related_request_id=ctx.request_id)
    session = ctx.session

    async def signed_in() -> None:  # the user finishes at the URL later, outside this call
        await anyio.sleep(0.2)
        await session.send_elicit_complete("e-1")

    if result.action == "accept":
        session._task_group.start_soon(signed_in)
    return f"url: {result.action}"


@server.tool()
async def my_roots(ctx: Context) -> str:
    """The client's roots (roots/list; the SDK sends it without a related request)."""
    result = await ctx.session.list_roots()
    return "roots: " + ",".join(str(root.uri) for root in result.roots)


@server.tool()
async def slow(tag: str, seconds: float = 30.0) -> str:
    """Sleep; a cancelled call is remembered under its tag."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        cancelled.append(tag)
        raise
    return f"slept {tag}"


@server.tool()
def cancelled_calls() -> str:
    """The tags of the `slow` calls that were cancelled, in order."""
    return ",".join(cancelled)


@server._mcp_server.subscribe_resource()
async def subscribe(uri: AnyUrl) -> None:
    subscribed.add(str(uri))


@server._mcp_server.unsubscribe_resource()
async def unsubscribe(uri: AnyUrl) -> None:
    subscribed.discard(str(uri))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    else:
        server.run("stdio")
