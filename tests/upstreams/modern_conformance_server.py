"""An MCP server speaking protocol revision 2026-07-28, for the official conformance suite's modern scenarios.

It implements the server scenarios that `mcp-conformance-next` lists for `--spec-version 2026-07-28`, written
from their descriptions with the high-level `MCPServer` of the mcp 2.x SDK: stateless requests carrying `_meta`
(`server/discover`, `subscriptions/listen`, the -32020/-32021/-32022 rejections and the `Mcp-*` header checks
are the SDK's), multi-round-trip tools and a prompt that answer `resultType: "input_required"` with
`inputRequests` and a sealed `requestState`, caching hints on every cacheable result, an `x-mcp-header`
parameter, and the tools, resources, prompts and completions the older scenarios also check.

mcp 2.x cannot share the main venv (langchain-mcp-adapters pins mcp<2), so this runs from `.venv-mcp2`
(`make setup`, pinned by requirements-mcp2.lock). The same endpoint still serves 2025-era clients: the SDK routes a
request by its `MCP-Protocol-Version` header, and handshake-era versions (or none) take the session path.

    .venv-mcp2/bin/python tests/upstreams/modern_conformance_server.py --http PORT   # 127.0.0.1:PORT/mcp
    .venv-mcp2/bin/python tests/upstreams/modern_conformance_server.py               # stdio
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

from mcp.server import CacheHint
from mcp.server.mcpserver import Context, MCPServer, Message, UserMessage
from mcp.server.mcpserver.exceptions import ToolError  # its text reaches the client; other exceptions' does not
from mcp.shared.exceptions import MCPError
from mcp_types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    CallToolResult,
    ClientCapabilities,
    Completion,
    CompletionArgument,
    CompletionContext,
    ContentBlock,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    InputResponse,
    ListRootsRequest,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingCapability,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import Field
from suite_content import PNG_BASE64, WAV_BASE64, serve_plain_scenarios  # this script's directory is on sys.path

JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Every cacheable result says how long it stays fresh (SEP-2549). The lists only change when a test tool says
# so, and nothing here depends on who asks, so they may be shared; a read is kept private.
_LISTS = CacheHint(ttl_ms=60_000, scope="public")
CACHE_HINTS: dict[Any, CacheHint] = {
    "server/discover": _LISTS,
    "tools/list": _LISTS,
    "prompts/list": _LISTS,
    "resources/list": _LISTS,
    "resources/templates/list": _LISTS,
    "resources/read": CacheHint(ttl_ms=5_000, scope="private"),
}

server: MCPServer[Any] = MCPServer(
    "orchestra-modern-conformance",
    version="1.0.0",
    instructions="Conformance test server of Orchestra for MCP 2026-07-28: every server feature the suite checks.",
    cache_hints=CACHE_HINTS,
    log_level="WARNING",
)


# --- input_required helpers ------------------------------------------------------------------------------------


def _ask(message: str, properties: dict[str, Any], required: list[str]) -> ElicitRequest:
    """A form elicitation, embedded in an InputRequiredResult rather than sent as a request of its own."""
    schema = {"type": "object", "properties": properties, "required": required}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def _sample(text: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def _answer(ctx: Context, key: str, kind: type[InputResponse]) -> Any:
    """The client's answer to input request `key`, or None when it is missing or of the wrong kind (the caller
    then asks again rather than failing: a retry may legitimately carry stale or extra answers)."""
    answer = (ctx.input_responses or {}).get(key)
    if not isinstance(answer, kind):
        return None
    if isinstance(answer, ElicitResult) and answer.action == "accept" and not answer.content:
        return None
    return answer


def _accepted(answer: ElicitResult, field: str) -> str:
    """What the user entered in `field`, or how they dismissed the form."""
    if answer.action != "accept" or answer.content is None:
        return f"({answer.action})"
    return str(answer.content.get(field))


def _sampled_text(answer: CreateMessageResult) -> str:
    return answer.content.text if isinstance(answer.content, TextContent) else f"({answer.content.type})"


def _input_required(requests: dict[str, InputRequest], state: str | None = None) -> InputRequiredResult:
    # The SDK seals `requestState` (AES-GCM, bound to this method, tool and arguments) on the way out and
    # verifies it on the way in, so a tampered or replayed state is refused before the tool runs.
    return InputRequiredResult(input_requests=requests, request_state=state)


def _text(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)])


# --- tools: content --------------------------------------------------------------------------------------------
# tools/list keeps registration order; the header scenarios call the first tool with no arguments.


@server.tool()
def test_simple_text() -> str:
    """Returns one text block."""
    return "This is a simple text response for testing."


@server.tool()
def test_image_content() -> ImageContent:
    """Returns a 1x1 red PNG image."""
    return ImageContent(data=PNG_BASE64, mime_type="image/png")


@server.tool()
def test_audio_content() -> AudioContent:
    """Returns a short silent WAV clip."""
    return AudioContent(data=WAV_BASE64, mime_type="audio/wav")


@server.tool()
def test_embedded_resource() -> EmbeddedResource:
    """Returns an embedded text resource."""
    return EmbeddedResource(
        resource=TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
        )
    )


@server.tool()
def test_multiple_content_types() -> list[ContentBlock]:
    """Returns text, an image and an embedded resource in one result."""
    return [
        TextContent(text="Multiple content types test:"),
        ImageContent(data=PNG_BASE64, mime_type="image/png"),
        EmbeddedResource(
            resource=TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text=json.dumps({"test": "data", "value": 123}),
            )
        ),
    ]


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
    raise ToolError("This tool intentionally returns an error for testing")


@server.tool()
def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
    """Tool with JSON Schema 2020-12 features"""
    return f"name={name}, address={json.dumps(address)}"


# The listed input schema keeps 2020-12 keywords verbatim: $schema, $defs with an $anchor, $ref, allOf/anyOf,
# if/then/else and additionalProperties (SEP-1613, SEP-2106). Calls still validate against the signature above.
server._tool_manager.get_tool("json_schema_2020_12_tool").parameters = {  # type: ignore[union-attr]
    "$schema": JSON_SCHEMA_2020_12,
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@server.tool()
def test_custom_header(
    region: Annotated[str, Field(description="Echoed back", json_schema_extra={"x-mcp-header": "Region"})],
) -> str:
    """Echoes `region`, which clients also send as the `Mcp-Param-Region` header (SEP-2243); the SDK rejects a
    request whose header is missing, malformed or disagrees with the body."""
    return f"region={region}"


# --- tools: the stateless lifecycle (server-stateless) ---------------------------------------------------------


@server.tool()
def test_missing_capability(ctx: Context) -> str:
    """Needs the client's sampling capability, and says so with -32021 when it is not declared."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        required = ClientCapabilities(sampling=SamplingCapability())
        raise MCPError(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            "This tool needs the client's sampling capability",
            {"requiredCapabilities": required.model_dump(by_alias=True, mode="json", exclude_none=True)},
        )
    return "The client declared sampling."


@server.tool()
def test_streaming_elicitation() -> InputRequiredResult:
    """Asks a question the 2026-07-28 way: an input_required result on the response stream, never a request."""
    return _input_required({"answer": _ask("Anything to add?", {"answer": {"type": "string"}}, [])})


@server.tool()
async def test_logging_tool(ctx: Context) -> str:
    """Logs at info level; the SDK drops the notifications unless the request's `_meta` set a logLevel."""
    await ctx.log("info", "test_logging_tool started", logger_name="conformance")
    await ctx.log("info", "test_logging_tool finished", logger_name="conformance")
    return "Logged twice"


@server.tool()
async def test_trigger_tool_change(ctx: Context) -> str:
    """Announces a tools list change to every subscriptions/listen stream that asked for one."""
    await ctx.notify_tools_changed()
    return "tools/list_changed published"


@server.tool()
async def test_trigger_prompt_change(ctx: Context) -> str:
    """Announces a prompts list change to every subscriptions/listen stream that asked for one."""
    await ctx.notify_prompts_changed()
    return "prompts/list_changed published"


# --- tools: multi-round-trip requests (SEP-2322) ---------------------------------------------------------------


@server.tool()
def test_input_required_result_elicitation(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks for the user's name, then greets them. Needs no state: the answer alone completes it."""
    answer = _answer(ctx, "user_name", ElicitResult)
    if answer is None:
        return _input_required(
            {"user_name": _ask("What is your name?", {"name": {"type": "string"}}, ["name"])},
        )
    return _text(f"Hello, {_accepted(answer, 'name')}!")


@server.tool()
def test_input_required_result_sampling(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks the client's LLM a question, then returns its answer."""
    answer = _answer(ctx, "capital_question", CreateMessageResult)
    if answer is None:
        return _input_required({"capital_question": _sample("What is the capital of France?", 100)})
    return _text(f"LLM response: {_sampled_text(answer)}")


@server.tool()
def test_input_required_result_list_roots(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks for the client's roots, then lists them."""
    answer = _answer(ctx, "client_roots", ListRootsResult)
    if answer is None:
        return _input_required({"client_roots": ListRootsRequest()})
    return _text("Roots: " + ", ".join(str(root.uri) for root in answer.roots))


@server.tool()
def test_input_required_result_request_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks for a confirmation with a requestState, and completes only when that state comes back intact."""
    answer = _answer(ctx, "confirm", ElicitResult)
    if answer is None or ctx.request_state != "awaiting-confirmation":
        return _input_required(
            {"confirm": _ask("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])},
            state="awaiting-confirmation",
        )
    return _text(f"state-ok: confirmed={_accepted(answer, 'ok')}")


@server.tool()
def test_input_required_result_tampered_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Like the request-state tool; a tampered requestState never reaches it (the SDK answers -32602)."""
    answer = _answer(ctx, "confirm", ElicitResult)
    if answer is None or ctx.request_state != "awaiting-confirmation":
        return _input_required(
            {"confirm": _ask("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])},
            state="awaiting-confirmation",
        )
    return _text("state-ok")


@server.tool()
def test_input_required_result_multiple_inputs(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks for an elicitation, a sampling and the roots in one round, and completes once all three arrive."""
    name = _answer(ctx, "user_name", ElicitResult)
    greeting = _answer(ctx, "greeting", CreateMessageResult)
    roots = _answer(ctx, "client_roots", ListRootsResult)
    if name is None or greeting is None or roots is None:
        return _input_required(
            {
                "user_name": _ask("What is your name?", {"name": {"type": "string"}}, ["name"]),
                "greeting": _sample("Generate a greeting", 50),
                "client_roots": ListRootsRequest(),
            },
            state="awaiting-all-three",
        )
    return _text(f"{_sampled_text(greeting)} {_accepted(name, 'name')} ({len(roots.roots)} root(s))")


@server.tool()
def test_input_required_result_multi_round(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Two questions in two rounds; the requestState carries the first answer into the second round."""
    state = ctx.request_state or ""
    if state.startswith("step2:"):
        color = _answer(ctx, "step2", ElicitResult)
        if color is not None:
            return _text(f"{state.removeprefix('step2:')} likes {_accepted(color, 'color')}")
        name = state.removeprefix("step2:")
    else:
        answer = _answer(ctx, "step1", ElicitResult)
        if answer is None:
            return _input_required(
                {"step1": _ask("Step 1: What is your name?", {"name": {"type": "string"}}, ["name"])},
                state="step1",
            )
        name = _accepted(answer, "name")
    return _input_required(
        {"step2": _ask("Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"])},
        state=f"step2:{name}",
    )


@server.tool()
def test_input_required_result_capabilities(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks only through the capabilities the client declared in this request's `_meta`."""
    capabilities = ctx.client_capabilities or ClientCapabilities()
    wanted: dict[str, tuple[type[InputResponse], InputRequest]] = {}
    if capabilities.sampling is not None:
        wanted["greeting"] = (CreateMessageResult, _sample("Generate a greeting", 50))
    if capabilities.elicitation is not None:
        wanted["user_name"] = (ElicitResult, _ask("What is your name?", {"name": {"type": "string"}}, ["name"]))
    if capabilities.roots is not None:
        wanted["client_roots"] = (ListRootsResult, ListRootsRequest())
    missing = {key: request for key, (kind, request) in wanted.items() if _answer(ctx, key, kind) is None}
    if missing:
        return _input_required(missing)
    return _text(f"Answered: {', '.join(sorted(wanted)) or 'nothing to ask'}")


# --- resources -------------------------------------------------------------------------------------------------


serve_plain_scenarios(server)  # static text and binary, watched, templated (suite_content.py)


# --- prompts ---------------------------------------------------------------------------------------------------


# test_simple_prompt and test_prompt_with_arguments: registered by serve_plain_scenarios above


@server.prompt()
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # the suite's argument name
) -> list[Message]:
    """A prompt that embeds a resource."""
    return [
        UserMessage(
            EmbeddedResource(
                resource=TextResourceContents(
                    uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                )
            )
        ),
        UserMessage("Please process the embedded resource above."),
    ]


@server.prompt()
def test_prompt_with_image() -> list[Message]:
    """A prompt with an image."""
    return [
        UserMessage(ImageContent(data=PNG_BASE64, mime_type="image/png")),
        UserMessage("Please analyze the image above."),
    ]


@server.prompt()
def test_input_required_result_prompt(ctx: Context) -> list[Message] | InputRequiredResult:
    """A prompt that first asks the user what context to use (input_required outside tools/call)."""
    answer = _answer(ctx, "user_context", ElicitResult)
    if answer is None:
        return _input_required(
            {"user_context": _ask("What context should the prompt use?", {"context": {"type": "string"}}, ["context"])}
        )
    return [UserMessage(f"Answer using this context: {_accepted(answer, 'context')}")]


# --- completions -----------------------------------------------------------------------------------------------

_CANDIDATES = {
    "arg1": ["paris", "park", "party", "test", "testing"],
    "arg2": ["world", "word", "work"],
    "id": ["123", "456", "789"],
    "resourceUri": ["test://static-text", "test://static-binary", "test://watched-resource"],
}


@server.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument, context: CompletionContext | None
) -> Completion:
    values = [value for value in _CANDIDATES.get(argument.name, []) if value.startswith(argument.value)]
    return Completion(values=values, total=len(values), has_more=False)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
