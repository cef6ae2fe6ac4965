"""Small graphs for the server tests, compiled with StateGraph: each shows one behaviour a client relies on."""

from __future__ import annotations

import asyncio
import operator
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


def all_graphs() -> dict[str, CompiledStateGraph]:
    return {
        "echo": echo(),
        "approval": approval(),
        "progress": progress(),
        "gated": gated(),
        "chat": chat(),
        "nested": nested(),
        "metered": metered(),
    }
