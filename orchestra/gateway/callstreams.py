"""A legacy session's `tools/call` SSE streams, resumable (SEP-1699, MCP 2025-11-25's SSE polling).

A call's stream opens with a priming event (an event id, no data, and a `retry` delay), and each message after it
has an id of the form `<stream>:<n>`. The call runs apart from the HTTP response that carries it: when the client
drops the connection, the call goes on (MCP: a disconnection is not a cancellation; `notifications/cancelled` is)
and its messages are kept, and a GET of the same session with `Last-Event-ID` picks the stream up after that event,
to the reply. A finished stream is kept `KEEP_FINISHED` seconds for a late reconnection; a call nobody has read
for `ABANDONED_AFTER` seconds is cancelled, as nobody is left to want it. Streams live in the gateway process that
runs the call: with several processes, route a session to one (sticky sessions), as for its GET stream.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestra.gateway.wire import sse_event

RETRY_MS = 1000  # how long a client waits before it reconnects a dropped call stream
KEEP_FINISHED = 60.0  # seconds a finished stream stays for a late reconnection
ABANDONED_AFTER = 60.0  # seconds without a reader after which a running call is cancelled
MAX_EVENTS = 10_000  # messages kept per stream; beyond, a reconnection can no longer replay from the start


@dataclass
class CallStream:
    id: str
    session: str
    events: list[bytes] = field(default_factory=list)  # the SSE bytes of message n at index n - 1
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False
    readers: int = 0
    left_at: float = 0.0  # when its last reader went
    on_abandon: Callable[[], None] | None = None

    def add(self, message: dict[str, Any]) -> None:
        if len(self.events) < MAX_EVENTS or message.get("result") is not None or "error" in message:
            self.events.append(f"id: {self.id}:{len(self.events) + 1}\n".encode() + sse_event(message))
        self.changed.set()


class CallStreams:
    """This process's resumable call streams."""

    def __init__(self) -> None:
        self._streams: dict[str, CallStream] = {}
        self._prefix = f"c{secrets.token_hex(3)}"
        self._numbers = itertools.count(1)

    def open(self, session_id: str, on_abandon: Callable[[], None]) -> CallStream:
        stream = CallStream(f"{self._prefix}-{next(self._numbers)}", session_id, on_abandon=on_abandon)
        self._streams[stream.id] = stream
        return stream

    def finish(self, stream: CallStream, reply: dict[str, Any]) -> None:
        stream.add(reply)
        stream.finished = True
        asyncio.get_running_loop().call_later(KEEP_FINISHED, self._streams.pop, stream.id, None)

    def find(self, last_event_id: str, session_id: str) -> tuple[CallStream, int] | None:
        """The session's stream that `last_event_id` names, and the number of the last event seen there."""
        stream_id, _, number = last_event_id.strip().partition(":")
        stream = self._streams.get(stream_id)
        if stream is None or stream.session != session_id or not number.isdigit():
            return None
        return stream, int(number)

    def owns(self, last_event_id: str) -> bool:
        """Whether an event id is a call stream's (of any process), not a GET stream's."""
        return last_event_id.strip().startswith("c") and ":" in last_event_id

    async def read(self, stream: CallStream, after: int | None = None) -> AsyncIterator[bytes]:
        """The stream from event `after` on (None: a new stream, opened by its priming event), to the reply."""
        if after is None:
            yield f"id: {stream.id}:0\nretry: {RETRY_MS}\ndata: \n\n".encode()
            after = 0
        stream.readers += 1
        try:
            while True:
                stream.changed.clear()
                while after < len(stream.events):
                    after += 1
                    yield stream.events[after - 1]
                if stream.finished:
                    return
                await stream.changed.wait()
        finally:
            stream.readers -= 1
            if not stream.readers and not stream.finished:
                stream.left_at = time.monotonic()
                asyncio.get_running_loop().call_later(ABANDONED_AFTER, self._abandon_if_unread, stream)

    def _abandon_if_unread(self, stream: CallStream) -> None:
        unread_for = time.monotonic() - stream.left_at
        if not stream.readers and not stream.finished and unread_for >= ABANDONED_AFTER and stream.on_abandon:
            stream.on_abandon()

    def close(self) -> None:
        for stream in self._streams.values():
            if not stream.finished and stream.on_abandon is not None:
                stream.on_abandon()
        self._streams.clear()
