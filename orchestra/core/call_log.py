"""The logs the model layer and the server append to, one JSON object per record: every model call (tier, model,
tenant, run, tokens, cost, the router's choice) and every run's thumbs up or down.

With `REDIS_URL` set they are Redis streams, so every replica writes to the same log and `orchestra models report`
and `calibrate` see all of them; otherwise JSON-lines files in the data folder. Writers run in LangChain's callback
threads or in `asyncio.to_thread`, readers in the CLI, so both use blocking clients.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from redis import Redis

from orchestra.core.models_config import usage_log_path
from orchestra.server.config import ServerConfig

KEPT_IN_REDIS = 1_000_000  # records per stream; older ones are trimmed
KEY_PREFIX: str = ServerConfig.model_fields["key_prefix"].default


def parsed(line: bytes | str) -> dict[str, Any] | None:
    """One log line as a record with a timezone-aware `ts`, or None for a line cut short by a crash, not UTF-8, not
    an object or without a readable time: a damaged line is skipped, never fatal."""
    try:
        record = json.loads(line)
        stamp = dt.datetime.fromisoformat(record["ts"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return record if stamp.tzinfo is not None else None


def number(value: object) -> float:
    """A logged amount as a finite float; anything else (missing, text, NaN, infinite) counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        found = float(value)
    except ValueError:
        return 0.0
    return found if math.isfinite(found) else 0.0


def read_jsonl(path: Path, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines log, from `since` on."""
    if not path.exists():
        return
    for line in path.read_bytes().splitlines():
        record = parsed(line)
        if record is not None and (since is None or dt.datetime.fromisoformat(record["ts"]) >= since):
            yield record


class RecordLog(Protocol):
    def append(self, record: dict[str, Any]) -> None: ...

    def read(self, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]: ...


class FileLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as log:  # one write per line: appends from threads never interleave
            log.write(json.dumps(record) + "\n")

    def read(self, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path, since)


class RedisLog:
    """A Redis stream; entry ids are milliseconds, so reading from a time is a range query."""

    def __init__(self, redis: Redis, key: str) -> None:
        self._redis, self._key = redis, key

    def append(self, record: dict[str, Any]) -> None:
        self._redis.xadd(self._key, {"record": json.dumps(record)}, maxlen=KEPT_IN_REDIS, approximate=True)

    def read(self, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
        start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
        while True:
            batch = self._redis.xrange(self._key, min=start, max="+", count=5000)
            for _, fields in batch:  # type: ignore[union-attr]
                record = parsed(fields.get(b"record", b""))
                if record is not None:
                    yield record
            if len(batch) < 5000:  # type: ignore[arg-type]
                return
            start = "(" + batch[-1][0].decode()  # type: ignore[index]


def record_log(name: str, environ: dict[str, str], data_dir: Path, prefix: str = KEY_PREFIX) -> RecordLog:
    """The `calls` or `outcomes` log: the Redis stream `PREFIX:models:NAME` when the process has `REDIS_URL` (the
    prefix is `server.key_prefix`, so installations sharing a Redis keep apart), else a file."""
    url = environ.get("REDIS_URL", "").strip()
    if url:
        return RedisLog(Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5), f"{prefix}:models:{name}")
    return FileLog(usage_log_path(data_dir) if name == "calls" else data_dir / "routing-outcomes.jsonl")
