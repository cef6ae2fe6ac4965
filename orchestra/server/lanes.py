"""Per-thread lanes in Redis: the order in which a thread's runs execute, shared by every server process.

A thread's lane is a Redis list of its run ids, waiting or executing, in order of arrival. Only the run at its head
is ever in the job queue (saq), so a thread executes one run at a time across all processes and in order, without a
worker holding a slot while it waits for a thread: the next run is queued only when the head has ended and been
popped. Each change is one Lua script, so two processes never both see themselves as head.

    P:{T}:thread:ID:lane    LIST  run ids of thread ID, head first
"""

from __future__ import annotations

from typing import Any, Literal

from orchestra.core.redis_checkpoint import RedisClient

Place = Literal["head", "waiting", "absent"]

# KEYS: lane; ARGV: run id. Appends the run (once); 1 when it is the head (the caller queues it).
_PUSH = """
if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('RPUSH', KEYS[1], ARGV[1]) end
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then return 1 end
return 0
"""
# KEYS: lane; ARGV: run id. Removes a run that waits behind the head: 'waiting' (removed), 'head' or 'absent'.
_REMOVE_WAITING = """
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then return 'head' end
if redis.call('LREM', KEYS[1], 0, ARGV[1]) > 0 then return 'waiting' end
return 'absent'
"""
# KEYS: lane; ARGV: run id. Pops the run if it is the head; answers the head now (nil when the lane is empty).
_ADVANCE = """
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then redis.call('LPOP', KEYS[1]) end
return redis.call('LINDEX', KEYS[1], 0)
"""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class Lanes:
    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._redis, self._prefix = client, prefix
        self._scripts: dict[str, Any] = {}

    def key(self, tenant: str, thread_id: str) -> str:
        return f"{self._prefix}:{{{tenant}}}:thread:{thread_id}:lane"

    async def _run(self, source: str, key: str, run_id: str) -> Any:
        if source not in self._scripts:
            self._scripts[source] = self._redis.register_script(source)
        return await self._scripts[source](keys=[key], args=[run_id])

    async def push(self, tenant: str, thread_id: str, run_id: str) -> bool:
        """Append `run_id`; True when it is the head (nothing of the thread executes or waits before it)."""
        return bool(await self._run(_PUSH, self.key(tenant, thread_id), run_id))

    async def remove_waiting(self, tenant: str, thread_id: str, run_id: str) -> Place:
        """Remove `run_id` if it waits behind the head; where it was."""
        return _text(await self._run(_REMOVE_WAITING, self.key(tenant, thread_id), run_id))  # type: ignore[return-value]

    async def advance(self, tenant: str, thread_id: str, run_id: str) -> str | None:
        """Pop `run_id` if it is the head (it has ended); the head now, which the caller queues (a no-op if it is
        queued already)."""
        return _text(await self._run(_ADVANCE, self.key(tenant, thread_id), run_id))

    async def runs(self, tenant: str, thread_id: str) -> list[str]:
        """The lane's run ids, head first."""
        found = await self._redis.lrange(self.key(tenant, thread_id), 0, -1)  # type: ignore[misc]
        return [_text(run_id) or "" for run_id in found]

    async def length(self, tenant: str, thread_id: str) -> int:
        return int(await self._redis.llen(self.key(tenant, thread_id)))  # type: ignore[misc]

    async def head(self, tenant: str, thread_id: str) -> str | None:
        return _text(await self._redis.lindex(self.key(tenant, thread_id), 0))  # type: ignore[misc]
