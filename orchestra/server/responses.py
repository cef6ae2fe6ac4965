"""Responses that follow a run as it goes: SSE for `/stream`, and JSON for `/wait` and `/join` (sent when the run
ends; whitespace meanwhile, so proxies keep the connection). Both notice a client that goes away at once, while the
run is quiet too, and then cancel the run when the client asked for that (`on_disconnect: cancel`)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orchestra.server.events import RunOutcome, StreamEvent, Subscription
from orchestra.server.metrics import ServerMetrics

_HEARTBEAT_SSE = b": heartbeat\n\n"


def sse_frame(event: StreamEvent) -> bytes:
    return b"event: %s\ndata: %s\nid: %d\n\n" % (event.event.encode(), event.data, event.id)


class _FollowRun(Response, ABC):
    """A response FastAPI hands straight to the server (a `Response`), which writes itself as the run goes."""

    media_type = "application/json"
    background: BackgroundTask | None = None

    def __init__(
        self,
        subscription: Subscription | None,
        *,
        heartbeat: float,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        fallback: Callable[[], Awaitable[RunOutcome]] | None = None,
    ) -> None:
        self._subscription, self._heartbeat, self._headers = subscription, heartbeat, dict(headers or {})
        self._on_disconnect, self._fallback = on_disconnect, fallback
        self.status_code = 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", self.media_type.encode()), (b"cache-control", b"no-store"),
                   (b"x-accel-buffering", b"no")]  # fmt: skip
        headers += [(key.lower().encode(), value.encode()) for key, value in self._headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        pump = asyncio.create_task(self._pump(send))
        watch = asyncio.create_task(_until_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not pump.done():  # the client left first
                pump.cancel()
                if self._on_disconnect is not None:
                    await self._on_disconnect()
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await pump
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    @abstractmethod
    async def _pump(self, send: Send) -> None:
        """Send the response's body; the subclass says what it is."""


def wanted(event: str, modes: set[str]) -> bool:
    """Whether a rejoining client that asked for `modes` gets `event` (`metadata` and `error` always)."""
    name = event.split("|", 1)[0]
    family = name.split("/", 1)[0]
    return (
        name in ("metadata", "error")
        or name in modes
        or family in modes
        or (family == "messages" and "messages-tuple" in modes)
    )


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class RunEventStream(_FollowRun):
    """`text/event-stream` of a run's events (`id:` on each, for `Last-Event-ID`), closed when the run ends."""

    media_type = "text/event-stream"

    def __init__(self, subscription: Subscription | None, *, modes: set[str] | None = None,
                 metrics: ServerMetrics | None = None, **options: object) -> None:  # fmt: skip
        super().__init__(subscription, **options)  # type: ignore[arg-type]
        self._modes, self._metrics = modes, metrics

    async def _pump(self, send: Send) -> None:
        if self._metrics is not None:
            self._metrics.streams.inc()
        try:
            while self._subscription is not None:
                found = await self._subscription.next(self._heartbeat)
                if found is None:
                    await send({"type": "http.response.body", "body": _HEARTBEAT_SSE, "more_body": True})
                    continue
                if isinstance(found, RunOutcome):
                    break
                if self._modes and not wanted(found.event, self._modes):
                    continue
                await send({"type": "http.response.body", "body": sse_frame(found), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if self._metrics is not None:
                self._metrics.streams.dec()


class RunResult(_FollowRun):
    """The JSON a run ends with (its final values, `__interrupt__` or `__error__`), sent as soon as it ends."""

    async def _pump(self, send: Send) -> None:
        outcome: RunOutcome | None = None
        while self._subscription is not None and outcome is None:
            found = await self._subscription.next(self._heartbeat)
            if found is None:
                await send({"type": "http.response.body", "body": b"\n", "more_body": True})
            elif isinstance(found, RunOutcome):
                outcome = found
        if outcome is None and self._fallback is not None:
            outcome = await self._fallback()
        body = outcome.result if outcome is not None else b"{}"
        await send({"type": "http.response.body", "body": body, "more_body": False})
