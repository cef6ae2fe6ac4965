"""What has been spent on models, by scope (`all`, `tier premium`, `tenant acme`) and period, for budgets.

With `REDIS_URL` set, spend is counted in Redis, so every replica of the server checks the same totals; otherwise
it is read back from this process's call log. Both are called from LangChain's callback threads, never from the
event loop, so they use blocking clients.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

from redis import Redis

from orchestra.core.call_log import FileLog
from orchestra.core.models_config import usage_log_path

PERIODS = ("daily", "monthly")
_KEPT_FOR = {"daily": dt.timedelta(days=2), "monthly": dt.timedelta(days=32)}


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "daily" else day.replace(day=1)


def scopes_of(tier: str, tenant: str) -> list[str]:
    """The scopes one call counts toward."""
    return ["all", f"tier {tier}", f"tenant {tenant}"]


class SpendLedger(Protocol):
    def spent(self, scope: str, period: str, now: dt.datetime) -> float: ...

    def add(self, tier: str, tenant: str, cost: float, now: dt.datetime) -> None: ...


class CallLogLedger:
    """Spend read back from the call log file (`<data_dir>/llm-usage.jsonl`), which the layer appends to anyway."""

    def __init__(self, data_dir: Path) -> None:
        self._log = FileLog(usage_log_path(data_dir))

    def spent(self, scope: str, period: str, now: dt.datetime) -> float:
        records = self._log.read(period_start(period, now))
        return sum(float(r.get("cost_usd", 0)) for r in records
                   if scope in scopes_of(r.get("tier", ""), r.get("tenant", "local")))  # fmt: skip

    def add(self, tier: str, tenant: str, cost: float, now: dt.datetime) -> None:
        """Nothing to do: the call log line written for the call is the record."""


class RedisLedger:
    """Spend in Redis, one float per scope and period (`INCRBYFLOAT`), expiring once the period is over."""

    def __init__(self, url: str, prefix: str = "orchestra:spend") -> None:
        self._redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self._prefix = prefix

    def _key(self, scope: str, period: str, now: dt.datetime) -> str:
        start = period_start(period, now)
        return f"{self._prefix}:{period}:{start:%Y-%m-%d}:{scope}"

    def spent(self, scope: str, period: str, now: dt.datetime) -> float:
        value = self._redis.get(self._key(scope, period, now))
        return float(value) if value is not None else 0.0  # type: ignore[arg-type]

    def add(self, tier: str, tenant: str, cost: float, now: dt.datetime) -> None:
        if cost <= 0:
            return
        with self._redis.pipeline() as pipe:
            for scope in scopes_of(tier, tenant):
                for period in PERIODS:
                    key = self._key(scope, period, now)
                    pipe.incrbyfloat(key, cost)
                    pipe.expire(key, _KEPT_FOR[period])
            pipe.execute()


def spend_ledger(environ: dict[str, str], data_dir: Path) -> SpendLedger:
    """Redis when the process has `REDIS_URL`, else the call log."""
    url = environ.get("REDIS_URL", "").strip()
    return RedisLedger(url) if url else CallLogLedger(data_dir)
