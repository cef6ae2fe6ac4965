"""Checkpoints per tenant, and removing the checkpoints of one run (multitask `rollback`).

`TenantSaver` wraps the process's checkpointer (SQLite or our Redis saver): a thread's checkpoints are stored
under `tenant:thread_id`, while the graph, the state and the stream only ever see the thread id the client knows.
Two tenants may then use the same thread id without meeting, and no lookup can reach another tenant's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver


class TenantSaver(BaseCheckpointSaver[Any]):
    """One tenant's view of `inner`: thread ids are prefixed with the tenant on the way in, stripped on the way out."""

    def __init__(self, inner: BaseCheckpointSaver[Any], tenant: str) -> None:
        super().__init__(serde=inner.serde)
        self.inner, self.tenant = inner, tenant
        self._prefix = f"{tenant}:"

    def key(self, thread_id: str) -> str:
        return f"{self._prefix}{thread_id}"

    def _in(self, config: RunnableConfig) -> RunnableConfig:
        configurable = dict(config.get("configurable") or {})
        configurable["thread_id"] = self.key(str(configurable["thread_id"]))
        return {**config, "configurable": configurable}

    def _out(self, config: RunnableConfig | None) -> RunnableConfig | None:
        if config is None:
            return None
        configurable = dict(config.get("configurable") or {})
        configurable["thread_id"] = str(configurable.get("thread_id", "")).removeprefix(self._prefix)
        return {**config, "configurable": configurable}

    def _tuple(self, found: CheckpointTuple | None) -> CheckpointTuple | None:
        if found is None:
            return None
        config = self._out(found.config)
        assert config is not None
        return CheckpointTuple(config, found.checkpoint, found.metadata, self._out(found.parent_config),
                               found.pending_writes)  # fmt: skip

    @property
    def config_specs(self) -> list[Any]:
        return self.inner.config_specs

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._tuple(await self.inner.aget_tuple(self._in(config)))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if config is None:
            raise ValueError("a tenant's checkpoints are listed one thread at a time; pass a thread_id")
        listed = self.inner.alist(self._in(config), filter=filter, before=self._in(before) if before else None,
                                  limit=limit)  # fmt: skip
        async for found in listed:
            converted = self._tuple(found)
            assert converted is not None
            yield converted

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = self._out(await self.inner.aput(self._in(config), checkpoint, metadata, new_versions))
        assert stored is not None
        return stored

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.inner.aput_writes(self._in(config), writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(self.key(thread_id))

    async def aget_delta_channel_history(self, *, config: RunnableConfig, channels: Sequence[str]) -> Mapping[str, Any]:
        return await self.inner.aget_delta_channel_history(config=self._in(config), channels=channels)

    def get_next_version(self, current: Any, channel: Any) -> Any:
        return self.inner.get_next_version(current, channel)


async def delete_run_checkpoints(saver: TenantSaver, thread_id: str, run_id: str) -> int:
    """Remove the checkpoints (all namespaces) that run `run_id` wrote on `thread_id`; returns how many.

    SQLite deletes them in one transaction. Other savers use `adelete_for_runs` when they implement it; otherwise the
    thread is rewritten without them (deleted, then its other checkpoints put back oldest first), which is not
    atomic: a crash in between loses the thread's history, so prefer a saver with `adelete_for_runs`.
    """
    thread = {"configurable": {"thread_id": thread_id}}
    every = [found async for found in saver.alist(thread)]
    doomed = [found for found in every if found.metadata.get("run_id") == run_id]
    if not doomed:
        return 0
    inner = saver.inner
    if isinstance(inner, AsyncSqliteSaver):
        await _delete_sqlite(inner, saver.key(thread_id), [found.config["configurable"] for found in doomed])
        return len(doomed)
    try:
        await inner.adelete_for_runs([run_id])
        return len(doomed)
    except NotImplementedError:
        pass
    kept = [found for found in every if found.metadata.get("run_id") != run_id]
    await saver.adelete_thread(thread_id)
    for found in sorted(kept, key=lambda item: item.config["configurable"]["checkpoint_id"]):
        configurable = found.config["configurable"]
        parent = (found.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        target: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": configurable.get(
            "checkpoint_ns", ""), **({"checkpoint_id": parent} if parent else {})}}  # fmt: skip
        stored = await saver.aput(target, found.checkpoint, found.metadata, found.checkpoint["channel_versions"])
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in found.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(stored, writes, task_id)
    return len(doomed)


async def _delete_sqlite(saver: AsyncSqliteSaver, key: str, doomed: list[dict[str, Any]]) -> None:
    async with saver.lock, saver.conn.cursor() as cursor:
        for configurable in doomed:
            where = (key, configurable.get("checkpoint_ns", ""), configurable["checkpoint_id"])
            await cursor.execute(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?", where
            )
            await cursor.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?", where
            )
        await saver.conn.commit()
