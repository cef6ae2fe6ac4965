"""Messages to a client outside any call: a legacy session's GET stream, or a modern client's `subscriptions/listen`.

What travels here: `notifications/{tools,prompts,resources}/list_changed`, `notifications/resources/updated`, and
an upstream's log messages that belong to no call. A message goes only to the sessions it concerns (a resource
update to the sessions subscribed to that resource, a list change or log message to the sessions of the endpoints
that serve the pool, a log message only at or above the level the session set), each rendered for the session's
endpoint (namespaced URIs on tier and `/mcp` endpoints).

A legacy session's GET stream is resumable: each message gets an event id, the session's last `_HISTORY`
messages are kept (also while no stream is open), and a GET with `Last-Event-ID` replays what came after that id
before going on. A session has at most one stream: a new GET replaces the old one. Streams and their history live
in the gateway process that answered the GET: with several processes, route a session's requests to one process
(sticky sessions). A modern listen stream (MCP 2026-07-28 has no resumption) is registered under an id of its own,
with a `shape` that keeps only the notification types it asked for and tags them with its subscription id.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestra.gateway.wire import json_bytes

if TYPE_CHECKING:
    from orchestra.gateway.router import Endpoint

log = logging.getLogger("orchestra.gateway")

_QUEUE = 1000  # messages waiting for a slow client; beyond that the oldest are dropped
_HISTORY = 200  # messages kept per legacy session for a GET that resumes with Last-Event-ID
_KEEPALIVE = 25.0  # an SSE comment this often keeps proxies from closing an idle stream
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
Message = dict[str, Any]
Shape = Callable[[Message], Message | None]


@dataclass
class _Stream:
    endpoint: Endpoint
    shape: Shape | None = None
    queue: asyncio.Queue[tuple[str | None, Message] | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE))

    def put(self, item: tuple[str | None, Message] | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            log.warning("a client's notification stream is full; dropped its oldest message")
        self.queue.put_nowait(item)


@dataclass
class _History:
    """A legacy session's recent messages, by event id, and what it asked for."""

    endpoint: Endpoint
    log_level: str | None = None
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    kept: collections.deque[tuple[str, Message]] = field(default_factory=lambda: collections.deque(maxlen=_HISTORY))


class Push:
    """The open streams of this gateway process, and its legacy sessions' recent messages."""

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._histories: dict[str, _History] = {}

    @property
    def sessions(self) -> list[str]:
        """The legacy sessions with a stream or a history here (for the sweep that ends expired ones)."""
        return list(self._histories)

    async def stream(
        self,
        session_id: str,
        endpoint: Endpoint,
        *,
        shape: Shape | None = None,
        first: Message | None = None,
        last: Message | None = None,
        resume_after: str | None = None,
        log_level: str | None = None,
        resumable: bool = True,
    ) -> AsyncIterator[bytes]:
        """The SSE body of a session's GET stream (`resumable`, replaying what came after `resume_after`), or of a
        modern listen stream: `first` opens it, `last` ends it when the gateway closes it (not when the client
        goes). Ends when the session ends or another GET replaces it."""
        self._end_stream(session_id)
        stream = self._streams[session_id] = _Stream(endpoint, shape)
        if resumable:
            history = self._histories.setdefault(session_id, _History(endpoint))
            history.endpoint, history.log_level = endpoint, log_level
            for event_id, message in _after(history.kept, resume_after):
                stream.put((event_id, message))
        try:
            yield _event(None, first) if first else b": stream open\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(stream.queue.get(), _KEEPALIVE)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if item is None:
                    if last is not None:
                        yield _event(None, last)
                    return
                yield _event(*item)
        finally:
            if self._streams.get(session_id) is stream:
                del self._streams[session_id]

    def set_log_level(self, session_id: str, level: str) -> None:
        if session_id in self._histories:
            self._histories[session_id].log_level = level

    def close(self, session_id: str) -> None:
        """The session ended: its stream closes and its history goes."""
        self._histories.pop(session_id, None)
        self._end_stream(session_id)

    def _end_stream(self, session_id: str) -> None:
        stream = self._streams.pop(session_id, None)
        if stream is not None:
            stream.put(None)

    def send(self, session_id: str, render: Callable[[Endpoint], Message | None]) -> None:
        """Render a message for the session's endpoint and deliver it, when the session has a stream or a history
        here."""
        history = self._histories.get(session_id)
        stream = self._streams.get(session_id)
        endpoint = history.endpoint if history is not None else stream.endpoint if stream is not None else None
        if endpoint is not None and (message := render(endpoint)) is not None:
            self._deliver(session_id, message)

    def broadcast(self, reaches: Callable[[Endpoint], bool], message: Message) -> None:
        for session_id in {*self._streams, *self._histories}:
            self.send(session_id, lambda endpoint: message if reaches(endpoint) else None)

    def log(
        self, reaches: Callable[[Endpoint], bool], render: Callable[[Endpoint], Message], level: str,
        only: str | None = None,
    ) -> None:  # fmt: skip
        """A log message outside any call, to the legacy sessions (`only` that one) of the endpoints it `reaches`
        that asked for messages of its level (logging/setLevel); modern listen streams carry no log messages."""
        rank = LOG_LEVELS.index(level) if level in LOG_LEVELS else 0
        for session_id, history in list(self._histories.items()):
            if only is not None and session_id != only:
                continue
            wanted = history.log_level
            if wanted is not None and rank >= LOG_LEVELS.index(wanted) and reaches(history.endpoint):
                self._deliver(session_id, render(history.endpoint))

    def _deliver(self, session_id: str, message: Message) -> None:
        stream = self._streams.get(session_id)
        history = self._histories.get(session_id)
        event_id = None
        if history is not None:
            event_id = str(next(history.ids))
            history.kept.append((event_id, message))
        if stream is not None and (stream.shape is None or (message := stream.shape(message)) is not None):  # type: ignore[assignment]
            stream.put((event_id, message))


def _after(kept: collections.deque[tuple[str, Message]], resume_after: str | None) -> list[tuple[str, Message]]:
    """The kept messages after event id `resume_after`: none without one (a fresh stream starts now), all when
    that id is no longer kept (older than the history, or from another process)."""
    if not resume_after:
        return []
    ids = [event_id for event_id, _ in kept]
    return list(kept)[ids.index(resume_after) + 1 :] if resume_after in ids else list(kept)


def _event(event_id: str | None, message: Message) -> bytes:
    head = f"id: {event_id}\n".encode() if event_id is not None else b""
    return head + b"event: message\ndata: " + json_bytes(message) + b"\n\n"
