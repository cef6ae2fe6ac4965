"""MCP 2026-07-28, the "modern" revision, as the gateway's own models: its vocabulary and its request checks.

That revision has no sessions and no `initialize`: every request carries its protocol version and the client's
capabilities in `_meta`, and an HTTP request mirrors its method and name in headers that must match the body.
These models are ours, not the `mcp` SDK's: the agents pin `mcp` 1.x (langchain-mcp-adapters needs it), which
knows only the initialize-based revisions, and the gateway's modern path must not move when that pin does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MODERN_VERSIONS = ("2026-07-28",)
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
REQUEST_META_KEYS = frozenset({META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL})

# Error codes of the MCP-reserved range (-32020 to -32099) and JSON-RPC's own.
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
# What each of those answers over HTTP (the transport binding says 400 for the first three, 404 for -32601).
HTTP_STATUS = {HEADER_MISMATCH: 400, MISSING_CLIENT_CAPABILITY: 400, UNSUPPORTED_PROTOCOL_VERSION: 400,
               METHOD_NOT_FOUND: 404}  # fmt: skip

NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}  # Mcp-Name's source
CACHEABLE_METHODS = frozenset({
    "server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read",
})  # fmt: skip
INPUT_REQUIRED_METHODS = frozenset(NAMED_METHODS)  # the requests a server may answer with `input_required`
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_SENTINEL = re.compile(r"^=\?base64\?(?P<value>.*)\?=$", re.DOTALL)
_HEADER_SAFE = re.compile(r"^[\x20-\x7e\t]*$")
_MIRRORED = frozenset({"mcp-protocol-version", "mcp-method", "mcp-name"})


class ModernError(Exception):
    """A modern request refused: its JSON-RPC error, and the HTTP status the transport binding gives it."""

    def __init__(self, code: int, message: str, data: Any = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status if status is not None else HTTP_STATUS.get(code, 200)

    def error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **({"data": self.data} if self.data is not None else {})}


class RequestMeta(BaseModel):
    """The per-request `_meta` of a modern request."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    protocol_version: str = Field(alias=META_PROTOCOL_VERSION, min_length=1, max_length=64)
    client_capabilities: dict[str, Any] = Field(alias=META_CLIENT_CAPABILITIES)
    client_info: dict[str, Any] | None = Field(None, alias=META_CLIENT_INFO)
    log_level: Literal[LOG_LEVELS] | None = Field(None, alias=META_LOG_LEVEL)  # type: ignore[valid-type]


class ListenFilter(BaseModel):
    """What a `subscriptions/listen` stream is to carry."""

    model_config = ConfigDict(extra="ignore")

    toolsListChanged: bool = False
    promptsListChanged: bool = False
    resourcesListChanged: bool = False
    resourceSubscriptions: list[str] = Field(default_factory=list, max_length=1000)


def is_modern(headers: Mapping[str, str], params: Any) -> bool:
    """Whether a request without a session speaks the modern revision: its version header names one, or its
    `_meta` carries the per-request fields (a legacy request never does)."""
    if headers.get("mcp-protocol-version", "").strip() in MODERN_VERSIONS:
        return True
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and (META_PROTOCOL_VERSION in meta or META_CLIENT_CAPABILITIES in meta)


def request_meta(params: dict[str, Any]) -> RequestMeta:
    """The request's `_meta`, validated; -32602 (HTTP 400) naming what is missing or wrong."""
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        raise ModernError(INVALID_PARAMS, f"params._meta is required in MCP {MODERN_VERSIONS[0]}: it carries "
                          f"{META_PROTOCOL_VERSION} and {META_CLIENT_CAPABILITIES}", status=400)  # fmt: skip
    try:
        return RequestMeta.model_validate(meta)
    except ValidationError as exc:
        detail = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in detail["loc"])
        raise ModernError(INVALID_PARAMS, f"params._meta[{where!r}]: {detail['msg']}", status=400) from None


def decode_header(value: str, header: str) -> str:
    """A mirrored header's value: surrounding whitespace ignored, the `=?base64?...?=` form decoded."""
    value = value.strip(" \t")
    if not _HEADER_SAFE.match(value):
        raise ModernError(HEADER_MISMATCH, f"{header} holds characters a header value may not", status=400)
    sentinel = _SENTINEL.match(value)
    if sentinel is None:
        return value
    try:
        return base64.b64decode(sentinel["value"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ModernError(HEADER_MISMATCH, f"{header} is not valid =?base64?...?= (bad Base64 or not UTF-8)",
                          status=400) from None  # fmt: skip


def check_headers(headers: Mapping[str, str], method: str, params: dict[str, Any], meta: RequestMeta) -> None:
    """The transport's header validation: MCP-Protocol-Version, Mcp-Method and Mcp-Name present and equal to the
    body's values (-32020, HTTP 400 otherwise). Header names are case-insensitive, values are not."""
    version = headers.get("mcp-protocol-version")
    if version is None:
        raise _mismatch("the MCP-Protocol-Version header is required")
    if version.strip() != meta.protocol_version:
        raise _mismatch(f"MCP-Protocol-Version {version.strip()[:64]!r} does not match _meta's "
                        f"{meta.protocol_version[:64]!r}")  # fmt: skip
    sent_method = headers.get("mcp-method")
    if sent_method is None:
        raise _mismatch("the Mcp-Method header is required")
    if decode_header(sent_method, "Mcp-Method") != method:
        raise _mismatch(f"Mcp-Method {sent_method.strip()[:100]!r} does not match the body's method {method[:100]!r}")
    field = NAMED_METHODS.get(method)
    if field is None:
        return
    sent_name = headers.get("mcp-name")
    if sent_name is None:
        raise _mismatch(f"the Mcp-Name header is required for {method}")
    if decode_header(sent_name, "Mcp-Name") != params.get(field):
        raise _mismatch(f"Mcp-Name does not match the body's params.{field}")


def check_single_headers(header_names: list[str]) -> None:
    """Each mirrored header at most once: with two, a proxy and the gateway could each read a different one."""
    mirrored = [n for n in (name.lower() for name in header_names) if n in _MIRRORED or n.startswith("mcp-param-")]
    twice = sorted({name for name in mirrored if mirrored.count(name) > 1})
    if twice:
        raise _mismatch(f"{', '.join(twice)} sent more than once")


def header_parameters(schema: Any) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(`x-mcp-header` name, property path) for each property of a tool's input schema that asks to be mirrored
    into an `Mcp-Param-<name>` header."""

    def walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
        properties = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(properties, dict):
            return
        for key, sub in properties.items():
            if isinstance(sub, dict):
                if isinstance(sub.get("x-mcp-header"), str):
                    yield sub["x-mcp-header"], (*path, key)
                yield from walk(sub, (*path, key))

    yield from walk(schema, ())


def check_parameter_headers(headers: Mapping[str, str], schema: Any, arguments: Any) -> None:
    """`Mcp-Param-<name>` headers against the arguments they mirror: present exactly when the argument has a
    value, and equal to it (numbers compared as numbers)."""
    for name, path in header_parameters(schema):
        value = _at(arguments, path)
        sent = headers.get(f"mcp-param-{name.lower()}")
        if value is None:
            continue
        if sent is None:
            raise _mismatch(f"the Mcp-Param-{name} header is required: it mirrors argument {'.'.join(path)!r}")
        if not _same(decode_header(sent, f"Mcp-Param-{name}"), value):
            raise _mismatch(f"Mcp-Param-{name} does not match argument {'.'.join(path)!r}")


def encode_header(value: Any) -> str:
    """A value as a mirrored header carries it: plain when header-safe, else `=?base64?...?=`."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    plain = text.isascii() and text == text.strip() and _HEADER_SAFE.match(text) and "\t" not in text
    if plain and not _SENTINEL.match(text):
        return text
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


def parameter_headers(schema: Any, arguments: Any) -> dict[str, str]:
    """The `Mcp-Param-*` headers a client sends with a call of a tool with this input schema."""
    found = ((name, _at(arguments, path)) for name, path in header_parameters(schema))
    return {f"Mcp-Param-{name}": encode_header(value) for name, value in found if value is not None}


def caching(result: dict[str, Any], ttl_ms: int, scope: str) -> dict[str, Any]:
    """A cacheable (complete) result with its caching hints."""
    return {**result, "ttlMs": ttl_ms, "cacheScope": scope, "resultType": result.get("resultType", "complete")}


def _at(arguments: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(arguments, dict):
            return None
        arguments = arguments.get(key)
    return arguments


def _same(sent: str, value: Any) -> bool:
    if isinstance(value, bool):
        return sent == ("true" if value else "false")
    if isinstance(value, int | float):
        try:  # exact decimal comparison: "42.0" matches 42, and no value is too large to compare
            return Decimal(sent.strip()) == Decimal(str(value))
        except InvalidOperation:
            return False
    return isinstance(value, str) and sent == value


def _mismatch(message: str) -> ModernError:
    return ModernError(HEADER_MISMATCH, f"Header mismatch: {message}", status=400)
