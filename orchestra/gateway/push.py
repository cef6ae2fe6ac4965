"""Messages to a client outside any call: a legacy session's GET stream, or a modern client's `subscriptions/listen`.

What travels here: `notifications/{tools,prompts,resources}/list_changed` and `notifications/resources/updated`.
A message goes only to the streams of the sessions it concerns (a resource update to the sessions subscribed to
that resource, a list change to the sessions of the endpoints that serve the pool), each rendered for the
session's endpoint (namespaced URIs on tier and `/mcp` endpoints). A session has at most one stream: a new GET
replaces the old one. A session without an open stream misses these messages, as MCP allows. Streams live in the
gateway process that answered the GET: with several processes, route a session's requests to one process
(sticky sessions) to receive its resource updates. A modern listen stream is registered here under an id of its
own, with a `shape` that keeps only the notification types it asked for and tags them with its subscription id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestra.gateway.wire import json_bytes

if TYPE_CHECKING:
    from orchestra.gateway.router import Endpoint

log = logging.getLogger("orchestra.gateway")

_QUEUE = 1000  # messages waiting for a slow client; beyond that the oldest are dropped
_KEEPALIVE = 25.0  # an SSE comment this often keeps proxies from closing an idle stream
Message = dict[str, Any]
Shape = Callable[[Message], Message | None]


@dataclass
class _Stream:
    endpoint: Endpoint
    shape: Shape | None = None
    queue: asyncio.Queue[Message | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE))

    def put(self, message: Message | None) -> None:
        if message is not None and self.shape is not None and (message := self.shape(message)) is None:
            return
        if self.queue.full():
            self.queue.get_nowait()
            log.warning("a client's notification stream is full; dropped its oldest message")
        self.queue.put_nowait(message)


class Push:
    """The open GET streams of this gateway process, by client session."""

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._streams

    @property
    def sessions(self) -> list[str]:
        return list(self._streams)

    async def stream(
        self,
        session_id: str,
        endpoint: Endpoint,
        *,
        shape: Shape | None = None,
        first: Message | None = None,
        last: Message | None = None,
    ) -> AsyncIterator[bytes]:
        """The SSE body of a session's GET stream (or a listen stream): `first` opens it, `last` ends it when the
        gateway closes it (not when the client goes); ends when the session ends or another GET replaces it."""
        self.close(session_id)
        stream = self._streams[session_id] = _Stream(endpoint, shape)
        try:
            yield b"event: message\ndata: " + json_bytes(first) + b"\n\n" if first else b": stream open\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(stream.queue.get(), _KEEPALIVE)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if message is None:
                    if last is not None:
                        yield b"event: message\ndata: " + json_bytes(last) + b"\n\n"
                    return
                yield b"event: message\ndata: " + json_bytes(message) + b"\n\n"
        finally:
            if self._streams.get(session_id) is stream:
                del self._streams[session_id]

    def close(self, session_id: str) -> None:
        stream = self._streams.pop(session_id, None)
        if stream is not None:
            stream.put(None)

    def send(self, session_id: str, render: Callable[[Endpoint], Message | None]) -> None:
        """Render a message for the session's endpoint and queue it, when the session has a stream here."""
        stream = self._streams.get(session_id)
        if stream is not None and (message := render(stream.endpoint)) is not None:
            stream.put(message)

    def broadcast(self, reaches: Callable[[Endpoint], bool], message: Message) -> None:
        for stream in list(self._streams.values()):
            if reaches(stream.endpoint):
                stream.put(message)
