"""Run event streams in Redis Streams (with `REDIS_URL`): the process executing a run publishes, any process listens.

    P:events:RUN   STREAM  event N is entry `0-(N+1)` (fields `e` event, `d` JSON data); then one end entry
                           (`e` empty, `s` status, `d` the result); the key expires `event_retention` after the end

So `Last-Event-ID: N` reads after entry `0-(N+1)`, `-1` from `0-0`, and a listener never misses or repeats an event,
whichever process it listens from. Ids are assigned inside Redis (one script), so a run taken over by another
process continues its stream where the lost process stopped; nothing is published after the end entry. Listeners
block in XREAD until an entry arrives: no polling, no delay between an event and its delivery.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from orchestra.core.redis_checkpoint import RedisClient
from orchestra.server.events import RunOutcome, StreamEvent

_BLOCK_MS = 5000  # one XREAD waits at most this long (under the client's socket timeout), then reads again

# KEYS: stream; ARGV: event ('' ends the stream), data, seconds to keep, status (end only). The new event's
# index, or -1 when the stream has ended already.
_APPEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local n = 1
if last then
    local fields = last[2]
    for i = 1, #fields, 2 do
        if fields[i] == 'e' and fields[i + 1] == '' then return -1 end
    end
    n = tonumber(string.match(last[1], '-(%d+)$')) + 1
end
if ARGV[1] == '' then
    redis.call('XADD', KEYS[1], '0-' .. n, 'e', '', 's', ARGV[4], 'd', ARGV[2])
else
    redis.call('XADD', KEYS[1], '0-' .. n, 'e', ARGV[1], 'd', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n - 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _index(entry_id: bytes | str) -> int:
    return int(_text(entry_id).rsplit("-", 1)[1]) - 1


class RedisSubscription:
    def __init__(self, client: RedisClient, key: str, cursor: str) -> None:
        self._redis, self._key, self._cursor = client, key, cursor
        self._ready: deque[StreamEvent] = deque()
        self._outcome: RunOutcome | None = None

    async def next(self, timeout: float | None = None) -> StreamEvent | RunOutcome | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready and self._outcome is None:
            left = _BLOCK_MS if deadline is None else int((deadline - time.monotonic()) * 1000)
            if left <= 0:
                return None
            found = await self._redis.xread({self._key: self._cursor}, count=512, block=min(left, _BLOCK_MS))
            for entry_id, fields in found[0][1] if found else []:
                self._take(entry_id, {_text(name): value for name, value in fields.items()})
        return self._ready.popleft() if self._ready else self._outcome

    def _take(self, entry_id: bytes | str, fields: dict[str, Any]) -> None:
        if self._outcome is not None:
            return
        self._cursor = _text(entry_id)
        event = _text(fields["e"])
        if event:
            self._ready.append(StreamEvent(_index(entry_id), event, fields["d"]))
        else:
            self._outcome = RunOutcome(_text(fields["s"]), fields["d"])


class RedisEventBroker:
    """`EventBroker` on Redis Streams; listeners read through `listening`, a client of their own. A stream is kept
    `retention` seconds after its run ends, and at most `live_for` seconds after its last event while the run goes on
    (a run lost for good stops writing)."""

    def __init__(
        self, client: RedisClient, listening: RedisClient, prefix: str, retention: float, live_for: float
    ) -> None:
        self._redis, self._listening, self._prefix = client, listening, prefix
        self._retention, self._live_for = max(int(retention), 1), max(int(live_for), 1)
        self._append = client.register_script(_APPEND)

    def _key(self, run_id: str) -> str:
        return f"{self._prefix}:events:{run_id}"

    def open(self, run_id: str) -> None:
        """Nothing to do: a listener of a run not started yet waits for its stream to appear."""

    async def publish(self, run_id: str, event: str, data: bytes) -> None:
        await self._append(keys=[self._key(run_id)], args=[event, data, self._live_for, ""])

    async def close(self, run_id: str, outcome: RunOutcome) -> None:
        await self._append(keys=[self._key(run_id)], args=["", outcome.result, self._retention, outcome.status])

    async def subscribe(self, run_id: str, after: int | None, *, live: bool = True) -> RedisSubscription | None:
        key = self._key(run_id)
        if after is not None:
            if not live and not await self._redis.exists(key):
                return None
            return RedisSubscription(self._listening, key, f"0-{max(after + 1, 0)}")
        last = await self._redis.xrevrange(key, count=1)
        if not last and not live:
            return None
        return RedisSubscription(self._listening, key, _text(last[0][0]) if last else "0-0")
