"""Executing one run: the graph with the tenant's checkpointer, the served run context and `durability="sync"`,
every chunk published to the run's listeners as it comes, then the run and thread records settled.

Cancellation reaches only the graph's own task (`RunHandle.task`), so settling the records always completes: a run
interrupted by a client ends `interrupted`, one rolled back disappears with its checkpoints, one past the timeout ends
`timeout`, and one stopped by the server shutting down ends `error` (`manager.py` says why it is not retried). In
Redis mode a process that stops (or is taken for lost) lets go of its runs instead: it records nothing, and another
process resumes each from its last checkpoint (attempt 2: the graph is invoked with no input on the thread, as
LangGraph resumes; writes the lost attempt had started are refused, see `orchestra.core.writes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.types import Command

from orchestra.core import tracing
from orchestra.core.writes import journal_writes
from orchestra.graphs.context import ServedContexts
from orchestra.server.checkpoints import delete_run_checkpoints
from orchestra.server.events import EventBroker, RunOutcome
from orchestra.server.graphs import GraphRegistry
from orchestra.server.jsonio import dumps, error_json, normalized
from orchestra.server.locks import ThreadLocks
from orchestra.server.metrics import ServerMetrics
from orchestra.server.queue import CancelAction, RunHandle, ThreadKey
from orchestra.server.records import RunRecord, ThreadStatus
from orchestra.server.state import pending_interrupts
from orchestra.server.store import RecordStore
from orchestra.server.streaming import ChunkTranslator, graph_modes

log = logging.getLogger("orchestra.server")

SERVER_STOPPED = (
    "the server stopped while this run was executing; start a run with no input on the thread to continue from its "
    "last checkpoint"
)
STATELESS_LOST = (
    "the server process executing this stateless run was lost; a stateless run keeps no checkpoints, so it is not "
    "started again (it could repeat what it had done): create it again"
)


class ResumeConflict(RuntimeError):
    """A resume arrived for an interrupt that is no longer waiting (another resume answered it first)."""


class RunExecutor:
    """Executes runs handed over by the queue (`execute`), and settles runs cancelled before they started
    (`discard`)."""

    def __init__(
        self, *, graphs: GraphRegistry, contexts: ServedContexts, store: RecordStore, broker: EventBroker,
        locks: ThreadLocks, metrics: ServerMetrics, timeout: float,
        has_waiting: Callable[[ThreadKey], Awaitable[bool]], let_go: CancelAction = "shutdown",
    ) -> None:  # fmt: skip
        """`let_go`: what it means when the task executing a run is cancelled from outside (the process stops, or
        the Redis queue takes the run away): `shutdown` (the run ends `error`) or `release` (another process
        resumes it)."""
        self._graphs, self._contexts, self._store, self._broker = graphs, contexts, store, broker
        self._locks, self._metrics, self._timeout, self._has_waiting = locks, metrics, timeout, has_waiting
        self._let_go = let_go

    async def execute(self, handle: RunHandle) -> None:
        try:
            await self._execute(handle)
        except Exception as exc:  # the records or the checkpointer failed around the graph: tell every listener
            log.exception("run %s could not be executed or settled", handle.run.run_id)
            await self._abandon(handle.run, exc)

    async def _abandon(self, run: RunRecord, error: Exception) -> None:
        """End a run whose records could not be settled normally: listeners get an error, the record says so if
        the store can still take it."""
        with contextlib.suppress(Exception):
            await self._broker.publish(run.run_id, "error", dumps(error_json(error)))
        with contextlib.suppress(Exception):
            await self._broker.close(run.run_id, RunOutcome("error", dumps({"__error__": error_json(error)})))
        with contextlib.suppress(Exception):
            await self._store.put_run(run.updated(status="error"))
        self._metrics.run_finished(run, "error")

    async def _execute(self, handle: RunHandle) -> None:
        run = handle.run.updated(status="running")
        await self._store.put_run(run)
        self._metrics.run_started(run)
        await self._broker.publish(run.run_id, "metadata", dumps({"run_id": run.run_id, "attempt": handle.attempt}))
        context = self._contexts.for_run(self._graphs.saver(run.tenant).key(run.thread_id), run.tenant, run.run_id)
        seen = _Seen()
        with journal_writes(handle.journal):  # the graph's task (and the nodes' tasks) copy it
            graph = self._stream(run, context, seen, handle.attempt)
            handle.task = asyncio.create_task(graph, name=f"orchestra-run-{run.run_id}")
        if handle.action is not None:  # cancelled while its status was being written
            handle.task.cancel()
        timer = asyncio.get_running_loop().call_later(self._timeout, handle.cancel, "timeout")
        stopping = False
        error: BaseException | None = None
        try:
            await asyncio.shield(handle.task)
        except asyncio.CancelledError:
            if not handle.task.done():  # this worker itself is being cancelled: stop the graph, then settle
                stopping = True
                handle.cancel(self._let_go)
                with contextlib.suppress(BaseException):
                    await handle.task
        except Exception as exc:
            error = exc
        finally:
            timer.cancel()
        if handle.task.cancelled() and handle.action is None:
            handle.action = self._let_go
        await self._settle(run, handle, error, seen)
        self._metrics.model_usage(run, context.usage)
        if stopping:
            raise asyncio.CancelledError

    async def discard(self, handle: RunHandle) -> None:
        """A run cancelled while it waited: interrupted, or gone with `rollback`; left `pending` at shutdown."""
        run = handle.run
        if handle.action in ("shutdown", "release"):
            return
        if handle.action == "rollback":
            await self._store.delete_run(run.tenant, run.run_id)
        else:
            await self._store.put_run(run.updated(status="interrupted"))
        await self._broker.close(run.run_id, RunOutcome("interrupted", b"{}"))
        self._metrics.run_finished(run, "interrupted")

    async def give_up(self, handle: RunHandle, message: str) -> None:
        """End a run without executing it again (its processes were lost too often): `error`, with `message`."""
        try:
            await self._settle(handle.run, handle, RuntimeError(message), _Seen())
        except Exception as exc:
            log.exception("run %s could not be settled", handle.run.run_id)
            await self._abandon(handle.run, exc)

    async def _stream(self, run: RunRecord, context: Any, seen: _Seen, attempt: int) -> None:
        attributes = {"orchestra.graph": run.graph_id, "orchestra.run_id": run.run_id,
                      "orchestra.thread_id": run.thread_id, "orchestra.attempt": attempt}  # fmt: skip
        with tracing.tracer().start_as_current_span(f"run {run.graph_id}", attributes=attributes):
            await self._traced_stream(run, context, seen, attempt)

    async def _traced_stream(self, run: RunRecord, context: Any, seen: _Seen, attempt: int) -> None:
        ephemeral = _ephemeral(run)
        if attempt > 1 and ephemeral:
            raise RuntimeError(STATELESS_LOST)
        # A stateless run whose thread goes when it ends writes no checkpoints, as in the LangGraph API.
        graph = self._graphs.base(run.graph_id) if ephemeral else self._graphs.for_tenant(run.graph_id, run.tenant)
        kwargs = run.kwargs
        config = _config(run)
        graph_input = _graph_input(kwargs)
        if attempt > 1 and await self._checkpointed(run):
            # Taken over after its process was lost: its input is in the thread already, so it continues from its
            # own last checkpoint (LangGraph re-runs only the step that was executing), not from where it began.
            config["configurable"].pop("checkpoint_id", None)
            graph_input = None
        else:
            await self._check_resume(run, graph, config)
        requested: list[str] = kwargs.get("stream_mode") or ["values"]
        translator = ChunkTranslator(requested)
        subgraphs = bool(kwargs.get("stream_subgraphs"))
        # A workflow runs as a subgraph: its progress (custom events) and a model's tokens (messages) are the run's
        # progress too, so they are streamed as the run's own even when the client did not ask for subgraphs.
        lifted = {"custom", "messages"} & set(graph_modes(requested)) if not subgraphs else set()
        first = True
        stream = graph.astream(
            graph_input, config, context=context,
            stream_mode=graph_modes([*requested, "values"]),
            subgraphs=subgraphs or bool(lifted), interrupt_before=kwargs.get("interrupt_before"),
            # "sync": each step's checkpoint is written before the next starts, so a crash never loses a finished
            # step. Not without a checkpointer: langgraph 1.2 then fails (AsyncPregelLoop._put_checkpoint_fut).
            durability=None if ephemeral else "sync",
            interrupt_after=kwargs.get("interrupt_after"),
        )  # fmt: skip
        async with contextlib.aclosing(stream):
            async for item in stream:
                namespace, mode, chunk = item if subgraphs or lifted else ((), *item)
                if namespace and not subgraphs:
                    if mode not in lifted:
                        continue
                    namespace = ()
                if mode == "values" and not namespace:
                    seen.values = chunk
                for event, payload in translator.translate(tuple(namespace), mode, chunk):
                    if first:
                        first = False
                        if attempt == 1:
                            self._metrics.first_event(run)
                    await self._broker.publish(run.run_id, event, dumps(payload))

    async def _checkpointed(self, run: RunRecord) -> bool:
        """Whether the thread's last checkpoint was written by this run."""
        saver = self._graphs.saver(run.tenant)
        last = await saver.aget_tuple({"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ""}})
        return last is not None and (last.metadata or {}).get("run_id") == run.run_id

    async def _check_resume(self, run: RunRecord, graph: Any, config: dict[str, Any]) -> None:
        """Refuse a resume whose interrupt was answered meanwhile, so two resumes of one interrupt never both run."""
        command = run.kwargs.get("command") or {}
        if "resume" not in command:
            return
        snapshot = await graph.aget_state({"configurable": {"thread_id": run.thread_id}})
        waiting = {i.id for task in snapshot.tasks for i in task.interrupts}
        expected = set(run.kwargs.get("resumes") or [])
        if not waiting or (expected and not expected & waiting):
            raise ResumeConflict(
                "no interrupt this run could answer is waiting on the thread (another run answered it first); read "
                "the thread's state and resume the interrupt it shows now"
            )

    async def _settle(self, run: RunRecord, handle: RunHandle, error: BaseException | None, seen: _Seen) -> None:
        action = handle.action
        if action == "release":  # another process resumes the run; its records and stream stay as they are
            log.info("run %s let go (%s); another server process resumes it", run.run_id, action)
            return
        if handle.current is not None and not await handle.current():
            log.warning("run %s was taken over by another server process; not recording this attempt's end",
                        run.run_id)  # fmt: skip
            return
        status = {"interrupt": "interrupted", "rollback": "interrupted", "timeout": "timeout",
                  "shutdown": "error"}.get(action or "", "error" if error else "success")  # fmt: skip
        if action == "timeout":
            error = TimeoutError(f"the run took longer than server.runs.timeout ({self._timeout:g}s)")
        elif action == "shutdown":
            error = RuntimeError(SERVER_STOPPED)
        if error is not None and action is None:
            log.warning("run %s of graph %s failed: %r", run.run_id, run.graph_id, error)
        failed = error is not None and action not in ("interrupt", "rollback")
        if _ephemeral(run):
            values, interrupts = normalized(seen.values if seen.values is not None else {}), {}
        else:
            values, interrupts = await self._record(run, action, status, error if failed else None, seen)
        if failed and error is not None:
            await self._broker.publish(run.run_id, "error", dumps(error_json(error)))
            result = dumps({"__error__": error_json(error)})
        else:
            flat = [i for found in interrupts.values() for i in found]
            result = dumps({**values, "__interrupt__": flat} if flat and isinstance(values, dict) else values)
        await self._broker.close(run.run_id, RunOutcome(status, result))
        self._metrics.run_finished(run, status, values)
        if run.temporary and run.kwargs.get("on_completion", "delete") == "delete":
            if not _ephemeral(run):
                await self._graphs.saver(run.tenant).adelete_thread(run.thread_id)
            await self._store.delete_thread(run.tenant, run.thread_id)
            await self._contexts.sessions.forget(self._graphs.saver(run.tenant).key(run.thread_id))

    async def _record(
        self, run: RunRecord, action: str | None, status: str, error: BaseException | None, seen: _Seen
    ) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
        """Write the run's end and the thread's new state into the records; returns the thread's values and
        pending interrupts."""
        graph = self._graphs.for_tenant(run.graph_id, run.tenant)
        if action == "rollback":
            await delete_run_checkpoints(self._graphs.saver(run.tenant), run.thread_id, run.run_id)
        if _finished_plainly(run, graph, action, error, seen):
            # The last values the stream carried are the last checkpoint's, and nothing waits: reading the
            # checkpoint back (deserialising the whole conversation) would only repeat them.
            values, interrupts, waiting = normalized(seen.values), {}, False
        else:
            snapshot = await graph.aget_state({"configurable": {"thread_id": run.thread_id}})
            values, interrupts = normalized(snapshot.values), pending_interrupts(snapshot)
            waiting = bool(snapshot.next or interrupts)
        async with self._locks.hold(run.tenant, run.thread_id):
            thread = await self._store.get_thread(run.tenant, run.thread_id, values=False)
            if thread is not None:
                thread = thread.updated(
                    values=values, values_loaded=True, interrupts=interrupts, state_updated_at=thread.updated_at,
                    status=await self._thread_status(run, error is not None, waiting),
                    error=error_json(error) if error is not None else None,
                )  # fmt: skip
            if action == "rollback":
                await self._store.delete_run(run.tenant, run.run_id)
                if thread is not None:
                    await self._store.put_thread(thread)
            else:
                await self._store.put_run(run.updated(status=status), thread)
        return values, interrupts

    async def _thread_status(self, run: RunRecord, failed: bool, waiting: bool) -> ThreadStatus:
        if await self._has_waiting((run.tenant, run.thread_id)):
            return "busy"
        if failed:
            return "error"
        return "interrupted" if waiting else "idle"


@dataclass
class _Seen:
    """What the executor keeps from a run's stream: its last state (a run without checkpoints has no other)."""

    values: Any = None


def _ephemeral(run: RunRecord) -> bool:
    """A stateless run whose temporary thread is deleted when it ends: nothing to checkpoint."""
    return run.temporary and run.kwargs.get("on_completion", "delete") == "delete"


def _finished_plainly(run: RunRecord, graph: Any, action: str | None, error: BaseException | None, seen: _Seen) -> bool:
    """The run ended by itself, without error or interrupt: its last streamed values are the thread's state."""
    static = run.kwargs.get("interrupt_before") or run.kwargs.get("interrupt_after")
    compiled = getattr(graph, "interrupt_before_nodes", None) or getattr(graph, "interrupt_after_nodes", None)
    plain_values = isinstance(seen.values, dict) and "__interrupt__" not in seen.values
    return action is None and error is None and plain_values and not static and not compiled


def _graph_input(kwargs: dict[str, Any]) -> Any:
    command = kwargs.get("command")
    if not command:
        return kwargs.get("input")
    goto = command.get("goto")
    return Command(update=command.get("update"), resume=command.get("resume"), goto=goto if goto is not None else ())


def _reserved(key: str) -> bool:
    """Configurable keys LangGraph keeps for itself (`__pregel_checkpointer`, `checkpoint_map`, ...): one sent by a
    client would replace what the server gives the graph (its tenant's checkpointer, the run's scratchpad)."""
    return key.startswith("__") or key == "checkpoint_map"


def _config(run: RunRecord) -> dict[str, Any]:
    """The graph's config: the client's, with the thread, the run and the checkpoint to start from."""
    client = dict(run.kwargs.get("config") or {})
    configurable = {key: value for key, value in {**(client.get("configurable") or {}),
                    **(run.kwargs.get("context") or {})}.items() if not _reserved(key)}  # fmt: skip
    configurable.update(thread_id=run.thread_id, run_id=run.run_id, graph_id=run.graph_id,
                        assistant_id=run.assistant_id)  # fmt: skip
    checkpoint = run.kwargs.get("checkpoint") or {}
    if checkpoint_id := run.kwargs.get("checkpoint_id") or checkpoint.get("checkpoint_id"):
        configurable["checkpoint_id"] = checkpoint_id
    if "checkpoint_ns" in checkpoint:
        configurable["checkpoint_ns"] = checkpoint["checkpoint_ns"]
    metadata = {**(client.get("metadata") or {}), **run.metadata, "run_id": run.run_id, "thread_id": run.thread_id,
                "graph_id": run.graph_id, "assistant_id": run.assistant_id}  # fmt: skip
    config: dict[str, Any] = {"configurable": configurable, "metadata": metadata, "run_id": uuid.UUID(run.run_id)}
    for key in ("recursion_limit", "tags", "max_concurrency"):
        if key in client:
            config[key] = client[key]
    return config
