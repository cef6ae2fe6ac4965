"""What the gateway keeps in memory for calls a client may come back to: held round-trip calls (`mrtr`) and
resumable call streams (`callstreams`). Their limits hold under bursts and floods, and a reconnection either
resumes or hears why not."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from orchestra.gateway import callstreams
from orchestra.gateway.callstreams import CallStreams, StreamGone
from orchestra.gateway.mrtr import HeldCalls
from orchestra.gateway.rpc import RpcError


def _may_ask(method: str, params: dict[str, Any]) -> None:
    return None


async def test_a_burst_of_calls_asking_together_cannot_exceed_the_per_key_hold_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("orchestra.gateway.mrtr.MAX_HELD_PER_KEY", 2)
    held = HeldCalls()
    refused: list[str] = []

    async def run(ask: Any) -> dict[str, Any]:
        try:
            return await ask("elicitation/create", {"message": "ok?"})
        except RpcError as exc:
            refused.append(exc.error.message)
            return {"content": [], "isError": True}

    replies = await asyncio.gather(
        *(held.call(run, f"owner-{n}", {"name": "t"}, _may_ask, key_id="k") for n in range(6))
    )
    assert sum(reply.get("resultType") == "input_required" for reply in replies) == 2
    assert len(refused) == 4
    assert all("calls of this API key" in message for message in refused)
    _, other_key = await asyncio.gather(asyncio.sleep(0), held.call(run, "owner-x", {"name": "t"}, _may_ask, "j"))
    assert other_key["resultType"] == "input_required"
    await held.close()


def _message(n: int, size: int = 10) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": n, "pad": "x" * size}}


def _numbers(events: list[bytes]) -> list[int]:
    return [int(event.split(b"\n", 1)[0].rsplit(b":", 1)[1]) for event in events]


async def _drain(reader: Any, count: int) -> list[bytes]:
    return [await anext(reader) for _ in range(count)]


def _one_stream(monkeypatch: pytest.MonkeyPatch, replay_bytes: int) -> tuple[CallStreams, Any]:
    monkeypatch.setattr(callstreams, "MAX_REPLAY_BYTES", replay_bytes)
    streams = CallStreams()
    return streams, streams.open("s", on_abandon=lambda: None)


async def test_a_connected_reader_gets_every_message_of_a_flood_beyond_the_replay_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    streams, stream = _one_stream(monkeypatch, 2_000)
    reader = streams.read(stream)
    stream.add(_message(1))
    first = await _drain(reader, 1)
    for n in range(2, 501):  # a slow reader: the flood arrives while it reads nothing
        stream.add(_message(n))
    streams.finish(stream, {"jsonrpc": "2.0", "id": 1, "result": {"content": []}})
    rest = [event async for event in reader]
    assert _numbers(first + rest) == list(range(1, 502))  # nothing lost, the reply (501) last
    # Read to its end here, but perhaps lost with the connection: the reply is still there for a reconnection.
    found, after = streams.find(f"{stream.id}:3", "s")
    assert _numbers([event async for event in streams.read(found, after)])[-1] == 501


async def test_a_reader_that_stops_reading_cannot_grow_a_stream_past_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callstreams, "MAX_STREAM_BYTES", 8_000)
    streams, stream = _one_stream(monkeypatch, 2_000)
    stalled = streams.read(stream, prime=True)
    await anext(stalled)  # the priming event went out, then the client stopped reading
    for n in range(1, 2001):
        stream.add(_message(n, size=100))
    assert stream.kept_bytes <= 8_000
    assert [event async for event in stalled] == []  # its response ends: it reconnects with Last-Event-ID
    found, after = streams.find(f"{stream.id}:0", "s")
    assert _numbers(await _drain(streams.read(found, after), 1)) == [found.first]


async def test_one_session_cannot_push_out_another_sessions_unread_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callstreams, "MAX_FINISHED_BYTES_PER_SESSION", 50_000)
    monkeypatch.setattr(callstreams, "MAX_FINISHED_BYTES", 200_000)
    streams = CallStreams()
    quiet = streams.open("quiet", on_abandon=lambda: None)
    streams.finish(quiet, {"jsonrpc": "2.0", "id": 0, "result": {"text": "q" * 20_000}})
    noisy = []
    for n in range(30):
        stream = streams.open("noisy", on_abandon=lambda: None)
        streams.finish(stream, {"jsonrpc": "2.0", "id": n, "result": {"text": "n" * 20_000}})
        noisy.append(stream)
    assert streams.find(f"{quiet.id}:0", "quiet")[0] is quiet
    kept = [stream for stream in noisy if stream.id in streams._streams]
    assert kept == noisy[-2:]


async def test_a_reconnection_after_the_replay_budget_gets_the_oldest_kept_messages_and_the_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    streams, stream = _one_stream(monkeypatch, 2_000)
    for n in range(1, 201):  # nobody reading
        stream.add(_message(n))
    streams.finish(stream, {"jsonrpc": "2.0", "id": 1, "result": {"content": []}})
    assert stream.kept_bytes <= 2_000 + 200
    found, after = streams.find(f"{stream.id}:1", "s")
    replayed = _numbers([event async for event in streams.read(found, after)])
    assert replayed[-1] == 201
    assert replayed == list(range(replayed[0], 202))
    assert replayed[0] > 2


async def test_a_last_event_id_past_the_end_or_not_a_number_is_refused_saying_so() -> None:
    streams = CallStreams()
    stream = streams.open("s", on_abandon=lambda: None)
    stream.add(_message(1))
    for bad in (f"{stream.id}:2", f"{stream.id}:²", f"{stream.id}:-1", f"{stream.id}:1e3", f"{stream.id}:"):
        with pytest.raises(StreamGone, match="names no message"):
            streams.find(bad, "s")
    with pytest.raises(StreamGone, match="gone"):  # another session's stream is not found
        streams.find(f"{stream.id}:1", "other")
    assert streams.find(f"{stream.id}:1", "s") == (stream, 1)
    streams.close()


async def test_unread_finished_streams_are_bounded_per_process_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callstreams, "MAX_FINISHED_BYTES", 50_000)
    streams = CallStreams()
    finished = []
    for n in range(10):  # each reply about 20 kB, nobody reading, each of another session
        stream = streams.open(f"s{n}", on_abandon=lambda: None)
        streams.finish(stream, {"jsonrpc": "2.0", "id": n, "result": {"text": "y" * 20_000}})
        finished.append(stream)
    kept = []
    for stream in finished:
        with contextlib.suppress(StreamGone):
            kept.append(streams.find(f"{stream.id}:0", stream.session)[0])
    assert kept == finished[-2:]  # the newest that fit
    body = b"".join([event async for event in streams.read(kept[-1])])
    assert json.loads(body.split(b"data: ", 1)[1])["id"] == 9
