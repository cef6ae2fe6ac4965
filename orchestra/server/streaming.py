"""From LangGraph's `astream` chunks to the LangGraph API's SSE events, mode by mode.

`values`, `updates`, `custom`, `debug`, `tasks` and `checkpoints` pass through; `messages-tuple` becomes a
`messages` event of `[message, metadata]`; `messages` becomes `messages/metadata` once per message id, then
`messages/partial` (accumulated chunks) or `messages/complete`. With `stream_subgraphs`, a subgraph's event is
named `mode|namespace`, as the LangGraph API names it.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

StreamMode = Literal["values", "updates", "messages", "messages-tuple", "custom", "debug", "tasks", "checkpoints"]
STREAM_MODES: tuple[str, ...] = StreamMode.__args__  # type: ignore[attr-defined]


def graph_modes(requested: list[str]) -> list[str]:
    """What to ask `astream` for: both message modes come from LangGraph's `messages`."""
    modes = {("messages" if mode == "messages-tuple" else mode) for mode in requested}
    return sorted(modes)


class ChunkTranslator:
    """Turns one run's `(namespace, mode, chunk)` triples into `(event name, payload)` pairs."""

    def __init__(self, requested: list[str]) -> None:
        self._requested = set(requested)
        self._tuples = "messages-tuple" in self._requested
        self._messages: dict[str, BaseMessage] = {}

    def translate(self, namespace: tuple[str, ...], mode: str, chunk: Any) -> list[tuple[str, Any]]:
        suffix = f"|{'|'.join(namespace)}" if namespace else ""
        if mode == "messages":
            if self._tuples:
                return [(f"messages{suffix}", list(chunk))]
            return self._message_events(chunk)
        if mode in self._requested:
            return [(f"{mode}{suffix}", chunk)]
        return []

    def _message_events(self, chunk: tuple[Any, dict[str, Any]]) -> list[tuple[str, Any]]:
        message, metadata = _as_message(chunk[0]), chunk[1]
        events: list[tuple[str, Any]] = []
        key = message.id or ""
        if key in self._messages:
            # Chunks add up; a complete message replaces whatever chunks came before it.
            known = self._messages[key]
            both_chunks = isinstance(known, BaseMessageChunk) and isinstance(message, BaseMessageChunk)
            self._messages[key] = known + message if both_chunks else message  # type: ignore[operator]
        else:
            self._messages[key] = message
            events.append(("messages/metadata", {key: {"metadata": metadata}}))
        so_far = self._messages[key]
        if isinstance(message, BaseMessageChunk):
            events.append(("messages/partial", [so_far]))
        else:
            events.append(("messages/complete", [message_chunk_to_message(so_far)]))  # type: ignore[arg-type]
        return events


def _as_message(found: Any) -> BaseMessage:
    if isinstance(found, BaseMessage):
        return found
    kind = f"{found.get('type', '')} {found.get('role', '')}".lower()
    if "chunk" in kind:
        if "ai" in kind:
            return AIMessageChunk(**found)
        if "tool" in kind:
            return ToolMessageChunk(**found)
        return BaseMessageChunk(**found)
    return convert_to_messages([found])[0]
