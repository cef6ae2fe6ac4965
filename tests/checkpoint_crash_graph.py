"""Small real LangGraph graphs run in their own process by tests/test_checkpoint.py, so a run can die and resume.

    python tests/checkpoint_crash_graph.py GRAPH ACTION --work DIR --data-dir DIR [--redis-url URL] [--resume VALUE]

GRAPH `crash`: one -> two -> three; the first time `two` runs it calls os._exit(1) (a marker file remembers it).
GRAPH `interrupt`: prepare -> review (a subgraph whose node `ask` calls interrupt()) -> finish.
ACTION `start` runs from fresh input, `resume` continues the thread (`None`, or `Command(resume=VALUE)`).
Every node execution is appended to DIR/executions.log; where the thread stood before and after the run is
printed as one JSON line. The checkpointer comes from `open_checkpointer`, as in Orchestra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from orchestra.core.checkpoint import open_checkpointer

THREAD_ID = "crash-test-thread"


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    answer: str


class ReviewState(TypedDict, total=False):
    """The subgraph shares only `answer` with its parent, so the parent's log is not handed back and doubled."""

    answer: str


def _record(work: Path, node: str) -> None:
    with (work / "executions.log").open("a", encoding="utf-8") as log:
        log.write(node + "\n")


def build(graph: str, work: Path) -> StateGraph[Any]:
    builder: StateGraph[Any] = StateGraph(State)

    def step(name: str) -> Any:
        async def run(state: State) -> dict[str, list[str]]:
            _record(work, name)
            if name == "two" and not (work / "crashed").exists():
                (work / "crashed").touch()
                os._exit(1)  # the process dies mid-run, as on a kill -9 or a power cut
            return {"log": [name]}

        return run

    if graph == "crash":
        for name in ("one", "two", "three"):
            builder.add_node(name, step(name))
        builder.add_edge(START, "one")
        builder.add_edge("one", "two")
        builder.add_edge("two", "three")
        builder.add_edge("three", END)
        return builder

    async def ask(state: ReviewState) -> ReviewState:
        _record(work, "ask")
        return {"answer": interrupt({"question": "ship it?"})}

    review: StateGraph[Any] = StateGraph(ReviewState)
    review.add_node("ask", ask)
    review.add_edge(START, "ask")
    review.add_edge("ask", END)
    builder.add_node("prepare", step("prepare"))
    builder.add_node("review", review.compile())
    builder.add_node("finish", step("finish"))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "review")
    builder.add_edge("review", "finish")
    builder.add_edge("finish", END)
    return builder


async def state(graph: CompiledStateGraph[Any], config: Any) -> dict[str, Any]:
    snapshot = await graph.aget_state(config)
    return {
        "next": list(snapshot.next),
        "values": snapshot.values,
        "interrupts": [i.value for task in snapshot.tasks for i in task.interrupts],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    async with open_checkpointer(Path(args.data_dir), args.redis_url) as saver:
        graph: CompiledStateGraph[Any] = build(args.graph, work).compile(checkpointer=saver)
        config: Any = {"configurable": {"thread_id": THREAD_ID}}
        before = await state(graph, config)
        pending: Any = {"log": []} if args.action == "start" else None
        if args.resume is not None:
            pending = Command(resume=args.resume)
        # "sync": each checkpoint is stored before the next step starts, so a crash loses no finished step.
        await graph.ainvoke(pending, config, durability="sync")
        return {"before": before, "after": await state(graph, config)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("graph", choices=["crash", "interrupt"])
    parser.add_argument("action", choices=["start", "resume"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--resume")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
