"""What has been spent on models, by scope (`all`, `tier premium`, `tenant acme`) and period, for budgets.

With `REDIS_URL` set, spend is counted in Redis, so every replica of the server checks the same totals; otherwise
in a ledger file in the data folder. Both are called from LangChain's callback threads, never from the
event loop, so they use blocking clients.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import defaultdict
from pathlib import Path
from typing import Protocol

from redis import Redis

from orchestra.core.call_log import KEY_PREFIX, FileLog, number, parsed

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


class FileLedger:
    """Spend in `<data_dir>/llm-spend.jsonl`, one line per priced call (kept whatever `models.log_calls` says), summed
    as the file grows: a check reads only what was appended since the last one, other processes' calls included."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / "llm-spend.jsonl"
        self._read_to, self._file = 0, (0, 0)
        self._totals: dict[tuple[str, str, str], float] = defaultdict(float)
        self._lock = threading.Lock()

    def spent(self, scope: str, period: str, now: dt.datetime) -> float:
        with self._lock:
            self._catch_up()
            return self._totals.get((scope, period, period_start(period, now).isoformat()), 0.0)

    def add(self, tier: str, tenant: str, cost: float, now: dt.datetime) -> None:
        if not (math.isfinite(cost) and cost > 0):
            return
        FileLog(self._path).append({"ts": now.isoformat(), "tier": tier, "tenant": tenant, "cost_usd": cost})

    def _catch_up(self) -> None:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return
        size = stat.st_size
        if size < self._read_to or (stat.st_ino, stat.st_dev) != self._file:  # replaced or truncated: start over
            self._read_to, self._totals, self._file = 0, defaultdict(float), (stat.st_ino, stat.st_dev)
        with self._path.open("rb") as ledger:
            ledger.seek(self._read_to)
            chunk = ledger.read(size - self._read_to)
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next check
        self._read_to += len(complete)
        for line in complete.splitlines():
            record = parsed(line)
            cost = number(record.get("cost_usd")) if record else 0.0
            if record is None or cost <= 0:
                continue
            stamp = dt.datetime.fromisoformat(record["ts"])
            for scope in scopes_of(str(record.get("tier", "")), str(record.get("tenant", "local"))):
                for period in PERIODS:
                    self._totals[(scope, period, period_start(period, stamp).isoformat())] += cost


class RedisLedger:
    """Spend in Redis, one float per scope and period (`INCRBYFLOAT`), expiring once the period is over."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self._prefix = prefix

    def _key(self, scope: str, period: str, now: dt.datetime) -> str:
        start = period_start(period, now)
        return f"{self._prefix}:{period}:{start:%Y-%m-%d}:{scope}"

    def spent(self, scope: str, period: str, now: dt.datetime) -> float:
        value = self._redis.get(self._key(scope, period, now))
        return float(value) if value is not None else 0.0  # type: ignore[arg-type]

    def add(self, tier: str, tenant: str, cost: float, now: dt.datetime) -> None:
        if not (math.isfinite(cost) and cost > 0):
            return
        with self._redis.pipeline() as pipe:
            for scope in scopes_of(tier, tenant):
                for period in PERIODS:
                    key = self._key(scope, period, now)
                    pipe.incrbyfloat(key, cost)
                    pipe.expire(key, _KEPT_FOR[period])
            pipe.execute()


def spend_ledger(environ: dict[str, str], data_dir: Path, prefix: str = KEY_PREFIX) -> SpendLedger:
    """Redis when the process has `REDIS_URL`, else the ledger file in the data folder."""
    url = environ.get("REDIS_URL", "").strip()
    return RedisLedger(url, f"{prefix}:models:spend") if url else FileLedger(data_dir)
