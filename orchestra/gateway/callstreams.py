"""A legacy session's `tools/call` SSE streams, resumable (SEP-1699, MCP 2025-11-25's SSE polling).

Each message of a call's stream has an id of the form `<stream>:<n>`; for a session of 2025-11-25 or later the
stream opens with a priming event (the id `<stream>:0`, no data, and a `retry` delay), which older clients would
not expect. The call runs apart from the HTTP response that carries it: when the client drops the connection, the
call goes on (MCP: a disconnection is not a cancellation; `notifications/cancelled` is) and its messages are kept,
and a GET of the same session with `Last-Event-ID` picks the stream up after that event, to the reply.

What is kept is bounded. For a reconnection a stream keeps its latest `MAX_REPLAY_BYTES` of messages, plus what a
reader still connected has yet to read, up to `MAX_STREAM_BYTES`: a reader that falls further behind (it stopped
reading) has its response ended, and reconnects from the oldest message kept, as does any reconnection that comes
back after more than was kept; the reply is always kept. A finished stream waits `KEEP_FINISHED` seconds for a late
reconnection (its reply may have been lost with the connection that carried it), within `MAX_FINISHED_BYTES` per
process and `MAX_FINISHED_BYTES_PER_SESSION` per session (the oldest go first, a session's own before others'). A
call nobody has read for `ABANDONED_AFTER` seconds is cancelled, as nobody is left to want it. Streams live in the
gateway process that runs the call: with several processes, route a session to one (sticky sessions), as for its
GET stream.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestra.gateway.wire import sse_event

RETRY_MS = 1000  # how long a client waits before it reconnects a dropped call stream
KEEP_FINISHED = 60.0  # seconds an unread reply stays for a late reconnection
ABANDONED_AFTER = 60.0  # seconds without a reader after which a running call is cancelled
MAX_REPLAY_BYTES = 4 * 2**20  # messages a stream keeps for a reconnection, beyond what its readers have yet to read
MAX_STREAM_BYTES = 16 * 2**20  # ... and at most, whatever its readers have yet to read
MAX_FINISHED_BYTES = 64 * 2**20  # finished streams this process keeps, all together
MAX_FINISHED_BYTES_PER_SESSION = 16 * 2**20  # ... and of one session


class StreamGone(LookupError):
    """A `Last-Event-ID` that no stream here can resume from; the message says why."""


@dataclass(eq=False)
class CallStream:
    id: str
    session: str
    events: deque[bytes] = field(default_factory=deque)  # messages first .. sent, in order
    first: int = 1  # the number of the oldest message kept
    sent: int = 0  # the number of the latest message
    kept_bytes: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False
    positions: dict[int, int] = field(default_factory=dict)  # reader -> number of the last message it was given
    left_at: float = 0.0  # when its last reader went
    on_abandon: Callable[[], None] | None = None

    def add(self, message: dict[str, Any]) -> None:
        self.sent += 1
        event = f"id: {self.id}:{self.sent}\n".encode() + sse_event(message)
        self.events.append(event)
        self.kept_bytes += len(event)
        self._trim()
        self.changed.set()

    def _trim(self) -> None:
        """Drop the oldest messages beyond the replay budget that every connected reader already has, and beyond
        the stream's cap whoever has yet to read them."""
        needed_from = min(self.positions.values(), default=self.sent) + 1
        while len(self.events) > 1 and (
            (self.kept_bytes > MAX_REPLAY_BYTES and self.first < needed_from) or self.kept_bytes > MAX_STREAM_BYTES
        ):
            self.kept_bytes -= len(self.events.popleft())
            self.first += 1


class CallStreams:
    """This process's resumable call streams."""

    def __init__(self) -> None:
        self._streams: dict[str, CallStream] = {}
        self._finished: OrderedDict[str, CallStream] = OrderedDict()  # oldest first
        self._finished_bytes = 0
        self._session_bytes: dict[str, int] = {}
        self._prefix = f"c{secrets.token_hex(3)}"
        self._numbers = itertools.count(1)
        self._readers = itertools.count(1)

    def open(self, session_id: str, on_abandon: Callable[[], None]) -> CallStream:
        stream = CallStream(f"{self._prefix}-{next(self._numbers)}", session_id, on_abandon=on_abandon)
        self._streams[stream.id] = stream
        return stream

    def finish(self, stream: CallStream, reply: dict[str, Any]) -> None:
        stream.add(reply)
        stream.finished = True
        if stream.id not in self._streams:  # let go already: the gateway is stopping
            return
        self._finished[stream.id] = stream
        self._finished_bytes += stream.kept_bytes
        self._session_bytes[stream.session] = self._session_bytes.get(stream.session, 0) + stream.kept_bytes
        if self._session_bytes[stream.session] > MAX_FINISHED_BYTES_PER_SESSION:
            for oldest in [other for other in self._finished.values() if other.session == stream.session][:-1]:
                self._drop(oldest.id)
                if self._session_bytes[stream.session] <= MAX_FINISHED_BYTES_PER_SESSION:
                    break
        while self._finished_bytes > MAX_FINISHED_BYTES and len(self._finished) > 1:
            self._drop(next(iter(self._finished)))
        asyncio.get_running_loop().call_later(KEEP_FINISHED, self._drop, stream.id)

    def _drop(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)
        finished = self._finished.pop(stream_id, None)
        if finished is not None:
            self._finished_bytes -= finished.kept_bytes
            left = self._session_bytes.pop(finished.session) - finished.kept_bytes
            if left:
                self._session_bytes[finished.session] = left

    def find(self, last_event_id: str, session_id: str) -> tuple[CallStream, int]:
        """The session's stream that `last_event_id` names, and the number of the message to resume after;
        raises StreamGone saying why when there is none."""
        stream_id, _, number = last_event_id.strip().partition(":")
        stream = self._streams.get(stream_id)
        if stream is None or stream.session != session_id:
            raise StreamGone("that call's stream is gone: its reply was sent more than a minute ago, or it ran in "
                             "another gateway process")  # fmt: skip
        if not (number.isascii() and number.isdecimal() and len(number) <= 12) or int(number) > stream.sent:
            raise StreamGone(f"Last-Event-ID {last_event_id[:80]!r} names no message this stream has sent")
        return stream, max(int(number), stream.first - 1)

    def owns(self, last_event_id: str) -> bool:
        """Whether an event id is a call stream's (of any process), not a GET stream's."""
        return last_event_id.strip().startswith("c") and ":" in last_event_id

    async def read(self, stream: CallStream, after: int = 0, prime: bool = False) -> AsyncIterator[bytes]:
        """The stream after message `after`, to the reply; `prime` opens it with the priming event."""
        reader = next(self._readers)
        stream.positions[reader] = after
        try:
            if prime:
                yield f"id: {stream.id}:0\nretry: {RETRY_MS}\ndata: \n\n".encode()
            while True:
                stream.changed.clear()
                while stream.positions[reader] < stream.sent:
                    if stream.positions[reader] < stream.first - 1:
                        return  # it fell behind what is kept: the client reconnects from the oldest message kept
                    stream.positions[reader] += 1
                    yield stream.events[stream.positions[reader] - stream.first]
                if stream.finished:
                    return
                await stream.changed.wait()
        finally:
            del stream.positions[reader]
            if not stream.positions and not stream.finished:
                stream.left_at = time.monotonic()
                asyncio.get_running_loop().call_later(ABANDONED_AFTER, self._abandon_if_unread, stream)

    def _abandon_if_unread(self, stream: CallStream) -> None:
        unread_for = time.monotonic() - stream.left_at
        if not stream.positions and not stream.finished and unread_for >= ABANDONED_AFTER and stream.on_abandon:
            stream.on_abandon()

    def close(self) -> None:
        for stream in self._streams.values():
            if not stream.finished and stream.on_abandon is not None:
                stream.on_abandon()
        self._streams.clear()
        self._finished.clear()
        self._finished_bytes = 0
        self._session_bytes.clear()
