"""Dedicated upstream sessions: a client session that owns one upstream session for its whole life (a browser).

A mixin of `Pool`: binding uses the pool's replicas, balancing and scaling, and lives here so the pool's
shared-session path stays readable on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestra.core.envref import expand_env
from orchestra.gateway.channel import Channel, http_connection
from orchestra.gateway.errors import (
    CallTimeout,
    NoHealthyReplica,
    Overloaded,
    ReplicaReset,
    ReplicaUnreachable,
    SessionLost,
)
from orchestra.gateway.liveness import CallClock
from orchestra.gateway.rpc import CallLog, Progress, ToolResult

if TYPE_CHECKING:
    from orchestra.gateway.replica import Replica


@dataclass(frozen=True)
class BindingRecord:
    """Where a dedicated upstream session lives, as kept in the shared session store."""

    replica: str
    upstream_session: str | None


@dataclass
class Binding:
    """A client session's own upstream session in one pool."""

    replica: Replica
    channel: Channel
    upstream_session: str | None
    last_used: float = field(default_factory=time.monotonic)
    calls: int = 0  # in flight: a binding is never released mid-call

    def record(self) -> BindingRecord:
        return BindingRecord(self.replica.name, self.upstream_session)


class DedicatedSessions:
    """Binding, calling and releasing dedicated upstream sessions; mixed into `Pool`."""

    async def bind(self, rejoin: BindingRecord | None = None) -> Binding:
        """An upstream session owned by one client session: a spare process (stdio) or a new HTTP session.

        `rejoin` reattaches to an HTTP upstream session that another gateway process opened.
        """
        deadline = time.monotonic() + self.config.startup_timeout
        if self.dedicated_stdio:
            if rejoin is not None:
                raise SessionLost(
                    f"the {self.name!r} session lives in another gateway process; initialize a new session",
                    pool=self.name,
                )
            replica = await self._spare_replica(deadline)
            replica.owner, replica.sessions = "bound", 1
            self._scale_once()  # a new spare for the next session
            assert replica.channel is not None
            return Binding(replica, replica.channel, None)
        if rejoin is not None:
            replica = next((r for r in self.replicas if r.name == rejoin.replica), None)
            if replica is None or replica.url is None:
                raise SessionLost(f"replica {rejoin.replica} of {self.name!r} is gone", pool=self.name)
        else:
            replica = await self._wait_for_replica(deadline)
        url = expand_env(replica.url or "", self._environ)
        label = f"session on {replica.name}"
        session_id = rejoin.upstream_session if rejoin else None
        channel = Channel(
            http_connection(url, self.headers(), label, self.config.max_message_size, session_id=session_id),
            label=label,
            initialize=rejoin is None,
            on_notice=self._notice,
        )
        await channel.start(self.config.startup_timeout)
        replica.sessions += 1
        return Binding(replica, channel, channel.session_id)

    async def _spare_replica(self, deadline: float) -> Replica:
        """A free replica for a new dedicated session. When every replica up to `replicas.max` belongs to a
        client, wait `dedicated.wait` for one to be released, then say the pool is full (never queue for long)."""
        full = len(self._live()) >= self.config.replicas.max and all(r.owner for r in self._live())
        wait = self.config.dedicated.wait
        try:
            return await self._wait_for_replica(min(deadline, time.monotonic() + wait) if full else deadline)
        except NoHealthyReplica:
            if not (len(self._live()) >= self.config.replicas.max and all(r.owner for r in self._live())):
                raise
            raise Overloaded(
                f"pool {self.name!r} is full: all {self.config.replicas.max} of its upstream sessions belong to "
                f"other client sessions; retry after {wait:g}s, or end sessions you no longer use (DELETE)",
                pool=self.name, retry_after=wait,
            ) from None  # fmt: skip

    async def call_bound(
        self,
        binding: Binding,
        tool: str,
        arguments: dict[str, Any] | None,
        *,
        progress: Progress | None = None,
        log_to: CallLog | None = None,
    ) -> ToolResult:
        """Call `tool` in the client's own upstream session; if that session died, the client must re-initialize."""
        replica = binding.replica
        replica.in_flight += 1
        replica.last_active = binding.last_used = time.monotonic()
        binding.calls += 1
        self._metrics.in_flight.labels(self.name).inc()
        clock = CallClock(self.config.timeout)  # progress resets it: a call that reports progress is alive
        try:
            call = binding.channel.call_tool(tool, arguments, progress=clock.progress(progress), log_to=log_to)
            return await clock.run(call, self.config.timeout)
        except TimeoutError:
            raise CallTimeout(
                f"{tool!r} on pool {self.name!r} timed out: it sent no result and no progress for "
                f"{clock.silent_for(clock.started):.1f}s (the pool's timeout is {self.config.timeout:g}s). The "
                "gateway stopped waiting and asked the upstream to cancel it, but the tool may still be running "
                "(or have finished); it was not run again. Check its effect before calling it again.",
                pool=self.name, tool=tool, reason="timeout", may_still_be_running=True,
                retryable=self.safe_to_repeat(tool),
            ) from None  # fmt: skip
        except (ReplicaReset, ReplicaUnreachable):
            self._record_failure(replica)
            raise SessionLost(
                f"the {self.name!r} upstream session on {replica.name} is gone (its state is lost); "
                "initialize a new session",
                pool=self.name,
            ) from None
        finally:
            replica.in_flight -= 1
            binding.calls -= 1
            binding.last_used = time.monotonic()
            self._metrics.in_flight.labels(self.name).dec()

    async def release(self, binding: Binding) -> None:
        """End a dedicated upstream session; a stdio replica is retired, its state private to that client."""
        binding.replica.sessions = max(0, binding.replica.sessions - 1)
        if self.dedicated_stdio:
            binding.replica.draining = True
            await binding.replica.stop()
        else:
            await binding.channel.close()
