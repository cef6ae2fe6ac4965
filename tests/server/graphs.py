"""Small graphs for the server tests, compiled with StateGraph: each shows one behaviour a client relies on."""

from __future__ import annotations

import asyncio
import operator
import os
from pathlib import Path
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict  # pydantic describes only these on Python 3.11 (assistant schemas)

from orchestra.core.writes import before_external_write


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def _echo(state: Chat) -> Chat:
    """Answers the last message with its text, so a client sees its input come back."""
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"echo: {last.content}", id=f"echo-{len(state['messages'])}")]}


def echo() -> CompiledStateGraph:
    graph = StateGraph(Chat)
    graph.add_node("echo", _echo)
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph.compile(name="echo")


class Approval(TypedDict, total=False):
    request: str
    decision: Any
    log: Annotated[list[str], operator.add]


def _prepare(state: Approval) -> Approval:
    return {"log": [f"prepared {state['request']}"]}


def _approve(state: Approval) -> Approval:
    decision = interrupt({"question": f"approve {state['request']}?"})
    return {"decision": decision, "log": [f"decided {decision}"]}


def approval() -> CompiledStateGraph:
    """Pauses for a human decision with `interrupt()`; a `Command(resume=...)` carries the answer."""
    graph = StateGraph(Approval)
    graph.add_node("prepare", _prepare)
    graph.add_node("approve", _approve)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "approve")
    graph.add_edge("approve", END)
    return graph.compile(name="approval")


class Progress(TypedDict, total=False):
    steps: int
    done: Annotated[list[int], operator.add]


async def _work(state: Progress) -> Progress:
    """Emits one `custom` event per step, and streams a chat message token by token (`messages` modes)."""
    write = get_stream_writer()
    for step in range(state.get("steps", 3)):
        write({"step": step, "of": state.get("steps", 3)})
    return {"done": list(range(state.get("steps", 3)))}


def progress() -> CompiledStateGraph:
    graph = StateGraph(Progress)
    graph.add_node("work", _work)
    graph.add_edge(START, "work")
    graph.add_edge("work", END)
    return graph.compile(name="progress")


class Gate(TypedDict, total=False):
    label: str
    steps: Annotated[list[str], operator.add]


# Runs of `gated` announce in REACHED that they wait, then wait in GATES until a test opens the gate: cancel and
# multitask tests stay deterministic without sleeps (the server runs in the tests' event loop).
GATES: dict[str, asyncio.Event] = {}
REACHED: dict[str, asyncio.Event] = {}


def gate(label: str, *, open_: bool = False) -> tuple[asyncio.Event, asyncio.Event]:
    """The (reached, gate) events of runs labelled `label`; `open_` lets them through at once."""
    reached, opened = REACHED.setdefault(label, asyncio.Event()), GATES.setdefault(label, asyncio.Event())
    if open_:
        opened.set()
    return reached, opened


async def _first(state: Gate) -> Gate:
    return {"steps": [f"{state['label']}:first"]}


async def _blocked(state: Gate) -> Gate:
    reached, opened = gate(state["label"])
    reached.set()
    await opened.wait()
    return {"steps": [f"{state['label']}:second"]}


def gated() -> CompiledStateGraph:
    """Writes a first step, then waits on `GATES[label]` before its second: a run that is busy for as long as the
    test wants, with one checkpoint written."""
    graph = StateGraph(Gate)
    graph.add_node("first", _first)
    graph.add_node("blocked", _blocked)
    graph.add_edge(START, "first")
    graph.add_edge("first", "blocked")
    graph.add_edge("blocked", END)
    return graph.compile(name="gated")


async def _reply(state: Chat) -> Chat:
    """Answers through a chat model that streams its reply token by token (LangChain's scripted fake model),
    so the `messages` stream modes carry real message chunks."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello there friend", id="reply-1")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


def chat() -> CompiledStateGraph:
    graph = StateGraph(Chat)
    graph.add_node("reply", _reply)
    graph.add_edge(START, "reply")
    graph.add_edge("reply", END)
    return graph.compile(name="chat")


def _metered(state: Chat, runtime: Runtime[Any]) -> Chat:
    """Counts one model call into the run's usage, as the LLM layer does (`RunContext.usage`)."""
    runtime.context.usage.add("scripted/model", 12, 3, 0.0042)
    return {"messages": [AIMessage(content="metered", id="metered-1")]}


def metered() -> CompiledStateGraph:
    graph = StateGraph(Chat)
    graph.add_node("answer", _metered)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph.compile(name="metered")


def nested() -> CompiledStateGraph:
    """The echo graph as a node of a parent graph: its events carry the subgraph's namespace."""
    graph = StateGraph(Chat)
    graph.add_node("inner", echo())
    graph.add_edge(START, "inner")
    graph.add_edge("inner", END)
    return graph.compile(name="nested")


# Graphs for the tests with several server processes (test_scale_out.py), which share no asyncio events: a run writes
# its process id to `<folder>/<label>.reached` when it gets to its waiting node, then waits for `<folder>/<label>.open`
# to exist (the test creates it).


class Held(TypedDict, total=False):
    label: str
    folder: str
    hold: str  # ledger: the node that waits, "write" (after its write) or "after"
    steps: Annotated[list[str], operator.add]
    finished_by: int


async def _wait_at_the_gate(state: Held) -> None:
    folder, label = Path(state["folder"]), state["label"]
    await asyncio.to_thread((folder / f"{label}.reached").write_text, str(os.getpid()))
    gate = folder / f"{label}.open"
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(gate.exists):
            await asyncio.sleep(0.02)


async def _held_first(state: Held) -> Held:
    return {"steps": [f"{state['label']}:first"]}


async def _held_second(state: Held) -> Held:
    await _wait_at_the_gate(state)
    return {"steps": [f"{state['label']}:second"], "finished_by": os.getpid()}


def held() -> CompiledStateGraph:
    """`gated` across processes: a first step (checkpointed), then a second that waits for its gate file."""
    graph = StateGraph(Held)
    graph.add_node("first", _held_first)
    graph.add_node("second", _held_second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    return graph.compile(name="held")


def ledger_lines(folder: Path, label: str) -> list[str]:
    """The writes `ledger` runs labelled `label` made, one line each (the process id that made it)."""
    path = folder / f"{label}.ledger"
    return path.read_text().splitlines() if path.exists() else []


def _append(path: Path, line: str) -> None:
    with path.open("a") as ledger:
        ledger.write(line + "\n")


async def _ledger_prepare(state: Held) -> Held:
    return {"steps": ["prepare"]}


async def _write(state: Held) -> Held:
    """Changes external state (appends a line to the ledger file), announced first as every such call must be."""
    await before_external_write("the ledger append")
    await asyncio.to_thread(_append, Path(state["folder"]) / f"{state['label']}.ledger", str(os.getpid()))
    if state.get("hold") == "write":
        await _wait_at_the_gate(state)
    return {"steps": ["write"]}


async def _after(state: Held) -> Held:
    if state.get("hold") == "after":
        await _wait_at_the_gate(state)
    return {"steps": ["after"], "finished_by": os.getpid()}


def ledger() -> CompiledStateGraph:
    """prepare -> write (one counted write) -> after; the node named by `hold` waits at the gate, so a test can kill
    the process executing the run while the write's node, or the node after it, is running."""
    graph = StateGraph(Held)
    graph.add_node("prepare", _ledger_prepare)
    graph.add_node("write", _write)
    graph.add_node("after", _after)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "write")
    graph.add_edge("write", "after")
    graph.add_edge("after", END)
    return graph.compile(name="ledger")


def all_graphs() -> dict[str, CompiledStateGraph]:
    return {
        "echo": echo(),
        "approval": approval(),
        "progress": progress(),
        "gated": gated(),
        "chat": chat(),
        "nested": nested(),
        "metered": metered(),
        "held": held(),
        "ledger": ledger(),
    }
