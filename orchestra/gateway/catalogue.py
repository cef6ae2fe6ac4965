"""What a pool offers besides tool calls: prompts, the upstream's own `initialize` answer, reads of resources,
prompts and completions, resource subscriptions, and the upstream's notices outside calls.

A mixin of `Pool` (like `DedicatedSessions`): it uses the pool's replicas and balancing, and lives here so the
pool's tool-call path stays readable on its own.

- Prompts are listed with the tools, kept, and relisted when an upstream says either list changed; clients are
  told of the change once the new catalogue is in. Resources are not kept: they are listed live, page by page.
- `resources/*`, `prompts/get` and `completion/complete` only read (subscribing is as safe to repeat), so one
  that failed on a replica is retried on another within the pool's timeout and retry budget.
- A resource subscription is made once per URI on every live replica of a shared pool (and again on a replica
  that restarts), and counted per client session: the last session to unsubscribe ends it upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from mcp import types

from orchestra.gateway.errors import CallTimeout, GatewayError, ReplicaReset, ReplicaUnreachable
from orchestra.gateway.modern import MODERN_VERSIONS
from orchestra.gateway.rpc import CallLog, RpcError

if TYPE_CHECKING:
    from orchestra.gateway.channel import Channel
    from orchestra.gateway.pool import Pool
    from orchestra.gateway.replica import Replica

log = logging.getLogger("orchestra.gateway.pool")

_MAX_PAGES = 100
PoolEvent = Callable[["Pool", "Channel", str, dict[str, Any]], None]
"""Tells the router of an upstream's notice for client sessions, with the upstream session that sent it."""


class PoolFeatures:
    """Prompts, reads, subscriptions and notices of a pool; mixed into `Pool`."""

    # -- what the upstream offers ---------------------------------------------------------------------
    @property
    def init_result(self: Pool) -> types.InitializeResult | None:
        """The upstream's answer to `initialize`, from a live replica (the last one seen when none is up)."""
        now = time.monotonic()
        for replica in self.replicas:
            if replica.available(now) and replica.channel is not None and replica.channel.init_result is not None:
                self._init = replica.channel.init_result
                break
        return self._init

    def offers(self: Pool, feature: str) -> bool:
        """Whether the upstream declared `feature`: `resources`, `prompts`, `completions`, or `subscribe`."""
        init = self.init_result
        if init is None:
            return False
        capabilities = init.capabilities
        if feature == "subscribe":  # a modern upstream has no resources/subscribe (its updates come on a listen)
            modern = init.protocolVersion in MODERN_VERSIONS
            return bool(capabilities.resources and capabilities.resources.subscribe) and not modern
        return getattr(capabilities, feature, None) is not None

    def shows(self: Pool, feature: str) -> bool:
        """Whether clients see `prompts` or `resources` of this pool: the upstream offers them and the pool's
        filters do not hide them all (a pool with `tools.allow` shows them only once they are allowed too)."""
        section = self.config.prompts if feature == "prompts" else self.config.resources
        return self.offers(feature) and not (self.config.reviewed and section.allow is None)

    async def list_prompts(self: Pool) -> list[types.Prompt]:
        """The prompts this pool exposes (its `prompts` filter applied), listed with its tools."""
        await self.list_tools()
        return [prompt for name, prompt in self.prompts.items() if self.config.permits_prompt(name)]

    async def _list_prompts_on(self: Pool, channel: Channel, deadline: float) -> None:
        """Called after a tools listing: a pool whose prompts cannot be listed keeps its tools (and says why)."""
        if not self.offers("prompts"):
            self.prompts = {}
            return
        try:
            listed = await list_pages(channel, "prompts/list", "prompts", deadline)
            self.prompts = {prompt.name: prompt for prompt in (types.Prompt.model_validate(p) for p in listed)}
        except (GatewayError, RpcError, ValueError, TimeoutError) as exc:
            log.warning("pool %s could not list its prompts: %r", self.name, exc)

    # -- requests other than tools/call ---------------------------------------------------------------
    async def request(
        self: Pool,
        method: str,
        params: dict[str, Any] | None,
        *,
        log_to: CallLog | None = None,
        wait: float | None = None,
    ) -> Any:
        """A request that only reads on a replica of this pool, failing over to another when a replica fails (it
        is safe to repeat); the upstream's JSON-RPC errors are passed on as they are. `wait` bounds the wait for
        a free replica (default: the pool's `timeout`)."""
        policy = self.config.retry_policy
        deadline = time.monotonic() + self.config.timeout
        replica_deadline = time.monotonic() + wait if wait is not None else deadline
        tried: set[str] = set()
        for attempt in range(policy.num_retries + 1):
            replica = await self._wait_for_replica(min(deadline, replica_deadline), exclude=tried)
            tried.add(replica.name)
            assert replica.channel is not None
            budget = max(0.0, min(policy.per_try_timeout or self.config.timeout, deadline - time.monotonic()))
            replica.in_flight += 1
            replica.last_active = time.monotonic()
            try:
                result = await asyncio.wait_for(replica.channel.request(method, params, log_to=log_to), budget)
            except TimeoutError:
                self._record_failure(replica)
                failure: GatewayError = CallTimeout(
                    f"replica {replica.name} did not answer {method} within {budget:.1f}s", pool=self.name
                )
            except (ReplicaUnreachable, ReplicaReset) as exc:
                self._record_failure(replica)
                failure = exc
            else:
                replica.record_success()
                return result
            finally:
                replica.in_flight -= 1
                replica.last_active = time.monotonic()
            if attempt >= policy.num_retries or time.monotonic() >= deadline:
                raise failure
            await self._back_off(attempt, deadline)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _on_replica(self: Pool, replica: Replica, method: str, params: dict[str, Any]) -> None:
        if replica.channel is None or not replica.channel.alive:
            return
        try:
            await asyncio.wait_for(replica.channel.request(method, params), self.config.timeout)
        except (GatewayError, RpcError, TimeoutError) as exc:
            log.warning("%s of %.200s on %s failed: %s", method, params.get("uri"), replica.name, exc)

    # -- subscriptions on shared pools (a dedicated session subscribes in its own upstream session) ----------
    async def subscribe(self: Pool, uri: str, session_id: str) -> None:
        subscribers = self.subscriptions.setdefault(uri, set())
        first = not subscribers
        subscribers.add(session_id)
        if not first:
            return
        now = time.monotonic()
        live = [r for r in self.replicas if r.available(now)]
        try:
            if not live:  # waits for a replica, or says why there is none; the others subscribe when they come up
                await self.request("resources/subscribe", {"uri": uri})
                return
            first_replica, *others = live
            assert first_replica.channel is not None
            await asyncio.wait_for(
                first_replica.channel.request("resources/subscribe", {"uri": uri}), self.config.timeout
            )  # its error (an unknown URI, say) is the client's answer
        except BaseException:
            subscribers.discard(session_id)
            if not subscribers:
                self.subscriptions.pop(uri, None)
            raise
        await asyncio.gather(*(self._on_replica(r, "resources/subscribe", {"uri": uri}) for r in others))

    async def unsubscribe(self: Pool, uri: str, session_id: str) -> None:
        subscribers = self.subscriptions.get(uri)
        if subscribers is None or session_id not in subscribers:
            return
        subscribers.discard(session_id)
        if not subscribers:
            del self.subscriptions[uri]
            now = time.monotonic()
            live = [r for r in self.replicas if r.available(now)]
            await asyncio.gather(*(self._on_replica(r, "resources/unsubscribe", {"uri": uri}) for r in live))

    async def drop_subscriber(self: Pool, session_id: str) -> None:
        """A client session ended: end the subscriptions only it held."""
        for uri in [uri for uri, sessions in self.subscriptions.items() if session_id in sessions]:
            await self.unsubscribe(uri, session_id)

    def _replica_up(self: Pool, replica: Replica) -> None:
        if self.subscriptions and self.config.session == "shared":
            for uri in list(self.subscriptions):
                self._spawn_task(self._on_replica(replica, "resources/subscribe", {"uri": uri}))

    # -- notices from upstreams -----------------------------------------------------------------------
    def _notice(self: Pool, channel: Channel, method: str, params: dict[str, Any]) -> None:
        if method in ("notifications/tools/list_changed", "notifications/prompts/list_changed"):
            self._tools_stale = True
            self._spawn_task(self._relist_then_tell(channel, method, params))
        elif self.on_event is not None:
            self.on_event(self, channel, method, params)

    async def _relist_then_tell(self: Pool, channel: Channel, method: str, params: dict[str, Any]) -> None:
        """Clients told that a list changed list again at once: they must find the new catalogue."""
        with contextlib.suppress(GatewayError):
            await self._refresh_soon()
        if self.on_event is not None:
            self.on_event(self, channel, method, params)

    def _spawn_task(self: Pool, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def list_pages(channel: Channel, method: str, key: str, deadline: float) -> list[dict[str, Any]]:
    """Every item of a paged list, at most 100 pages, stopping at a repeated cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
        for _ in range(_MAX_PAGES):
            page = await channel.request(method, {"cursor": cursor} if cursor else None)
            if not isinstance(page, dict) or not isinstance(page.get(key), list):
                raise ValueError(f"{method} answered without a {key!r} list")
            items.extend(page[key])
            cursor = page.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                break
            seen.add(cursor)
    return items
