"""One replica of a pool: its upstream channel, kept alive by a supervisor task, and its health record."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Literal

from mcp import types

from orchestra.gateway.channel import Channel, ChannelNotice, ConnectionFactory, first_of
from orchestra.gateway.config import PoolConfig
from orchestra.gateway.errors import ReplicaUnreachable

log = logging.getLogger("orchestra.gateway.replica")

State = Literal["starting", "healthy", "unhealthy", "stopped"]
_MAX_BACKOFF = 30.0
_STABLE_UPTIME = 30.0  # a replica up this long has its restart back-off reset


def jittered(seconds: float) -> float:
    """Full jitter between half and the whole delay, so replicas restarted together spread out."""
    return seconds * random.uniform(0.5, 1.0)


class Replica:
    """A supervised upstream: stdio process or URL. `single_use` replicas (dedicated stdio) are not restarted once
    they have served: their state belonged to one client. A failed start is retried, with back-off, either way."""

    def __init__(
        self,
        name: str,
        config: PoolConfig,
        connect: ConnectionFactory,
        *,
        single_use: bool = False,
        on_change: Callable[[], None],
        on_notice: ChannelNotice | None = None,
        on_up: Callable[[Replica], None] | None = None,
        url: str | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.single_use = single_use
        self.state: State = "starting"
        self.channel: Channel | None = None
        self.in_flight = 0
        self.sessions = 0
        self.owner: str | None = None
        self.draining = False
        self.restarts = 0
        self.started_at = 0.0
        self.last_active = time.monotonic()
        self.consecutive_5xx = 0
        self.ejected_until = 0.0
        self.ejections = 0
        self.start_failures = 0  # failed starts in a row; a pool whose every replica has some is broken
        self.failed_at = 0.0
        self.last_error: str | None = None
        self._health_fails = 0
        self._health_passes = 0
        self._config = config
        self._connect = connect
        self._on_change = on_change
        self._on_notice = on_notice
        self._on_up = on_up
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"replica {self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.state = "stopped"

    @property
    def finished(self) -> bool:
        return self.state == "stopped" or (self._task is not None and self._task.done())

    async def _supervise(self) -> None:
        backoff = self._config.replicas.restart_backoff
        while not self._stopping.is_set():
            channel = Channel(
                self._connect,
                label=f"replica {self.name}",
                on_notice=self._on_notice,
            )
            self._set_state("starting")
            try:
                await channel.start(self._config.startup_timeout)
            except ReplicaUnreachable as exc:
                self.start_failures += 1
                self.failed_at = time.monotonic()
                self.last_error = exc.message
                log.warning("%s; retrying in about %.1fs", exc.message, backoff)
                self._set_state("unhealthy")
            else:
                self.channel = channel
                self.started_at = time.monotonic()
                self.start_failures, self.last_error = 0, None
                self._health_fails = self._health_passes = 0
                self._set_state("healthy")
                log.info("replica %s is up%s", self.name, f" (pid {self.pid})" if self.pid else "")
                if self._on_up is not None:
                    self._on_up(self)
                await first_of(channel.closed, self._stopping)
                if self._stopping.is_set():
                    break
                self._set_state("unhealthy")
                log.warning("replica %s went away", self.name)
                if self.single_use:
                    break
                if time.monotonic() - self.started_at > _STABLE_UPTIME:
                    backoff = self._config.replicas.restart_backoff
            try:
                await asyncio.wait_for(self._stopping.wait(), jittered(backoff))
            except TimeoutError:
                self.restarts += 1
            backoff = min(backoff * 2, _MAX_BACKOFF)
        if self.channel is not None:
            await self.channel.close()
        self._set_state("stopped")

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._on_change()

    # -- selection ------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.channel.pid if self.channel else None

    def available(self, now: float) -> bool:
        return (
            self.state == "healthy"
            and self.channel is not None
            and self.channel.alive
            and not self.draining
            and now >= self.ejected_until
        )

    @property
    def load(self) -> int:
        return self.in_flight + self.sessions

    # -- health ---------------------------------------------------------------------------------------
    async def check_health(self) -> None:
        """One active check: an MCP ping within `health_checks.timeout`."""
        checks = self._config.health_checks
        channel = self.channel
        if channel is None or not channel.alive or self.state == "starting":
            return
        try:
            await channel.ping(checks.timeout)
        except Exception as exc:  # any failure of the ping is a failed check
            self._health_passes = 0
            self._health_fails += 1
            if self._health_fails >= checks.unhealthy_threshold and self.state == "healthy":
                log.warning("replica %s failed %d health checks: %r", self.name, self._health_fails, exc)
                self._set_state("unhealthy")
        else:
            self._health_fails = 0
            self._health_passes += 1
            if self._health_passes >= checks.healthy_threshold and self.state == "unhealthy":
                log.info("replica %s is healthy again", self.name)
                self._set_state("healthy")

    def record_success(self) -> None:
        self.consecutive_5xx = 0

    def record_failure(self, may_eject: bool) -> bool:
        """Count a transport failure; returns True when it ejects the replica."""
        self.consecutive_5xx += 1
        detection = self._config.outlier_detection
        if self.consecutive_5xx < detection.consecutive_5xx or not may_eject:
            return False
        self.ejections += 1
        self.consecutive_5xx = 0
        self.ejected_until = time.monotonic() + detection.base_ejection_time * self.ejections
        log.warning("replica %s ejected for %.0fs", self.name, self.ejected_until - time.monotonic())
        self._on_change()
        return True

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": "ejected" if now < self.ejected_until else self.state,
            "pid": self.pid,
            "url": self.url,
            "in_flight": self.in_flight,
            "sessions": self.sessions,
            "owner": self.owner is not None,
            "restarts": self.restarts,
            "ejections": self.ejections,
            "uptime_s": round(now - self.started_at, 1) if self.state == "healthy" else 0.0,
            "draining": self.draining,
            "server": self.server_info(),
            "last_error": self.last_error,
        }

    def server_info(self) -> str | None:
        init: types.InitializeResult | None = self.channel.init_result if self.channel else None
        return f"{init.serverInfo.name} {init.serverInfo.version}" if init else None
