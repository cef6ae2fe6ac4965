"""Admitting runs (multitask strategies, per-thread locking), cancelling them, waiting for their outcome, and
recovering the runs a stopped process left behind.

Multitask strategies, when a run arrives on a thread that has one waiting or executing:
`reject` answers 409 and creates nothing; `enqueue` runs it after the others, in order; `interrupt` stops the
others (their finished steps stay) and runs it next; `rollback` stops them too, deletes them and their checkpoints
(the thread is back where it was before them), then runs it.

Recovery at start (one process): a run left `pending` never started, so it is queued again (in creation order); a
run left `running` ends as `error` with a message saying how to continue. It is not retried because the step it was
in may have written to an external system (a CRM update, a deployment) before the process died, and retrying would
repeat that write; a client that knows the step is safe resumes the thread from its last checkpoint (a run with no
input). With Redis the queue recovers them instead (`RedisRunQueue.recover`): a process starting never judges the
runs other processes execute, and a lost process's run is resumed once by another, its started writes refused.
"""

from __future__ import annotations

import logging
from typing import Any

from orchestra.server.errors import BadRequest, Conflict, NotFound, run_not_found, thread_not_found
from orchestra.server.events import EventBroker, RunOutcome
from orchestra.server.executor import SERVER_STOPPED
from orchestra.server.graphs import GraphRegistry
from orchestra.server.jsonio import dumps
from orchestra.server.locks import ThreadLocks
from orchestra.server.queue import CancelAction, RunQueue
from orchestra.server.records import RunRecord, ThreadRecord, new_id, now_iso
from orchestra.server.schemas import RunCreate
from orchestra.server.store import RecordStore

log = logging.getLogger("orchestra.server")

BUSY = "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."


class RunManager:
    def __init__(
        self, *, store: RecordStore, queue: RunQueue, broker: EventBroker, graphs: GraphRegistry,
        locks: ThreadLocks,
    ) -> None:  # fmt: skip
        self._store, self._queue, self._broker, self._graphs = store, queue, broker, graphs
        self._locks = locks

    async def create(self, tenant: str, thread_id: str | None, body: RunCreate) -> RunRecord:
        """Admit a run on `thread_id` (None: a stateless run on a temporary thread); raises 404, 409 or 400."""
        assistant = self._graphs.resolve(body.assistant_id)
        if assistant is None:
            known = ", ".join(a.graph_id for a in self._graphs.assistants)
            raise NotFound(f"Assistant {body.assistant_id} not found; use an assistant id or a graph id ({known})")
        if body.config_dict.get("configurable") and body.context:
            raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
        stateless = thread_id is None
        if stateless and body.command is not None and body.command.resume is not None:
            raise BadRequest("You must provide a thread_id when resuming.")
        thread_id = thread_id or new_id()
        async with self._locks.hold(tenant, thread_id):
            thread = await self._store.get_thread(tenant, thread_id, values=False)
            if thread is None:
                if not stateless and body.if_not_exists != "create":
                    raise thread_not_found(thread_id)
                extra = {**(body.config_dict.get("metadata") or {}), **(body.metadata or {})}
                thread = ThreadRecord.new(tenant, thread_id, extra)
            inflight = await self._queue.inflight((tenant, thread_id))
            if inflight and body.multitask_strategy == "reject":
                raise Conflict(BUSY)
            run = self._new_run(tenant, thread, assistant.assistant_id, assistant.graph_id, body, stateless)
            thread = thread.updated(
                status="busy",
                metadata={**thread.metadata, "graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id},
            )
            await self._store.put_run(run, thread)
            self._broker.open(run.run_id)
            if inflight and body.multitask_strategy in ("interrupt", "rollback"):
                for run_id in inflight:
                    await self._queue.cancel(tenant, run_id, body.multitask_strategy)  # type: ignore[arg-type]
            await self._queue.submit(run)
        return run

    def _new_run(
        self, tenant: str, thread: ThreadRecord, assistant_id: str, graph_id: str, body: RunCreate, stateless: bool
    ) -> RunRecord:
        command = body.command.model_dump(exclude_none=True) if body.command is not None else None
        kwargs: dict[str, Any] = {
            "input": body.input, "command": command, "config": body.config_dict, "context": body.context or {},
            "stream_mode": body.modes, "stream_subgraphs": body.stream_subgraphs,
            "interrupt_before": body.interrupt_before, "interrupt_after": body.interrupt_after,
            "checkpoint": body.checkpoint.as_configurable() if body.checkpoint else None,
            "checkpoint_id": body.checkpoint_id, "durability": "sync",
            "on_disconnect": body.on_disconnect, "temporary": stateless, "on_completion": body.on_completion,
            "resumes": _interrupts_answered(command, thread),
        }  # fmt: skip
        metadata = {**thread.metadata, **(body.config_dict.get("metadata") or {}), **(body.metadata or {}),
                    "graph_id": graph_id, "assistant_id": assistant_id}  # fmt: skip
        stamp = now_iso()
        return RunRecord(tenant, new_id(), thread.thread_id, assistant_id, graph_id, stamp, stamp, "pending",
                         metadata, kwargs, body.multitask_strategy)  # fmt: skip

    async def get(self, tenant: str, thread_id: str, run_id: str) -> RunRecord:
        """The run, 404 when it is not this tenant's run on this thread."""
        run = await self._store.get_run(tenant, run_id)
        if run is None or run.thread_id != thread_id:
            if await self._store.get_thread(tenant, thread_id) is None:
                raise thread_not_found(thread_id)
            raise run_not_found(run_id)
        return run

    async def cancel(self, run: RunRecord, action: CancelAction) -> None:
        """Stop `run` if it waits or executes; a finished run is left as it is."""
        await self._queue.cancel(run.tenant, run.run_id, action)

    async def outcome(self, run: RunRecord) -> RunOutcome:
        """Wait for `run` to end (woken by its end, no polling); from the records if it ended in another process."""
        subscription = await self._broker.subscribe(run.run_id, -1, live=run.active)
        while subscription is not None:
            found = await subscription.next()
            if isinstance(found, RunOutcome):
                return found
        return await self._recorded_outcome(run)

    async def _recorded_outcome(self, run: RunRecord) -> RunOutcome:
        current = await self._store.get_run(run.tenant, run.run_id) or run
        thread = await self._store.get_thread(run.tenant, run.thread_id)
        if current.status in ("error", "timeout"):
            error = (thread.error if thread else None) or {
                "error": "RunError",
                "message": f"the run ended {current.status}",
            }
            return RunOutcome(current.status, dumps({"__error__": error}))
        values = thread.values if thread and thread.values is not None else {}
        flat = [i for found in (thread.interrupts if thread else {}).values() for i in found]
        body = {**values, "__interrupt__": flat} if flat and isinstance(values, dict) else values
        return RunOutcome(current.status, dumps(body))

    async def stop_thread_runs(self, tenant: str, thread_id: str) -> None:
        """Cancel every run of the thread and wait until each has settled (before the thread is deleted)."""
        for run_id in await self._queue.inflight((tenant, thread_id)):
            run = await self._store.get_run(tenant, run_id)
            await self._queue.cancel(tenant, run_id, "interrupt")
            if run is not None:
                await self.outcome(run)

    async def recover(self) -> None:
        """Settle what a stopped process left: see the module docstring for the rule and why."""
        unfinished = await self._queue.recover(await self._store.unfinished_runs())
        for run in unfinished:
            if run.status == "pending" and not run.temporary:
                continue
            log.warning("run %s was %s when the server stopped; marking it error", run.run_id, run.status)
            error = {"error": "RuntimeError", "message": SERVER_STOPPED}
            if run.temporary:  # a stateless run's thread was only ever for that run
                await self._graphs.saver(run.tenant).adelete_thread(run.thread_id)
                await self._store.delete_thread(run.tenant, run.thread_id)
                continue
            async with self._locks.hold(run.tenant, run.thread_id):
                thread = await self._store.get_thread(run.tenant, run.thread_id, values=False)
                if thread is not None:
                    thread = thread.updated(status="error", error=error)
                await self._store.put_run(run.updated(status="error"), thread)
        for run in unfinished:
            if run.status == "pending" and not run.temporary:
                log.info("queueing run %s again: it had not started when the server stopped", run.run_id)
                async with self._locks.hold(run.tenant, run.thread_id):
                    thread = await self._store.get_thread(run.tenant, run.thread_id, values=False)
                    if thread is not None:
                        await self._store.put_thread(thread.updated(status="busy"))
                self._broker.open(run.run_id)
                await self._queue.submit(run)


def _interrupts_answered(command: dict[str, Any] | None, thread: ThreadRecord) -> list[str]:
    """The interrupts a resume answers: those it names by id, else every one the thread shows waiting now."""
    if not command or "resume" not in command:
        return []
    waiting = [i["id"] for found in thread.interrupts.values() for i in found if i.get("id")]
    resume = command["resume"]
    if isinstance(resume, dict) and resume and set(resume) <= set(waiting):
        return list(resume)
    return waiting


__all__ = ["BUSY", "RunManager"]
