"""JSON for the wire: graph state, messages, interrupts and errors encoded the way the LangGraph API encodes them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from langgraph.errors import GraphBubbleUp, GraphRecursionError, InvalidUpdateError
from langgraph.types import Interrupt, Send
from starlette.responses import Response

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS

# Errors whose message is shown to API clients, as the LangGraph API does; any other error is reported by its
# type only, since its message may carry internals (paths, hosts) the server's logs keep instead.
_SHOWN_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, KeyError, AttributeError, RuntimeError, RecursionError, TimeoutError,
    InvalidUpdateError, GraphRecursionError, GraphBubbleUp, PermissionError, LookupError,
)  # fmt: skip


def interrupt_json(interrupt: Interrupt) -> dict[str, Any]:
    """`{"value", "id"}` as the LangGraph API shows an interrupt (plus `response_schema` when the graph set one)."""
    found: dict[str, Any] = {"value": interrupt.value, "id": interrupt.id}
    if getattr(interrupt, "response_schema", None) is not None:
        found["response_schema"] = interrupt.response_schema
    return found


def error_json(error: BaseException) -> dict[str, str]:
    message = str(error) if isinstance(error, _SHOWN_ERRORS) else "An internal error occurred"
    return {"error": type(error).__name__, "message": message}


def _default(value: Any) -> Any:
    if isinstance(value, Interrupt):
        return interrupt_json(value)
    if isinstance(value, Send):
        return {"node": value.node, "args": value.arg}
    if isinstance(value, BaseException):
        return error_json(value)
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, uuid.UUID | Path):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray):
        return value.decode(errors="replace")
    return repr(value)  # never fail a whole stream on one odd value


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def normalized(value: Any) -> Any:
    """`value` as plain JSON types (dicts, lists, strings, numbers), e.g. before it is stored in a record."""
    return orjson.loads(dumps(value))


class JsonReply(Response):
    """A JSON response encoded with `dumps` (orjson), bypassing FastAPI's slower generic encoder."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)
