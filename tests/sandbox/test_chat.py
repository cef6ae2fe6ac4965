"""Conversations: chat input, follow-ups that build on the thread, progress as custom events, approvals by answer.

Offline, through the real gateway and sandbox; the graphs run as a chat server runs them (messages in, an AI
message out, the thread's state kept by a checkpointer).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from orchestra.core.settings import load_settings
from orchestra.graphs.approvals import read_decision
from orchestra.graphs.context import ServedContexts
from orchestra.graphs.supervisor import build_graph
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


class Chat:
    """One thread of the supervisor, the way a chat server drives it."""

    def __init__(self, sandbox: Sandbox, contexts: ServedContexts, thread: str) -> None:
        self.graph = build_graph().compile(checkpointer=InMemorySaver())
        self.contexts, self.thread = contexts, thread
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread}}

    async def send(self, payload: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run one input (a message, or a Command resuming an interrupt); the state after it and its events."""
        events: list[dict[str, Any]] = []
        context = self.contexts.for_run(self.thread)
        async for _, event in self.graph.astream(
            payload, self.config, context=context, stream_mode="custom", subgraphs=True
        ):
            events.append(event)
        return (await self.graph.aget_state(self.config)).values, events

    async def say(self, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return await self.send({"messages": [{"role": "user", "content": text}]})


@pytest.fixture
async def contexts(sandbox: Sandbox) -> Any:
    settings = load_settings(ROOT / "config" / "orchestra.yaml")
    settings = settings.model_copy(update={"data_dir": sandbox.paths.root.parent})
    served = await ServedContexts.create(settings, {"PATH": "/usr/bin:/bin"}, sandbox.gateway_url, {})
    yield served
    await served.aclose()


async def test_a_chat_message_gets_an_ai_answer_and_a_follow_up_builds_on_it(
    sandbox: Sandbox, contexts: ServedContexts
) -> None:
    world = sandbox.world
    first, other = world.companies[12], world.companies[40]
    chat = Chat(sandbox, contexts, "chat-follow-up")
    state, events = await chat.say(f"Research {first.name} for our sales call tomorrow")
    human, answer = state["messages"][-2:]
    assert isinstance(human, HumanMessage)
    assert isinstance(answer, AIMessage)
    assert answer.content.startswith(f"# Sales brief: {first.name} ({first.domain})")
    meta = answer.response_metadata["orchestra"]
    assert meta["triage"]["workflow"] == "sales_intelligence_research"
    assert meta["report_path"].endswith(".md")
    assert meta["evidence"][0]["tool"] == "enrichment.enrich_organization"
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["turn", "triage"]
    tools = [e for e in events if e["event"] == "tool"]
    assert tools[0]["phase"] == "start"
    assert {e["phase"] for e in tools} == {"start", "end"}
    assert state["known"]["companies"][0]["domain"] == first.domain
    ids = [e["id"] for e in state["evidence"]]
    assert ids == [f"E{n}" for n in range(1, len(ids) + 1)]  # one ledger, each call once

    state, events = await chat.say(f"now compare them with {other.name}")
    reply = state["messages"][-1]
    assert state["triage"]["workflow"] == "competitive_analysis"
    assert state["task"] == f"now compare {first.name} with {other.name}"
    assert "“them” is " + first.name in reply.content
    for company in (first, other):
        assert company.name in reply.content
        assert f"{company.employees:,}" in reply.content or str(company.employees) in reply.content
    reused = [e for e in events if e["event"] == "tool" and e.get("reused")]
    assert reused  # the first company's enrichment was not fetched again
    assert "Reused from earlier in this conversation" in reply.content
    assert len([m for m in state["messages"] if isinstance(m, AIMessage)]) == 2
    ids = [e["id"] for e in state["evidence"]]
    assert ids == [f"E{n}" for n in range(1, len(ids) + 1)]

    third = world.companies[55]
    state, _ = await chat.say(f"and with {third.name.lower()}?")  # one more, named in lowercase
    reply = state["messages"][-1]
    assert state["task"] == f"compare {first.name} and {other.name} with {third.name.lower()}"
    assert state["triage"]["workflow"] == "competitive_analysis"
    for company in (first, other, third):
        assert company.name in reply.content
        assert f"{company.employees:,}" in reply.content

    state, _ = await chat.say("what about their pricing pages?")  # every company of the comparison, read offline
    reply = state["messages"][-1]
    for company in (first, other, third):
        assert f"/sites/{company.domain}/pricing/" in reply.content
        assert company.plans[-1].name in reply.content


async def test_a_design_follow_up_deploys_it_after_an_approval_given_as_plain_words(
    sandbox: Sandbox, contexts: ServedContexts
) -> None:
    chat = Chat(sandbox, contexts, "chat-deploy")
    state, events = await chat.say("Deploy the pricing page from Figma")
    approval = next(e for e in events if e["event"] == "approval")
    assert approval["tool"] == "deploy.deploy"
    snapshot = await chat.graph.aget_state(chat.config, subgraphs=True)
    asked = next(i.value for t in snapshot.tasks for i in t.interrupts)
    assert asked["arguments"]["project"]
    assert asked["response_schema"]["properties"]["action"]["enum"] == ["approve", "edit", "reject"]
    state, events = await chat.send(Command(resume="approve"))
    assert state["approvals"][-1]["decision"] == "approve"
    assert "## Deployment" in state["answer"]
    assert state["facts"]["deployment"]["url"].startswith(sandbox.host_url)
    assert state["known"]["deployments"][0]["url"] == state["facts"]["deployment"]["url"]

    state, events = await chat.say("deploy it again, please")
    assert state["triage"]["workflow"] == "design_to_deployment"
    state, _ = await chat.send(Command(resume="maybe later"))  # unreadable: asked again, nothing decided
    snapshot = await chat.graph.aget_state(chat.config, subgraphs=True)
    again = next(i.value for t in snapshot.tasks for i in t.interrupts)
    assert again["problem"].startswith("the answer could not be read")
    assert not state.get("approvals")
    state, _ = await chat.send(Command(resume={"action": "reject", "reason": "not before the launch"}))
    assert "rejected by user (not before the launch)" in state["answer"]


@pytest.mark.parametrize(
    ("answer", "action", "reason"),
    [
        ("approve", "approve", None),
        (" Reject ", "reject", None),
        ({"action": "edit", "arguments": {"project": "p2"}}, "edit", None),
        ({"type": "reject", "message": "no"}, "reject", "no"),
        ({"action": "edit"}, "reject", "an edit needs `arguments`; nothing was changed"),
        ({"action": "ship it"}, "reject", "the answer could not be read"),
        (42, "reject", "the answer could not be read"),
        ("yes please", "approve", None),  # what a chat user types
        ("OK", "approve", None),
        ("no, wrong page", "reject", "no, wrong page"),
        ("maybe later", "reject", "the answer could not be read"),
    ],
)
def test_approval_answers_are_read_strictly(answer: Any, action: str, reason: str | None) -> None:
    decision = read_decision(answer)
    assert decision.action == action
    assert (decision.reason or "").startswith(reason or "")
    assert decision.unreadable == (reason == "the answer could not be read")


async def test_draft_the_email_to_their_cto_finds_the_cto_of_the_company_the_thread_is_about(
    sandbox: Sandbox, contexts: ServedContexts
) -> None:
    world = sandbox.world
    company = next(c for c in world.companies
                   if any(p.title == "Chief Technology Officer" for p in world.people_at(c.id)))  # fmt: skip
    cto = next(p for p in world.people_at(company.id) if p.title == "Chief Technology Officer")
    chat = Chat(sandbox, contexts, "chat-cto")
    await chat.say(f"Research {company.domain} for our sales call")
    state, _ = await chat.say("draft the email to their CTO")
    reply = state["messages"][-1].content
    assert f"**{cto.name}**, Chief Technology Officer, email {cto.email}" in reply
    assert "Writing the message needs a model" in reply  # offline: who to write to, not a made-up draft
    assert "no contact named" not in reply
