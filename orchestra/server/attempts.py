"""What every server process knows about one run's executions (Redis mode): how many there were, whether a client
asked to cancel it, and which writes to external systems each execution started.

    P:{T}:run:ID:exec   HASH  attempt   executions started (a retry after a lost process is attempt 2)
                              handed    executions that a process stopping cleanly handed back (not lost)
                              cancel    the cancel a client asked for (interrupt, rollback), first one wins
                              w:TASK#N  the attempt that started the N-th write of LangGraph task TASK

A node re-run after its process was lost has the same task id (LangGraph derives it from the checkpoint the task
started from), so a write it starts again finds the mark of the earlier attempt, and is refused: it may or may not
have taken effect (`orchestra.core.writes`). A run started by a client later, to continue the thread, is another run,
with no marks: repeating the write is then the client's decision, as the error tells it.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

from langgraph.config import get_config

from orchestra.core.redis_checkpoint import RedisClient
from orchestra.core.writes import WriteOutcomeUnknown

_KEEP_SECONDS = 7 * 24 * 3600  # forgotten when the run ends; this only bounds what a crash leaves behind


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class Attempt(NamedTuple):
    number: int  # 1 for the first execution
    lost: int  # earlier executions whose process was lost (not handed back)
    cancel: str | None  # the cancel a client asked for, if any


class RunAttempts:
    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._redis, self._prefix = client, prefix

    def _key(self, tenant: str, run_id: str) -> str:
        return f"{self._prefix}:{{{tenant}}}:run:{run_id}:exec"

    async def begin(self, tenant: str, run_id: str) -> Attempt:
        """Count a new execution of the run."""
        key = self._key(tenant, run_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "attempt", 1)
            pipe.hget(key, "handed")
            pipe.hget(key, "cancel")
            pipe.expire(key, _KEEP_SECONDS)
            number, handed, cancel, _ = await pipe.execute()
        return Attempt(int(number), int(number) - 1 - int(handed or 0), _text(cancel))

    async def hand_back(self, tenant: str, run_id: str) -> None:
        """Record that this process stopped its execution cleanly: a handover, not a lost attempt."""
        await self._redis.hincrby(self._key(tenant, run_id), "handed", 1)  # type: ignore[misc]

    async def is_current(self, tenant: str, run_id: str, attempt: int) -> bool:
        """Whether `attempt` is still the run's latest execution (no other process has taken the run over)."""
        return _text(await self._redis.hget(self._key(tenant, run_id), "attempt")) == str(attempt)  # type: ignore[misc]

    async def request_cancel(self, tenant: str, run_id: str, action: str) -> None:
        key = self._key(tenant, run_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "cancel", action)
            pipe.expire(key, _KEEP_SECONDS)
            await pipe.execute()

    async def cancel_requested(self, tenant: str, run_id: str) -> str | None:
        return _text(await self._redis.hget(self._key(tenant, run_id), "cancel"))  # type: ignore[misc]

    async def forget(self, tenant: str, run_id: str) -> None:
        await self._redis.delete(self._key(tenant, run_id))

    def journal(self, tenant: str, run_id: str, attempt: int) -> WriteJournalOfAttempt:
        return WriteJournalOfAttempt(self._redis, self._key(tenant, run_id), attempt)


class WriteJournalOfAttempt:
    """The `WriteJournal` of one execution of a run."""

    def __init__(self, client: RedisClient, key: str, attempt: int) -> None:
        self._redis, self._key, self._attempt = client, key, attempt
        self._started: dict[str, int] = {}  # task -> writes it started in this execution

    async def starting(self, what: str) -> None:
        task = "?"
        with contextlib.suppress(RuntimeError):  # called outside a graph node: writes are then numbered per run
            config = get_config()
            task = (config.get("configurable") or {}).get("checkpoint_ns") or task
        self._started[task] = self._started.get(task, 0) + 1
        mark = f"w:{task}#{self._started[task]}"
        if await self._redis.hsetnx(self._key, mark, self._attempt):  # type: ignore[misc]
            return
        raise WriteOutcomeUnknown(
            f"{what} was started by an earlier attempt of this run, on a server process that was lost before the "
            "step finished: it may or may not have taken effect, so it was not repeated. Check it, then start a run "
            "with no input on the thread to continue from its last checkpoint (that step runs again, with this write)."
        )
