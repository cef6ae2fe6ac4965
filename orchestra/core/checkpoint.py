"""Where LangGraph threads are persisted: embedded SQLite by default, plain Redis when `REDIS_URL` is set.

SQLite needs nothing running and survives restarts of a single machine; Redis lets several Orchestra processes
share threads. Either way a run that dies resumes from its last checkpoint, provided the graph is run with
`durability="sync"` (LangGraph's default writes checkpoints in the background, so a crash can lose the last step).
Nothing here connects at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from redis.exceptions import RedisError

from orchestra.core.redis_checkpoint import AsyncPlainRedisSaver, connect_redis

SQLITE_FILE = "checkpoints.sqlite"


class CheckpointerError(RuntimeError):
    """The configured checkpoint store cannot be used; the message names the setting and the fix."""


def redact_url(url: str) -> str:
    """`url` without its password, fit for an error message or a log line."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"


@asynccontextmanager
async def open_checkpointer(data_dir: Path, redis_url: str | None) -> AsyncIterator[BaseCheckpointSaver]:
    """The checkpointer for this process, open for the duration of the block.

    With `redis_url` (Orchestra passes `REDIS_URL`) it is the plain-Redis saver, after checking the server answers;
    otherwise the SQLite saver at `data_dir / "checkpoints.sqlite"`, creating the folder.
    Raises CheckpointerError when Redis is unreachable or the URL is malformed.
    """
    if not redis_url:
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(data_dir / SQLITE_FILE)) as sqlite_saver:
            await sqlite_saver.setup()
            yield sqlite_saver
        return
    try:
        client = await connect_redis(redis_url)
    except (RedisError, OSError, ValueError) as exc:
        raise CheckpointerError(
            f"REDIS_URL={redact_url(redis_url)} cannot be used to keep LangGraph checkpoints: {str(exc).rstrip('.')}. "
            "Fix REDIS_URL to point at a running Redis 7+, Valkey or Redis Cluster "
            "(e.g. redis://localhost:6379/0, rediss:// for TLS), or unset REDIS_URL to keep checkpoints "
            f"in SQLite at {data_dir / SQLITE_FILE}."
        ) from exc
    try:
        yield AsyncPlainRedisSaver(client)
    finally:
        await client.aclose()
